"""The same dbt models on Spark: for a consortium (a prefecture's municipalities together, a national study)
that links more than one DuckDB process should.

A municipality's night validates and loads its extracts into the restricted store as always; its ``raw``
tables are then written as Parquet, one folder per table (on the consortium's shared storage in real
life), and dbt runs the very models of the nightly on Spark (``--target spark``, dbt-spark in process):
``dbt_project/macros/spark_sources.sql`` registers the folders as the ``raw`` schema, and the few places
where the engines' SQL differs are written once per engine in ``dbt_project/macros/cross_database.sql``.

    mimamori spark export --home data --out /shared/mimamori/raw
    mimamori spark build --parquet /shared/mimamori/raw --warehouse /shared/mimamori/warehouse --as-of 2026-11-30
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from pipelines.core import config
from pipelines.core.audit import AuditLog
from pipelines.core.home import Home
from pipelines.core.store import LOAD_LOG, connect
from pipelines.linkage.vars import AS_OF_ENV, dbt_vars

PARQUET_ENV, WAREHOUSE_ENV = "MIMAMORI_PARQUET", "MIMAMORI_SPARK_WAREHOUSE"
DBT_PROJECT = config.PROJECT_ROOT / "dbt_project"


def export_raw(home: Path, out: Path, user: str = "") -> dict[str, int]:
    """Every table of the store's ``raw`` schema (validated rows, set-asides, returns, rights) as
    ``out/<table>/data.parquet``; returns the rows per table. The folder is owner-only and the export is
    audited: these are restricted data, unencrypted in Parquet, for storage the consortium encrypts."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    os.chmod(out, 0o700)
    rows = {}
    with connect(home, read_only=True) as con:
        tables = [t for (t,) in con.execute(
            "select table_name from information_schema.tables where table_catalog = 'restricted' "
            "and table_schema = 'raw' order by table_name").fetchall()
            if f"raw.{t}" != LOAD_LOG and not t.startswith("_staged_")]  # a killed night's stage is no data
        for table in tables:
            folder = out / table
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            con.execute(f"COPY raw.{table} TO '{folder / 'data.parquet'}' (FORMAT parquet)")
            rows[table] = con.execute(f"select count(*) from raw.{table}").fetchone()[0]
    AuditLog(Home(home).audit_log).append("raw_exported_as_parquet", user=user, folder=str(out),
                                                        rows=rows)
    return rows


def build(parquet: Path, warehouse: Path, as_of: date, command: str = "build",
          workdir: Path | None = None) -> subprocess.CompletedProcess:
    """``dbt <command> --target spark`` over the Parquet folders, the tables written under ``warehouse``
    (Spark's in-process session, local[2]); the lab's models stay on DuckDB. Returns dbt's process."""
    workdir = Path(workdir or Path(warehouse).parent / "dbt")
    env = {**os.environ, PARQUET_ENV: str(Path(parquet).resolve()), WAREHOUSE_ENV: str(Path(warehouse).resolve()),
           AS_OF_ENV: as_of.isoformat(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"}
    return subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "--no-use-colors", command, "--target", "spark", "--exclude", "tag:lab",
         "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT), "--vars", dbt_vars(),
         "--target-path", str(workdir / "target"), "--log-path", str(workdir / "logs")],
        env=env, capture_output=True, text=True)


def read_table(warehouse: Path, schema: str, table: str) -> pl.DataFrame:
    """A table Spark wrote (Parquet files under warehouse/<schema>.db/<table>/), read without Spark."""
    files = Path(warehouse) / f"{schema}.db" / table / "**" / "*.parquet"
    return duckdb.sql(f"select * from read_parquet('{files}', hive_partitioning = true)").pl()
