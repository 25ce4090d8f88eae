"""Follow-up actions: owners, due dates, status, and their reminders."""
