"""Monitoring after the incident: alert channels watched for a post-mortem's indicators, and check-ins."""
