"""The same dbt models on Spark: a night's raw tables as Parquet, `dbt build --target spark` (dbt-spark in
process, local pyspark, Java 17), and the flag list Spark makes is the one DuckDB made, row for row."""

from __future__ import annotations

import shutil

import polars as pl
import pytest

from tests.helpers import AS_OF, restricted

pytestmark = [pytest.mark.spark, pytest.mark.slow]

# what a caseworker's list says about each child, and every signal of every child
LIST_COLUMNS = ["address_code", "office_code", "domain_count", "domains", "signal_ids", "reasons", "support_status"]
SIGNAL_COLUMNS = ["address_code", "age", "school_code", "signal_ids", "domain_count", "reasons", "is_flagged",
                  "is_supported"]


@pytest.fixture(scope="module")
def spark_night(nightly_home, tmp_path_factory):
    from pipelines.linkage.spark import build, export_raw

    assert shutil.which("java"), "Spark needs Java 17: .ci/system-packages installs openjdk-17-jre-headless"
    folder = tmp_path_factory.mktemp("spark")
    rows = export_raw(nightly_home["home"], folder / "raw", user="test")
    out = build(folder / "raw", folder / "warehouse", AS_OF)
    assert out.returncode == 0, "dbt build --target spark failed:\n" + "\n".join(
        line for line in out.stdout.splitlines() if "ERROR" in line or "Error" in line or "FAIL" in line)
    return {"folder": folder, "rows": rows, "warehouse": folder / "warehouse", "dbt": out.stdout}


def _duckdb(home, table: str, columns: list[str]) -> pl.DataFrame:
    with restricted(home) as con:
        return con.execute(f"select {', '.join(columns)} from marts.{table}").pl().sort("address_code")


def _spark(warehouse, table: str, columns: list[str]) -> pl.DataFrame:
    from pipelines.linkage.spark import read_table

    return read_table(warehouse, "marts", table).select(columns).sort("address_code")


def test_the_raw_tables_go_to_parquet_whole(nightly_home, spark_night):
    with restricted(nightly_home["home"]) as con:
        for table, rows in spark_night["rows"].items():
            assert con.execute(f"select count(*) from raw.{table}").fetchone()[0] == rows, table
    assert {"jumin", "zei", "fukushi", "gakureibo", "shukketsu", "kenshin"} <= set(spark_night["rows"])
    assert "load_log" not in spark_night["rows"]


def test_dbt_build_on_spark_runs_every_model_data_test_and_unit_test(spark_night):
    done = [line for line in spark_night["dbt"].splitlines() if "Done." in line][-1]
    assert "ERROR=0" in done and "SKIP=0" in done, done
    assert "unit test" in spark_night["dbt"] and "data test" in spark_night["dbt"]


def test_spark_makes_the_flag_list_duckdb_made(nightly_home, spark_night):
    duck = _duckdb(nightly_home["home"], "flagged_children", LIST_COLUMNS)
    spark = _spark(spark_night["warehouse"], "flagged_children", LIST_COLUMNS)
    assert duck.height > 0
    assert spark.to_dicts() == duck.to_dicts()


def test_spark_gives_every_child_the_signals_and_reasons_duckdb_gave(nightly_home, spark_night):
    duck = _duckdb(nightly_home["home"], "child_signals", SIGNAL_COLUMNS)
    spark = _spark(spark_night["warehouse"], "child_signals", SIGNAL_COLUMNS)
    assert duck.filter(pl.col("domain_count") > 0).height > 0
    assert any("C4 児相関与" in str(r) for r in duck["reasons"].to_list())  # the linked 児童相談所 cases too
    assert spark.to_dicts() == duck.to_dicts()
