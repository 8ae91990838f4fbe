"""Resources, configured in one place (definitions.py): where the home and landing folders are, and dbt."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import dagster as dg
from dagster_dbt import DbtCliResource
from packaging import version
from pydantic import PrivateAttr

if TYPE_CHECKING:
    from pipelines.audit import AuditLog
    from pipelines.gx_worker import SuitesWorker

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

    @property
    def dbt_target_dir(self) -> Path:
        """dbt's artifacts of this home's runs; one folder, so each night reuses the last partial parse."""
        return self.root / "dbt" / "target"


class NightLock(dg.ConfigurableResource):
    """Holds the home's night lock for the whole run (pipelines/lock.py), whoever launched it: a run that
    finds another night running fails at once, naming it, before it touches a store. Required by every
    asset that writes a store; the in-process executor sets it up once, at the start of the run."""

    home: str

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator["NightLock"]:
        from pipelines.lock import NightRunning, night_lock

        run = context.dagster_run
        as_of = (run.tags.get(AS_OF_TAG) if run else None) or today_in_tokyo().isoformat()
        try:
            with night_lock(Path(self.home).resolve(), as_of=as_of, run_id=context.run_id or ""):
                yield self
        except NightRunning as running:
            raise dg.Failure(description=str(running), allow_retries=False) from None


class QualitySuites(dg.ConfigurableResource):
    """Great Expectations for the run, in a worker process (pipelines/gx_worker.py) under
    HOME/reports/great_expectations: the dbt step starts it, so that GE imports while dbt runs, and the
    nightly report uses it (starting it then, in a run without dbt). It ends with the run."""

    home: str
    _worker: "SuitesWorker | None" = PrivateAttr(default=None)

    def start(self) -> "SuitesWorker":
        """The run's worker, started now unless it runs already (a dead one is started again)."""
        from pipelines.gx_worker import SuitesWorker

        if self._worker is not None and not self._worker.alive:
            self._worker.close()
            self._worker = None
        if self._worker is None:
            self._worker = SuitesWorker(Path(self.home).resolve() / "reports" / "great_expectations")
        return self._worker

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None


class NightlyDbtCliResource(DbtCliResource):
    """dagster-dbt's resource, less two start-up costs that buy the nightly nothing (≈ 4.5 s a night).

    - ``dbt --version`` in a subprocess, only to learn the version (it also asks PyPI for the latest
      release: an outbound call the restricted pipeline should not make). The installed dbt-core's
      version is known without it.
    - an in-process dbt adapter, used by dagster-dbt only to fetch row counts and column metadata,
      which these assets do not request.
    Both are private hooks of dagster-dbt 0.29 (pinned); tests run the real dbt build through this class.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(importlib.metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        return None
