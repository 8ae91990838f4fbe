"""The synthetic municipality generator (``generator``) and its reference data."""
