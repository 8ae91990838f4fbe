"""The project's table and view materialisations on DuckDB (dbt_project/macros/materializations.sql): one
CREATE OR REPLACE in the model's transaction, run by the real dbt-duckdb on a small project of its own."""

import json
import shutil
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.slow  # real dbt or Great Expectations processes: make test, not make check

PROJECT = Path(__file__).resolve().parents[2] / "dbt_project"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "models").mkdir()
    shutil.copytree(PROJECT / "macros", tmp_path / "macros",
                    ignore=lambda _dir, names: [n for n in names if n != "materializations.sql"])
    (tmp_path / "dbt_project.yml").write_text(
        "name: m\nversion: '1.0.0'\nconfig-version: 2\nprofile: m\nflags:\n  send_anonymous_usage_stats: false\n")
    (tmp_path / "profiles.yml").write_text(
        f"m:\n  target: t\n  outputs:\n    t:\n      type: duckdb\n      path: '{tmp_path / 'm.duckdb'}'\n"
        "      threads: 1\n")
    # the value is cast at run time: a 'x' fails while DuckDB builds the table, after dbt compiled it
    (tmp_path / "models" / "counts.sql").write_text(
        "{{ config(materialized=var('kind', 'table')) }}\n"
        "select cast(unnest(range({{ var('rows', 3) }})) as integer) + cast('{{ var('add', '0') }}' as integer) as n\n")
    (tmp_path / "models" / "downstream.sql").write_text("select count(*) as rows from {{ ref('counts') }}\n")
    return tmp_path


def dbt(project: Path, *args: str, **variables):
    """dbt run in this process (dbt's import once, not per run), its DuckDB file closed after it."""
    from dbt.cli.main import dbtRunner

    from pipelines.linkage.dbt_command import close_duckdb

    try:
        return dbtRunner().invoke(["run", "--project-dir", str(project), "--profiles-dir", str(project),
                                   "--vars", json.dumps(variables), "--log-level", "none", *args])
    finally:
        close_duckdb()


def messages(done) -> str:
    return " ".join(str(r.message) for r in done.result) if done.result else str(done.exception)


def relations(project: Path) -> dict:
    with duckdb.connect(str(project / "m.duckdb"), read_only=True) as con:
        kinds = dict(con.execute("select table_name, table_type from information_schema.tables").fetchall())
        return {name: (kind, con.execute(f"select count(*), sum(n) from {name}").fetchone() if name == "counts"
                       else con.execute(f"select rows from {name}").fetchone()) for name, kind in kinds.items()}


def test_a_model_is_replaced_in_one_statement_and_a_failure_leaves_the_previous_rows(project):
    assert dbt(project, rows=3).success
    assert relations(project) == {"counts": ("BASE TABLE", (3, 3)), "downstream": ("VIEW", (3,))}
    assert dbt(project, kind="view", rows=4).success  # a table turned into a view, and back
    assert relations(project) == {"counts": ("VIEW", (4, 6)), "downstream": ("VIEW", (4,))}
    assert dbt(project, rows=5).success
    assert relations(project) == {"counts": ("BASE TABLE", (5, 10)), "downstream": ("VIEW", (5,))}
    ran = (project / "target" / "run" / "m" / "models" / "counts.sql").read_text()
    assert ran.lstrip().startswith("create or replace table") and ran.count(";") <= 1

    failed = dbt(project, "--select", "counts", rows=7, add="x")  # fails inside DuckDB, mid-transaction
    assert not failed.success and "Conversion Error" in messages(failed)
    assert relations(project)["counts"] == ("BASE TABLE", (5, 10))  # the previous table, whole


def test_an_enforced_contract_is_refused_by_name_rather_than_ignored(project):
    (project / "models" / "schema.yml").write_text(
        "version: 2\nmodels:\n  - name: counts\n    config:\n      contract: {enforced: true}\n"
        "    columns:\n      - name: n\n        data_type: integer\n")
    refused = dbt(project, "--select", "counts")
    assert not refused.success
    assert "does not enforce contracts" in messages(refused) and "model.m.counts" in messages(refused)
