"""Slack: the one gateway out, the HTTP edge, output safety and Block Kit basics."""
