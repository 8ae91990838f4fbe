"""Resources, configured in one place (definitions.py): where the home and landing folders are."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import dagster as dg

if TYPE_CHECKING:
    from pipelines.audit import AuditLog

AS_OF_TAG = "mimamori/as_of"
TOKYO = ZoneInfo("Asia/Tokyo")


def today_in_tokyo() -> date:
    return datetime.now(TOKYO).date()


def run_as_of(context: dg.AssetExecutionContext | dg.OpExecutionContext) -> date:
    """The run's as-of date T: the ``mimamori/as_of`` run tag, else today in Asia/Tokyo."""
    tag = context.run.tags.get(AS_OF_TAG)
    return date.fromisoformat(tag) if tag else today_in_tokyo()


class MimamoriHome(dg.ConfigurableResource):
    """The folders of one municipality's installation (governance.md: one store per role)."""

    home: str
    landing: str

    @property
    def root(self) -> Path:
        return Path(self.home).resolve()

    @property
    def landing_dir(self) -> Path:
        return Path(self.landing).resolve()

    @property
    def audit(self) -> "AuditLog":
        from pipelines.audit import AuditLog

        return AuditLog(self.root / "audit" / "audit.log")

    def quarantine_dir(self, as_of: date) -> Path:
        return self.root / "quarantine" / as_of.isoformat()

    def exports_dir(self, as_of: date) -> Path:
        return self.root / "exports" / as_of.isoformat()
