"""The dbt unit tests (the signals at their boundaries, the list's order) pass on DuckDB, in a store that has
every source table the real code creates, empty, and every model built empty (`dbt run --empty`)."""

import os
import subprocess
import sys
from pathlib import Path

from pipelines.core.store import connect
from pipelines.ingest.load import create_empty
from pipelines.linkage.vars import as_of_env, dbt_vars
from pipelines.matching.review import ensure_links_table
from pipelines.nightly import dbt_environment
from pipelines.reviews.returns import ensure_table as ensure_reviews_table
from pipelines.rights.requests import ensure_tables as ensure_rights_tables
from pipelines.rights.requests import mark_columns
from schemas.contract import EXTRACTS
from tests.helpers import AS_OF

PROJECT = Path(__file__).resolve().parents[2] / "dbt_project"
DBT = str(Path(sys.executable).with_name("dbt"))


def dbt(home: Path, target: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MIMAMORI_HOME": str(home), **dbt_environment(home), **as_of_env(AS_OF)}
    return subprocess.run([DBT, *args, "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT), "--vars",
                           dbt_vars(), "--target-path", str(target)],  # the project's target is shared by workers
                          env=env, capture_output=True, text=True, timeout=300)


def test_dbt_unit_tests_pass(tmp_path):
    home = tmp_path / "home"
    with connect(home) as con:
        for extract in EXTRACTS:
            create_empty(con, extract)
        ensure_reviews_table(con)
        ensure_links_table(con)
        ensure_rights_tables(con)  # as the asset rights/applied leaves them before dbt
        mark_columns(con)
    built = dbt(home, tmp_path / "target", "run", "--empty", "--exclude", "tag:lab")
    assert built.returncode == 0, built.stdout[-3000:]
    out = dbt(home, tmp_path / "target", "test", "--select", "test_type:unit")
    assert out.returncode == 0, out.stdout[-3000:]
    assert "PASS=" in out.stdout and "ERROR=0" in out.stdout
    assert int(out.stdout.rsplit("PASS=", 1)[1].split()[0]) >= 10
