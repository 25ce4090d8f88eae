"""The container files, checked without a Docker daemon: compose's services, health checks and commands,
and the image's command identical to the one the wheel smoke test runs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.wheel_smoke import SERVE_COMMAND

REPO_ROOT = Path(__file__).resolve().parents[1]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (REPO_ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    last_from = max(index for index, (name, _) in enumerate(instructions) if name == "FROM")
    return instructions[last_from:]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO_ROOT / "compose.yaml").read_text())


def test_image_command_is_the_smoke_tests_command() -> None:
    (cmd,) = [json.loads(arguments) for name, arguments in final_stage() if name == "CMD"]
    assert cmd == SERVE_COMMAND == ["postmortem-bot", "serve", "--host", "0.0.0.0"]


def test_image_is_slim_runs_as_a_user_and_installs_the_wheel() -> None:
    stage = final_stage()
    assert re.fullmatch(r"python:3\.1[1-9]-slim", stage[0][1])
    users = [arguments for name, arguments in stage if name == "USER"]
    assert users and users[-1] not in {"root", "0"}
    assert any(name == "RUN" and "pip install" in arguments and ".whl" in arguments for name, arguments in stage)
    assert not any(name == "COPY" and arguments.split()[0] in {".", "./"} for name, arguments in stage)  # no source tree


def test_image_healthcheck_asks_healthz() -> None:
    (check,) = [arguments for name, arguments in final_stage() if name == "HEALTHCHECK"]
    assert "CMD" in check and "/healthz" in check and "--timeout=" in check


def test_compose_services_and_their_order(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "migrate", "bot", "proxy"}
    assert services["migrate"]["command"] == ["postmortem-bot", "db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    bot = services["bot"]
    assert "command" not in bot  # the image's CMD, i.e. SERVE_COMMAND
    assert bot["deploy"]["replicas"] == 2
    assert bot["depends_on"] == {"postgres": {"condition": "service_healthy"},
                                 "migrate": {"condition": "service_completed_successfully"}}
    assert "ports" not in bot  # reachable only through the proxy
    assert services["proxy"]["depends_on"] == {"bot": {"condition": "service_healthy"}}
    assert len(services["proxy"]["ports"]) == 1


def test_compose_bot_and_migration_share_one_database_and_its_secrets(compose: dict[str, Any]) -> None:
    bot, migrate = compose["services"]["bot"], compose["services"]["migrate"]
    assert bot["environment"] == migrate["environment"]
    assert bot["environment"]["DATABASE_URL"].startswith("postgresql+psycopg://postmortem:")
    assert bot["environment"]["DATABASE_URL"].endswith("@postgres:5432/postmortem")
    # Secrets come from the environment, never from the file.
    assert bot["environment"]["SLACK_BOT_TOKEN"].startswith("${SLACK_BOT_TOKEN")
    assert bot["environment"]["SLACK_SIGNING_SECRET"].startswith("${SLACK_SIGNING_SECRET")


def test_compose_health_checks(compose: dict[str, Any]) -> None:
    postgres = compose["services"]["postgres"]["healthcheck"]
    assert postgres["test"][0] == "CMD-SHELL" and "pg_isready" in postgres["test"][1]
    assert "/healthz" in " ".join(compose["services"]["proxy"]["healthcheck"]["test"])


def test_proxy_config_is_mounted_and_balances_the_bot_service(compose: dict[str, Any]) -> None:
    (mount,) = compose["services"]["proxy"]["volumes"]
    source = mount.split(":")[0]
    config = (REPO_ROOT / source).read_text()
    assert re.search(r"server bot:3000 resolve;", config)
    assert "proxy_pass http://postmortem_bot;" in config
    assert "client_max_body_size 1m;" in config
