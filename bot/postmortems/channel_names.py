"""Slack channel names for review channels: `pm-YYYYMMDD-<slug>`, within Slack's naming rules."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

CHANNEL_NAME_MAX = 80  # Slack's limit
FALLBACK_SLUG = "incident"


def slugify(title: str) -> str:
    """Lowercase ASCII letters, digits and single hyphens; accents folded (`Phishing à Zürich` -> `phishing-a-zurich`)."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")


def review_channel_name(*, day: date, title: str, attempt: int = 1) -> str:
    """The name to try on `attempt` (1, 2, ...): attempts after the first add `-2`, `-3`... for `name_taken`."""
    prefix = f"pm-{day:%Y%m%d}-"
    suffix = "" if attempt == 1 else f"-{attempt}"
    room = CHANNEL_NAME_MAX - len(prefix) - len(suffix)
    slug = slugify(title)[:room].rstrip("-") or FALLBACK_SLUG
    return prefix + slug + suffix
