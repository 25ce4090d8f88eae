"""postmortem-bot: runs the post-mortem of a security incident inside Slack."""
