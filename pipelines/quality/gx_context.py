"""Great Expectations' file context of one home (HOME/reports/great_expectations), opened inside GE's worker
process (pipelines/quality/gx_worker.py): its suites, validation definitions and Data Docs."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd

from pipelines.quality.data_docs import localise

KEEP_DAYS = 30  # Data Docs keep the validation results of this many days (as the exports: governance.yml)


class Suites:
    """Great Expectations, configured once per home: a file context under HOME/reports/great_expectations."""

    def __init__(self, root: Path):
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.gx = gx
        self.context = gx.get_context(mode="file", project_root_dir=str(root))
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        try:  # kept from the previous nights: re-adding it would rewrite the project config
            self.source = self.context.data_sources.get("mimamori_measures")
        except KeyError:
            self.source = self.context.data_sources.add_pandas("mimamori_measures")
        self.earlier = set(self.context.validation_results_store.list_keys())

    def run(self, name: str, frame: pd.DataFrame, expectations: list) -> list:
        try:
            asset = self.source.get_asset(name)
        except LookupError:
            asset = self.source.add_dataframe_asset(name)
        batch = next((b for b in asset.batch_definitions if b.name == "tonight"), None) or \
            asset.add_batch_definition_whole_dataframe("tonight")
        definition = self._definition(name, batch, expectations)
        return definition.run(batch_parameters={"dataframe": frame}).results

    def _definition(self, name: str, batch, expectations: list):
        """The suite and validation definition of last night when their expectations are the same: saving
        them again rewrites the whole project config (≈ 0.1 s each, 29 times a night)."""
        from great_expectations.exceptions import DataContextError

        gx = self.gx
        fingerprint = hashlib.sha256(json.dumps([e.configuration.to_json_dict() for e in expectations],
                                                sort_keys=True, default=str).encode()).hexdigest()
        try:
            definition = self.context.validation_definitions.get(f"{name}_tonight")
            if definition.suite.meta.get("mimamori_fingerprint") == fingerprint:
                return definition
        except DataContextError:  # not there yet: the first night
            pass
        suite = self.context.suites.add_or_update(gx.ExpectationSuite(
            name=name, expectations=expectations, meta={"mimamori_fingerprint": fingerprint}))
        return self.context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=f"{name}_tonight", data=batch, suite=suite))

    def build_docs(self, keep_days: int = KEEP_DAYS) -> Path:
        """Data Docs of tonight's results only (and the index), after forgetting results older than
        ``keep_days``: rebuilding every page of every night grew without end (2.5 s at two nights)."""
        site = Path(self.context.root_directory) / "uncommitted" / "data_docs" / "local_site"
        store = self.context.validation_results_store
        tonight = [k for k in store.list_keys() if k not in self.earlier]
        cutoff = datetime.now(timezone.utc) - timedelta(days=keep_days)
        for key in self.earlier:
            run_time = key.run_id.run_time
            if run_time is not None and run_time.astimezone(timezone.utc) < cutoff:
                store.remove_key(key)
                stamp = run_time.strftime("%Y%m%dT%H%M%S")
                for page in (site / "validations").rglob(f"*{stamp}*/**/*.html") if (site / "validations").exists() else []:
                    page.unlink()
        first = not (site / "index.html").exists()
        self.context.build_data_docs(resource_identifiers=None if first else tonight)
        localise(site)  # their styles and scripts from beside the pages: they open offline
        return site / "index.html"
