"""The home's layout: every folder and file under HOME, one municipality's installation, named in one place.

    HOME/
      warehouse/restricted.duckdb   the restricted store (encrypted; 総括管理主体 only)
      warehouse/analysis.duckdb     the analysts' store (pseudonymised)
      warehouse/tmp/                DuckDB's spill folder (owner-only: the rows there are the store's)
      keys/<name>.key               the store's key and the pseudonym keys (owner-only)
      audit/audit.log               the hash-chained audit log
      nightly.lock                  one night at a time
      .dagster/                     the Dagster instance (runs, schedules, event logs)
      logs/<T>_<run id>.log         each night's whole log
      dbt/target/                   dbt's artifacts of this home's runs
      quarantine/<T>/               rows and files set aside, with their reasons
      exports/<T>/                  the caseworkers' lists
      reports/<T>/                  the nightly report, the summary, the quality measures
      reports/great_expectations/   Great Expectations' context and Data Docs, its worker's log
      reports/rules/<version>/      the rule lab's evaluations
      reports/outcomes/<T>/         効果検証's evaluations (`mimamori outcomes evaluate`)
      disclosures/                  開示 reports (owner-only)

Nothing else joins folder names under HOME: code asks this object for the path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path


@dataclass(frozen=True)
class Home:
    """The paths of one home. ``Home(path)`` resolves the path; it creates nothing."""

    root: Path

    def __init__(self, root: Path | str | Home) -> None:
        object.__setattr__(self, "root", root.root if isinstance(root, Home) else Path(root).resolve())

    # the stores
    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse"

    @property
    def restricted_store(self) -> Path:
        return self.warehouse / "restricted.duckdb"

    @property
    def analysis_store(self) -> Path:
        return self.warehouse / "analysis.duckdb"

    @property
    def spill(self) -> Path:
        return self.warehouse / "tmp"

    # secrets and accountability
    @property
    def keys(self) -> Path:
        return self.root / "keys"

    def key(self, name: str) -> Path:
        return self.keys / f"{name}.key"

    @property
    def audit_log(self) -> Path:
        return self.root / "audit" / "audit.log"

    @property
    def lock(self) -> Path:
        return self.root / "nightly.lock"

    # the runs
    @property
    def dagster(self) -> Path:
        return self.root / ".dagster"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def run_log(self, as_of: date, run_id: str) -> Path:
        return self.logs / f"{as_of.isoformat()}_{run_id}.log"

    @property
    def dbt_target(self) -> Path:
        """dbt's artifacts of this home's runs; one folder, so each night reuses the last partial parse."""
        return self.root / "dbt" / "target"

    # what a night leaves, one folder per night under each
    @property
    def quarantine_root(self) -> Path:
        return self.root / "quarantine"

    def quarantine(self, as_of: date) -> Path:
        return self.quarantine_root / as_of.isoformat()

    @property
    def exports_root(self) -> Path:
        return self.root / "exports"

    def exports(self, as_of: date) -> Path:
        return self.exports_root / as_of.isoformat()

    def linkage(self, as_of: date) -> Path:
        """The night's 照合確認 file for the data team and the linkage model it used (owner-only)."""
        return self.root / "linkage" / as_of.isoformat()

    @property
    def reports_root(self) -> Path:
        return self.root / "reports"

    def reports(self, as_of: date | str) -> Path:
        return self.reports_root / (as_of if isinstance(as_of, str) else as_of.isoformat())

    @property
    def great_expectations(self) -> Path:
        return self.reports_root / "great_expectations"

    @property
    def gx_worker_log(self) -> Path:
        """What Great Expectations' worker process prints (named in any error of the worker)."""
        return self.great_expectations / "worker.log"

    def rules_evaluation(self, version: str) -> Path:
        return self.reports_root / "rules" / str(version)

    @property
    def outcomes_evaluations(self) -> Path:
        return self.reports_root / "outcomes"

    def outcomes_evaluation(self, as_of: date) -> Path:
        return self.outcomes_evaluations / as_of.isoformat()

    @property
    def disclosures(self) -> Path:
        return self.root / "disclosures"


class HomeNotPrivate(Exception):
    """HOME can be read or entered by users other than its owner."""


def private_home(root: Path | str | Home) -> Home:
    """The home, created owner-only (0700) if it does not exist; refused if others may read or enter it.

    Everything under HOME is the 総括管理主体's alone (governance.md): the names in the lists, the audit log,
    the keys. A home that group or others can open is refused rather than mended, so that the operator sees
    who else could have read it.
    """
    home = Home(root)
    if not home.root.exists():
        home.root.parent.mkdir(parents=True, exist_ok=True)
        home.root.mkdir(mode=0o700)
    mode = home.root.stat().st_mode & 0o777
    if mode & 0o077:
        raise HomeNotPrivate(
            f"the home {home.root} can be opened by users other than its owner (mode {mode:o}); everything in it is "
            f"restricted data. Run `chmod 700 {home.root}` (and check who could read it), then run the night again.")
    return home
