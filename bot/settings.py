"""Configuration from the environment or a `.env` file.

A missing or malformed setting is reported as one line naming the variable and the expected
shape; secrets are never echoed back.
"""

from __future__ import annotations

import re
from datetime import time, timedelta

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# What each variable should look like, shown when it is missing or malformed.
EXPECTED_SHAPE = {
    "SLACK_BOT_TOKEN": "the bot token from your Slack app's OAuth page, starting with xoxb-",
    "SLACK_APP_TOKEN": "an app-level token with the connections:write scope, starting with xapp-",
    "SLACK_SIGNING_SECRET": "the signing secret from your Slack app's Basic Information page",
    "SLACK_API_URL": "an http(s) URL ending with /, e.g. https://slack.com/api/",
    "DATABASE_URL": "a SQLAlchemy URL, e.g. sqlite:///postmortem.db or postgresql+psycopg://user@host/db",
    "WORKING_HOURS": "a range like 09:00-17:00",
    "WORKING_DAYS": "a day range or list like mon-fri or sun-thu or mon,tue,wed",
    "RECOVERY_GAP_HOURS": "a number of hours, e.g. 24",
    "SCHEDULER_TICK_SECONDS": "a number of seconds, e.g. 30",
    "SLACK_MAX_RETRY_AFTER": "a number of seconds, e.g. 60",
    "MEETING_REMINDERS": "durations before the meeting like 24h,15m",
    "LOG_LEVEL": "one of DEBUG, INFO, WARNING, ERROR",
    "LOG_FORMAT": "json or text",
    "REPORT_SUMMARY_CHANNEL": "a channel ID like C0123456789",
    "ESCALATION_CHANNEL": "a channel ID like C0123456789",
    "ACTION_REMINDERS": "durations before the due moment like 3d,1d or 90m",
    "ACTION_OVERDUE_EVERY": "a duration like 2d",
    "ACTION_ESCALATE_AFTER": "a duration like 5d",
    "MISP_URL": "your MISP's base URL, e.g. https://misp.example.org/",
    "MISP_KEY": "a MISP automation key (the user's Auth key)",
    "MISP_VERIFY_TLS": "true or false",
    "MONITOR_DAYS": "a number of days, e.g. 30",
    "MONITOR_CHANNELS": "channel IDs separated by commas, like C0123456789,G0123456789",
    "MONITOR_CHECKINS": "durations after the close like 1d,7d,30d",
    "SECURITY_LEADS": "a Slack user group ID like S0123456789",
}

_DURATION = re.compile(r"^(\d+)([dhm])$")


