"""Threat-intelligence exchange: the STIX 2.1 bundle of a post-mortem's indicators and the MISP push."""
