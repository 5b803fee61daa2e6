"""Lagoon: a Lago-compatible usage-based billing engine running on AWS serverless."""

__version__ = "0.1.0"
