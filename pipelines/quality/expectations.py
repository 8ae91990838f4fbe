"""Data quality of the night: measures computed in DuckDB over the whole of each table, judged by Great
Expectations suites (1.x, a file context under HOME, fully offline), kept as a small table for analysts.
The suites run in GE's worker process (pipelines/quality/gx_worker.py), which imports GE while dbt runs.

GE runs on small pandas frames of measures (one row per department, the distinct codes of each coded
column, the link rates), never on the millions of rows themselves: the measures are exact, and the
department data never goes through pandas.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Callable

import duckdb
import pandas as pd
import polars as pl

from pipelines.quality.gx_worker import SuiteRun, SuitesWorker, WorkerFailed
from schemas.contract import EXTRACTS

KEY_COLUMNS = {"jumin": "address_code", "zei": "address_code", "fukushi": "address_code",
               "gakureibo": "pupil_id", "shukketsu": "pupil_id", "kenshin": "address_code",
               "jisou": "case_number"}
ROW_BAND = 0.2  # a department's rows may change by ±20 % from one night to the next
LIST_BAND = 0.5  # the list's size may change by ±50 % from the average of the previous nights
MIN_LINK_RATE = 0.95


@dataclass
class Outcome:
    check: str  # asset check name
    subject: str  # extract or measure
    passed: bool
    message: str


def measures(con: duckdb.DuckDBPyConnection, as_of: date, previous: pl.DataFrame) -> pl.DataFrame:
    """One row per department: rows now and at the previous night, the key's null share, quarantined rows."""
    rows = []
    for name in EXTRACTS:
        count, nulls = con.execute(
            f"select count(*), count(*) filter (where {KEY_COLUMNS[name]} is null) from raw.{name}").fetchone()
        quarantined = con.execute("select coalesce(sum(rows_quarantined), 0) from raw.load_log "
                                  "where extract = ? and as_of = ?", [name, as_of]).fetchone()[0]
        before = previous.filter((pl.col("subject") == name) & (pl.col("measure") == "rows"))["value"]
        prev = float(before[0]) if before.len() else None
        rows.append({"extract": name, "rows": count, "previous_rows": prev,
                     "row_change": (count - prev) / prev if prev else 0.0,
                     "key_null_share": nulls / count if count else 0.0, "quarantined_rows": int(quarantined)})
    return pl.DataFrame(rows)


