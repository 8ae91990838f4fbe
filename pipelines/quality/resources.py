"""The Great Expectations worker as a Dagster resource: started by the dbt step, used by the nightly report."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg
from pydantic import PrivateAttr

from pipelines.core.home import Home

if TYPE_CHECKING:
    from pipelines.quality.gx_worker import SuitesWorker


class QualitySuites(dg.ConfigurableResource):
    """Great Expectations for the run, in a worker process (pipelines/quality/gx_worker.py) under
    HOME/reports/great_expectations: the dbt step starts it, so that GE imports while dbt runs, and the
    nightly report uses it (starting it then, in a run without dbt). It ends with the run."""

    home: str
    _worker: "SuitesWorker | None" = PrivateAttr(default=None)

    def start(self) -> "SuitesWorker":
        """The run's worker, started now unless it runs already (a dead one is started again)."""
        from pipelines.quality.gx_worker import SuitesWorker  # pandas: imported by the run that needs it

        if self._worker is not None and not self._worker.alive:
            self._worker.close()
            self._worker = None
        if self._worker is None:
            self._worker = SuitesWorker(Home(self.home).great_expectations, Home(self.home).gx_worker_log)
        return self._worker

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None
