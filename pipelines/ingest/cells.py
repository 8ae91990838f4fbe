"""A spreadsheet cell as the text the contracts read (returned xlsx files: the caseworkers', the data team's)."""

from __future__ import annotations

from datetime import date, datetime


def cell_text(value) -> str | None:
    """Dates as ISO, whole numbers without '.0', blanks as None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
