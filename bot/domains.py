"""Every domain, loaded when a process builds its runtime (bot.runtime.build_runtime).

Loading a domain lets it register what a lower domain looks up from it: its reminder senders
(bot.reminders.senders), its steps after a post-mortem's set-up (bot.postmortems.provisioning).
A domain that starts registering either is added here.
"""

from __future__ import annotations

import importlib

REGISTERING_MODULES = ("bot.actions.flows", "bot.meetings.flows", "bot.monitoring.flows", "bot.notes.questionnaire_flows",
                       "bot.reports.flows")


def load_all() -> None:
    for module in REGISTERING_MODULES:
        importlib.import_module(module)
