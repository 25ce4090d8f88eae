"""A stateful fake of Slack's Web API for tests; see `server.FakeSlack`."""

from tests.fake_slack.server import SPECS_DIR, FakeSlack, specs_available

__all__ = ["FakeSlack", "SPECS_DIR", "specs_available"]
