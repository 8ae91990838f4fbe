"""The Dagster resources every capability's assets share: the home and landing folders, the night lock, and
the run's as-of date T."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import dagster as dg

from pipelines.core.audit import AuditLog
from pipelines.core.clock import today_in_tokyo
from pipelines.core.home import Home
from pipelines.core.lock import NightRunning, night_lock

AS_OF_TAG = "mimamori/as_of"


def run_as_of(context: dg.AssetExecutionContext | dg.OpExecutionContext) -> date:
    """The run's as-of date T: the ``mimamori/as_of`` run tag, else today in Asia/Tokyo."""
    tag = context.run.tags.get(AS_OF_TAG)
    return date.fromisoformat(tag) if tag else today_in_tokyo()


class MimamoriHome(dg.ConfigurableResource):
    """The folders of one municipality's installation (governance.md: one store per role)."""

    home: str
    landing: str

    @property
    def layout(self) -> Home:
        """Every path under HOME (``pipelines.core.home``)."""
        return Home(self.home)

    @property
    def root(self) -> Path:
        return self.layout.root

    @property
    def landing_dir(self) -> Path:
        return Path(self.landing).resolve()

    @property
    def audit(self) -> AuditLog:
        return AuditLog(self.layout.audit_log)


class NightLock(dg.ConfigurableResource):
    """Holds the home's night lock for the whole run (pipelines/core/lock.py), whoever launched it: a run that
    finds another night running fails at once, naming it, before it touches a store. Required by every
    asset that writes a store; the in-process executor sets it up once, at the start of the run."""

    home: str

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator["NightLock"]:
        run = context.dagster_run
        as_of = (run.tags.get(AS_OF_TAG) if run else None) or today_in_tokyo().isoformat()
        try:
            with night_lock(Path(self.home).resolve(), as_of=as_of, run_id=context.run_id or ""):
                yield self
        except NightRunning as running:
            raise dg.Failure(description=str(running), allow_retries=False) from None
