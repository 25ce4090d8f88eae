"""Indicators of compromise: finding them in text and keeping them per post-mortem."""
