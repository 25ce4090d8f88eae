"""The code's layers and domains depend one way (see README, "How it is built")."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

from bot import domains
from bot.actions import service as actions
from bot.meetings import service as meetings
from bot.monitoring import service as monitoring
from bot.reminders import senders
from bot.reports import flows as report_flows

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def domain_packages() -> list[str]:
    return sorted(p.name for p in (ROOT / "bot").iterdir() if (p / "__init__.py").exists())


def test_domains_depend_one_way() -> None:
    packages = domain_packages()
    graph: dict[str, set[str]] = {package: set() for package in packages}
    for package in packages:
        for path in (ROOT / "bot" / package).rglob("*.py"):
            for module in imported_modules(path):
                parts = module.split(".")
                if parts[0] == "bot" and len(parts) > 1 and parts[1] in graph and parts[1] != package:
                    graph[package].add(parts[1])
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as cycle:
        pytest.fail(f"domains import each other in a cycle: {' -> '.join(cycle.args[1])}")


# bot/app.py, cli.py and server.py are the composition root: they wire handlers to the app.
@pytest.mark.parametrize("layer, forbidden", [("bot/*", "handlers"), ("models", "bot"), ("models", "handlers")])
def test_lower_layers_never_import_higher_ones(layer: str, forbidden: str) -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for folder in ROOT.glob(layer) if folder.is_dir()
        for path in folder.rglob("*.py")
        for module in imported_modules(path)
        if module == forbidden or module.startswith(forbidden + ".")
    ]
    assert offenders == []


def test_every_reminder_kind_has_a_sender_once_the_domains_are_loaded() -> None:
    domains.load_all()
    kinds = {meetings.CHANNEL_REMINDER, meetings.DM_REMINDER, actions.BEFORE_DUE, actions.AT_DUE, actions.OVERDUE,
             actions.ESCALATION, monitoring.SIGHTING_NOTICE, monitoring.CHECKIN, monitoring.MISP_SIGHTING,
             report_flows.MISP_PUSH}
    assert kinds <= set(senders.registered())


def test_a_kind_cannot_get_a_second_sender() -> None:
    with pytest.raises(RuntimeError, match="two senders"):
        senders.sends(actions.ESCALATION)(lambda runtime, reminder: None)  # type: ignore[arg-type,return-value]
