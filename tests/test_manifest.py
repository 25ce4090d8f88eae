"""manifest.yml against Slack's manifest schema, and its scopes against every Web API method the code calls."""

from __future__ import annotations

import ast
import inspect
import json
import re

import pytest
import yaml
from jsonschema import Draft7Validator
from slack_sdk import WebClient

from tests.conftest import REPO_ROOT
from tests.fake_slack import SPECS_DIR, specs_available

needs_specs = pytest.mark.skipif(
    not specs_available(), reason=f"Slack specs not found at {SPECS_DIR} (../shared is absent in a bare clone)"
)
MANIFEST = yaml.safe_load((REPO_ROOT / "manifest.yml").read_text())
GATEWAY = REPO_ROOT / "bot" / "slack" / "gateway.py"


def web_api_methods_called() -> set[str]:
    """Every Web API method the gateway calls, following slack_sdk helpers such as files_upload_v2."""
    tree = ast.parse(GATEWAY.read_text())
    methods: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "_call":
            methods.add(node.args[0].value)  # type: ignore[attr-defined]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and hasattr(WebClient, node.func.attr) \
                and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "web_client":
            methods |= _methods_behind(node.func.attr)
    return methods


def _methods_behind(python_name: str, seen: frozenset[str] = frozenset()) -> set[str]:
    source = inspect.getsource(getattr(WebClient, python_name))
    found = set(re.findall(r'api_call\(\s*"([\w.]+)"', source))
    for helper in set(re.findall(r"self\.(\w+_\w+)\(", source)) - seen:
        if hasattr(WebClient, helper) and helper != python_name:
            found |= _methods_behind(helper, seen | {python_name})
    return found


@needs_specs
def test_manifest_matches_slacks_schema() -> None:
    schema = json.loads((SPECS_DIR / "manifest.schema.json").read_text())
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in Draft7Validator(schema).iter_errors(MANIFEST)]
    assert errors == []


@needs_specs
def test_bot_scopes_cover_every_method_called() -> None:
    granted = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    methods = web_api_methods_called()
    assert {"chat.postMessage", "conversations.create", "users.info", "pins.add"} <= methods
    uncovered = {}
    for method in sorted(methods):
        spec = json.loads((SPECS_DIR / "methods" / f"{method}.json").read_text())
        needed = set(spec["scope"].get("bot") or [])
        if needed and not needed & granted:
            uncovered[method] = sorted(needed)
    assert uncovered == {}


def test_slash_command_in_manifest_is_the_one_handled() -> None:
    from handlers.router import COMMAND

    assert [c["command"] for c in MANIFEST["features"]["slash_commands"]] == [COMMAND]


def test_only_the_gateway_talks_to_slack() -> None:
    offenders = []
    for path in list((REPO_ROOT / "bot").rglob("*.py")) + list((REPO_ROOT / "handlers").rglob("*.py")):
        if path == GATEWAY:
            continue
        text = path.read_text()
        if re.search(r"\bWebClient\b|\bWebhookClient\b|\bclient\.\w+\(|(?<![.\w])respond\(", text):
            offenders.append(str(path.relative_to(REPO_ROOT)))
    assert offenders == []
