"""Post-mortems: the incident report, the private review channel, who may see what."""
