"""The review meeting: when it suits every time zone, the invite, its reminders."""
