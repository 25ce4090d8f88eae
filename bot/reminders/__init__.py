"""Durable reminders and the dispatcher that sends them."""
