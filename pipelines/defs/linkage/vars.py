"""The vars dbt runs with: T, the rule set and the offices — the only place thresholds come from."""

from __future__ import annotations

from datetime import date

from pipelines import config


def dbt_vars(as_of: date) -> dict:
    return {"as_of": as_of.isoformat(), "rules": config.rules(), "offices": config.offices()}