def link_rates(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return con.execute("""select measure, description, unmatched, total,
                                 case when total = 0 then 1.0 else 1 - unmatched / total end as link_rate
                          from marts.link_quality""").pl()


def list_size(con: duckdb.DuckDBPyConnection, as_of: date) -> pl.DataFrame:
    return con.execute("""
        select (select flagged_children from marts.flag_list_runs where as_of = ?) as flagged,
               (select avg(flagged_children) from (select flagged_children from marts.flag_list_runs
                 where as_of < ? order by as_of desc limit 7)) as previous_average""", [as_of, as_of]).pl()


def codes(con: duckdb.DuckDBPyConnection, extract: str) -> pd.DataFrame:
    """The distinct values of each coded column, side by side (shorter columns padded with nulls)."""
    coded = [c for c in EXTRACTS[extract].columns if c.codes]
    values = {c.name: [r[0] for r in con.execute(f"select distinct {c.name} from raw.{extract} "
                                                  f"where {c.name} is not null").fetchall()] for c in coded}
    longest = max((len(v) for v in values.values()), default=0)
    return pd.DataFrame({k: v + [None] * (longest - len(v)) for k, v in values.items()})


def evaluate(con: duckdb.DuckDBPyConnection, as_of: date, previous: pl.DataFrame, worker: "SuitesWorker") \
        -> "Evaluation":
    """The night's measures from the store, sent to the suites in GE's worker (pipelines/quality/gx_worker.py);
    ``Evaluation.judged()`` waits for the verdicts, so that the report is made while GE judges."""

    dept = measures(con, as_of, previous)
    runs = []
    for row in dept.iter_rows(named=True):
        name = row["extract"]
        runs.append(SuiteRun(f"{name}_measures", pd.DataFrame([row]), [
            ("ExpectColumnValuesToBeBetween", {"column": "row_change", "min_value": -ROW_BAND, "max_value": ROW_BAND}),
            ("ExpectColumnValuesToBeBetween", {"column": "key_null_share", "max_value": 0.0})]))
        code_frame = codes(con, name)
        code_expectations = [("ExpectColumnDistinctValuesToBeInSet", {"column": c.name, "value_set": list(c.codes)})
                             for c in EXTRACTS[name].columns if c.codes]
        if code_expectations and len(code_frame):
            runs.append(SuiteRun(f"{name}_codes", code_frame, code_expectations))
    links = link_rates(con)
    runs.append(SuiteRun("link_rates", links.to_pandas(), [
        ("ExpectColumnValuesToBeBetween", {"column": "link_rate", "min_value": MIN_LINK_RATE, "max_value": 1.0})]))
    size = list_size(con, as_of)
    flagged, average = size["flagged"][0] or 0, size["previous_average"][0]
    change = (flagged - average) / average if average else 0.0
    runs.append(SuiteRun("flag_list_size", pd.DataFrame([{"flagged": flagged, "previous_average": average,
                                                          "change": change}]), [
        ("ExpectColumnValuesToBeBetween", {"column": "change", "min_value": -LIST_BAND, "max_value": LIST_BAND})]))

    worker.send(runs)
    return Evaluation(dept, links, flagged, average, change, worker, runs)


@dataclass
class Evaluation:
    """The night's measures (per department, link rates, list size), and GE's verdicts on them to come."""

    dept: pl.DataFrame
    links: pl.DataFrame
    flagged: int
    average: float | None
    change: float
    worker: "SuitesWorker"
    runs: list
    asked_again: str | None = None  # why a new worker was asked (the first died or hung before it answered)

    def judged(self, restart: Callable[[], "SuitesWorker"] | None = None,
               timeout: float | None = None) -> tuple[list[Outcome], Path]:
        """The outcome of every check, and tonight's Data Docs (waits for the worker's answer, at most
        ``timeout`` seconds). A worker that died or hung before it answered (killed, out of memory) is
        replaced by ``restart()`` and asked once more; one that answered with an error is not: it would
        answer the same."""
        validated = self._answer(restart, timeout)
        results = validated.results
        outcomes: list[Outcome] = []
        for row in self.dept.iter_rows(named=True):
            name = row["extract"]
            failed = [r for r in results[f"{name}_measures"] + results.get(f"{name}_codes", []) if not r["success"]]
            message = "; ".join(_describe(name, r, row) for r in failed)
            outcomes.append(Outcome(f"ge_{name}", name, not failed,
                                    message or f"{row['rows']:,}行"
                                    + (f"（前夜比 {row['row_change']:+.1%}）" if row["previous_rows"] else "（最初の夜）")))
        low = self.links.filter(pl.col("link_rate") < MIN_LINK_RATE)
        outcomes.append(Outcome("ge_link_rates", "link_rates", all(r["success"] for r in results["link_rates"]),
                                "; ".join(f"{m}: {r:.1%} linked" for m, r in zip(low["measure"], low["link_rate"]))
                                or f"すべての連携率が {MIN_LINK_RATE:.0%} 以上"))
        average = self.average
        outcomes.append(Outcome("ge_list_size", "flagged_children",
                                all(r["success"] for r in results["flag_list_size"]),
                                f"リスト掲載 {self.flagged:,}人" + (
                                    f"（これまでの夜の平均 {average:,.1f}人に対し {self.change:+.1%}）" if average
                                    else "（最初の夜）")))
        return outcomes, validated.docs

    def _answer(self, restart, timeout):
        try:
            return self.worker.receive(timeout)
        except WorkerFailed as failed:
            if restart is None or self.worker.alive:
                raise
            self.asked_again = str(failed)
            self.worker = restart()
            self.worker.send(self.runs)
            return self.worker.receive(timeout)


def _describe(name: str, result: dict, row: dict) -> str:
    kind, column = result["type"], result["column"]
    if column == "row_change":
        return (f"{name}: rows {row['previous_rows']:,.0f} → {row['rows']:,} ({row['row_change']:+.1%}), "
                f"outside ±{ROW_BAND:.0%}")
    if kind == "expect_column_distinct_values_to_be_in_set":
        unexpected = result["unexpected"] or result["observed_value"]  # GE 1.x observes None for this one
        return f"{name}.{column}: values outside the code list: {unexpected}"
    return f"{name}.{column}: {kind} failed"


def measure_rows(as_of: date, dept: pl.DataFrame, links: pl.DataFrame, summary: dict) -> pl.DataFrame:
    """The night's numbers as (as_of, measure, subject, value): the analysts' dq_nightly table."""
    rows = []
    for r in dept.iter_rows(named=True):
        rows += [("rows", r["extract"], r["rows"]), ("quarantined_rows", r["extract"], r["quarantined_rows"])]
    rows += [("link_rate", m, round(v, 6)) for m, v in zip(links["measure"], links["link_rate"])]
    rows += [("flagged_children", "all", sum(summary.get("flagged", {}).values())),
             ("children", "all", summary.get("children", 0))]
    rows += [("flagged_by_domain", d, v) for d, v in summary.get("by_domain", {}).items()]
    rows += [("flagged_by_office", o, v) for o, v in summary.get("by_office", {}).items()]
    return pl.DataFrame(rows, schema={"measure": pl.String, "subject": pl.String, "value": pl.Float64},
                        orient="row").with_columns(as_of=pl.lit(as_of)).select("as_of", "measure", "subject", "value")
