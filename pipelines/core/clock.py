"""The municipality's calendar: dates are Asia/Tokyo's, whatever the server's time zone."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

TOKYO = ZoneInfo("Asia/Tokyo")


def today_in_tokyo() -> date:
    return datetime.now(TOKYO).date()