def parse_duration(text: str) -> timedelta:
    """`3d`, `24h`, `90m` -> timedelta."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a duration like 3d, 24h or 90m")
    amount, unit = int(match.group(1)), match.group(2)
    return {"d": timedelta(days=amount), "h": timedelta(hours=amount), "m": timedelta(minutes=amount)}[unit]


def _parse_working_days(text: str) -> tuple[int, ...]:
    """`mon-fri` / `sun-thu` / `mon,wed,fri` -> ISO weekday indexes (mon=0)."""
    text = text.strip().lower()
    if "-" in text and "," not in text:
        first, last = (part.strip() for part in text.split("-", 1))
        if first not in WEEKDAYS or last not in WEEKDAYS:
            raise ValueError(text)
        start, end = WEEKDAYS.index(first), WEEKDAYS.index(last)
        return tuple((start + offset) % 7 for offset in range((end - start) % 7 + 1))
    days = [part.strip() for part in text.split(",")]
    if not days or any(day not in WEEKDAYS for day in days):
        raise ValueError(text)
    return tuple(sorted({WEEKDAYS.index(day) for day in days}))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    slack_bot_token: SecretStr = Field(validation_alias="SLACK_BOT_TOKEN")
    slack_app_token: SecretStr | None = Field(default=None, validation_alias="SLACK_APP_TOKEN")
    slack_signing_secret: SecretStr | None = Field(default=None, validation_alias="SLACK_SIGNING_SECRET")
    slack_api_url: str = Field(default="https://slack.com/api/", validation_alias="SLACK_API_URL")
    # A 429 asking to wait longer than this fails the call at once (rate limited); reminders retry later.
    slack_max_retry_after: float = Field(default=60, ge=0, validation_alias="SLACK_MAX_RETRY_AFTER")
    database_url: str = Field(default="sqlite:///postmortem.db", validation_alias="DATABASE_URL")
    working_hours: str = Field(default="09:00-17:00", validation_alias="WORKING_HOURS")
    working_days: str = Field(default="mon-fri", validation_alias="WORKING_DAYS")
    recovery_gap_hours: float = Field(default=24, ge=0, validation_alias="RECOVERY_GAP_HOURS")
    scheduler_tick_seconds: float = Field(default=30, gt=0, validation_alias="SCHEDULER_TICK_SECONDS")
    meeting_reminders: str = Field(default="24h,15m", validation_alias="MEETING_REMINDERS")
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
    log_format: str = Field(default="text", validation_alias="LOG_FORMAT")
    report_summary_channel: str | None = Field(default=None, validation_alias="REPORT_SUMMARY_CHANNEL")
    action_reminders: str = Field(default="3d,1d", validation_alias="ACTION_REMINDERS")
    action_overdue_every: str = Field(default="2d", validation_alias="ACTION_OVERDUE_EVERY")
    action_escalate_after: str = Field(default="5d", validation_alias="ACTION_ESCALATE_AFTER")
    escalation_channel: str | None = Field(default=None, validation_alias="ESCALATION_CHANNEL")
    # Both set: publishing pushes the indicators to MISP as one event per post-mortem.
    misp_url: str | None = Field(default=None, validation_alias="MISP_URL")
    misp_key: SecretStr | None = Field(default=None, validation_alias="MISP_KEY")
    misp_verify_tls: bool = Field(default=True, validation_alias="MISP_VERIFY_TLS")
    # After resolution, how long a post-mortem's indicators are watched for in MONITOR_CHANNELS.
    monitor_days: int = Field(default=30, ge=0, validation_alias="MONITOR_DAYS")
    monitor_channels: str = Field(default="", validation_alias="MONITOR_CHANNELS")
    monitor_checkins: str = Field(default="1d,7d,30d", validation_alias="MONITOR_CHECKINS")
    # The user group whose members see the whole security scorecard (facilitators see their own rows).
    security_leads: str | None = Field(default=None, validation_alias="SECURITY_LEADS")

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token_shape(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("malformed")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("malformed")
        return value

    @field_validator("slack_signing_secret", mode="before")
    @classmethod
    def _blank_secret_is_unset(cls, value: object) -> object:
        # An empty secret would make any request signed with the empty key pass verification.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url_shape(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+(/\S*)?/$", value):
            raise ValueError("malformed")
        return value

    @field_validator("misp_url", "misp_key", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("misp_url")
    @classmethod
    def _misp_url_shape(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+(/\S*)?$", value):
            raise ValueError("malformed")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url_shape(cls, value: str) -> str:
        if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", value):
            raise ValueError("malformed")
        return value

    @field_validator("working_hours")
    @classmethod
    def _working_hours_shape(cls, value: str) -> str:
        start, end = _parse_hours(value)
        if start >= end:
            raise ValueError("malformed")
        return value

    @field_validator("working_days")
    @classmethod
    def _working_days_shape(cls, value: str) -> str:
        _parse_working_days(value)
        return value

    @field_validator("monitor_channels")
    @classmethod
    def _channel_list_shape(cls, value: str) -> str:
        if any(not re.match(r"^[CG][A-Z0-9]{6,}$", channel) for channel in _listed(value)):
            raise ValueError("malformed")
        return value

    @field_validator("meeting_reminders", "action_reminders", "monitor_checkins")
    @classmethod
    def _reminders_shape(cls, value: str) -> str:
        for part in value.split(","):
            parse_duration(part)
        return value

    @field_validator("action_overdue_every", "action_escalate_after")
    @classmethod
    def _duration_shape(cls, value: str) -> str:
        if parse_duration(value) <= timedelta(0):
            raise ValueError("malformed")
        return value

    @field_validator("report_summary_channel", "escalation_channel")
    @classmethod
    def _channel_shape(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[CG][A-Z0-9]{6,}$", value):
            raise ValueError("malformed")
        return value

    @field_validator("security_leads")
    @classmethod
    def _user_group_shape(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^S[A-Z0-9]{6,}$", value):
            raise ValueError("malformed")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level_shape(cls, value: str) -> str:
        if value.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("malformed")
        return value.upper()

    @field_validator("log_format")
    @classmethod
    def _log_format_shape(cls, value: str) -> str:
        if value.lower() not in {"json", "text"}:
            raise ValueError("malformed")
        return value.lower()

    @property
    def work_start(self) -> time:
        return _parse_hours(self.working_hours)[0]

    @property
    def work_end(self) -> time:
        return _parse_hours(self.working_hours)[1]

    @property
    def work_weekdays(self) -> tuple[int, ...]:
        return _parse_working_days(self.working_days)

    @property
    def meeting_reminder_offsets(self) -> tuple[timedelta, ...]:
        return _offsets(self.meeting_reminders)

    @property
    def action_reminder_offsets(self) -> tuple[timedelta, ...]:
        return _offsets(self.action_reminders)

    @property
    def monitored_channels(self) -> frozenset[str]:
        return frozenset(_listed(self.monitor_channels))

    @property
    def monitor_period(self) -> timedelta:
        return timedelta(days=self.monitor_days)

    @property
    def checkin_offsets(self) -> tuple[timedelta, ...]:
        return tuple(sorted(parse_duration(part) for part in self.monitor_checkins.split(",")))


def _listed(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _offsets(text: str) -> tuple[timedelta, ...]:
    return tuple(sorted((parse_duration(part) for part in text.split(",")), reverse=True))


def _parse_hours(text: str) -> tuple[time, time]:
    match = re.match(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$", text.strip())
    if not match:
        raise ValueError("malformed")
    h1, m1, h2, m2 = (int(group) for group in match.groups())
    return time(h1, m1), time(h2, m2)


class ConfigurationError(Exception):
    """Raised with one human line per bad variable; never contains a secret value."""


def load_settings(*, require: tuple[str, ...] = ()) -> Settings:
    """Load settings; `require` names variables this command cannot do without."""
    try:
        settings = Settings()
    except ValidationError as error:
        raise ConfigurationError("\n".join(_describe(error))) from None
    missing = [name for name in require if _value_of(settings, name) is None]
    if missing:
        raise ConfigurationError("\n".join(f"{name} is not set: set it to {EXPECTED_SHAPE[name]}." for name in missing))
    return settings


def _value_of(settings: Settings, variable: str) -> object:
    return getattr(settings, variable.lower())


def _describe(error: ValidationError) -> list[str]:
    lines = []
    for problem in error.errors():
        variable = str(problem["loc"][0]) if problem["loc"] else "configuration"
        shape = EXPECTED_SHAPE.get(variable, "a valid value")
        verb = "is not set" if problem["type"] == "missing" else "is malformed"
        lines.append(f"{variable} {verb}: set it to {shape}.")
    return lines
