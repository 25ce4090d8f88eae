"""`postmortem-bot demo`: the real app (its Bolt listeners, services, database code and reminder dispatcher) on a
temporary SQLite database, against the Slack double, playing a security post-mortem from report to close."""

from __future__ import annotations

import tempfile
import time
import warnings
from pathlib import Path
from typing import TextIO

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from bot.clock import FrozenClock
from bot.demo import story
from bot.demo.outputs import Output, Played, write_outputs
from bot.demo.serving import serving
from bot.demo.signed_requests import SIGNING_SECRET, SlackSim
from bot.demo.transcript import Transcript
from bot.reminders.dispatcher import start_scheduler
from bot.runtime import build_runtime
from bot.settings import Settings
from bot.slack.double import BOT_TOKEN, FakeSlack
from models.db import upgrade

# The dispatcher wakes this often; the story's clock jumps days, so a reminder fires within a fraction of a second.
TICK_SECONDS = 0.2


class DemoSettings(Settings):
    """Settings from the demo alone. Someone who runs the real bot keeps its tokens, database, MISP, channels and
    reminder plan in the environment or a .env file: the demo must not post to, push to or plan by them."""

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)  # pydantic-settings' names for the sources; only the first one counts here


def play(*, output_dir: Path, out: TextIO) -> list[tuple[Output, Path]]:
    """Play the story, writing the transcript to `out` and the files to `output_dir`; returns the files written.
    A step that does not happen raises AssertionError naming what it waited for."""
    started = time.monotonic()
    out.write("postmortem-bot demo: the real app against a Slack double, on a temporary SQLite database.\n")
    with warnings.catch_warnings():
        # Without Slack's specs (a developer's checkout has them next to the repository) the double skips its
        # schema checks and says so: the test suite's business, not someone trying the bot.
        warnings.simplefilter("ignore")
        double = FakeSlack().start()
    try:
        story.add_people(double)
        with tempfile.TemporaryDirectory(prefix="postmortem-demo-") as work:
            settings = DemoSettings(
                SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET,
                SLACK_API_URL=double.api_url, DATABASE_URL=f"sqlite:///{Path(work) / 'demo.db'}",
                SCHEDULER_TICK_SECONDS=TICK_SECONDS,
            )
            clock = FrozenClock(story.STORY_STARTS)
            runtime = build_runtime(settings, clock=clock)
            upgrade(runtime.engine)
            with serving(runtime) as app_url:
                dispatcher = start_scheduler(runtime)
                transcript = Transcript(double, out)
                transcript.say(f"The story's clock starts on {story.STORY_STARTS:%a %d %b %Y %H:%M} UTC, the day after "
                               "the incident; it jumps ahead where the story waits for days.")
                stage = story.Stage(double=double, slack=SlackSim(app_url, double), clock=clock, runtime=runtime,
                                    transcript=transcript)
                try:
                    for number, (title, step) in enumerate(story.STEPS, start=1):
                        transcript.progress(number, len(story.STEPS), title)
                        step(stage)
                finally:
                    dispatcher.stop()
                played = Played(double=double, runtime=runtime, postmortem_id=stage.postmortem_id,
                                channel_id=stage.channel, summary=stage.seen["summary"])
                written = write_outputs(played, output_dir)
    finally:
        double.stop()
    out.write(f"\nDone in {time.monotonic() - started:.1f} s. The files:\n")
    for output, path in written:
        out.write(f"  {path}  {output.what}\n")
    return written
