"""Retention (governance.md rule 7): purge the data of people removed from the registry after a period,
and delete caseworker exports and quarantine files older than theirs. Every purge is audited."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb

from pipelines.core.store import table_exists

# Tables that hold a person's rows, and the column that names the person.
PERSON_TABLES = {f"raw.{prefix}{name}": "address_code" for name in ("jumin", "zei", "fukushi", "gakureibo", "kenshin",
                                                                    "reviews") for prefix in ("", "set_aside_")} | {
    "raw.suspensions": "address_code", "raw.consents": "address_code", "raw.corrections": "person_code",
    "marts.flag_list_history": "address_code"}


@dataclass
class PurgeReport:
    persons: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    folders: list[str] = field(default_factory=list)


def purge_removed_persons(con: duckdb.DuckDBPyConnection, as_of: date, days: int) -> PurgeReport:
    """Delete every row of people whose registry entry says 消除 (転出, 死亡, 職権消除) on or before T − days."""
    cutoff = as_of - timedelta(days=days)
    report = PurgeReport()
    con.execute("BEGIN")
    try:
        con.execute("""CREATE OR REPLACE TEMP TABLE purge_persons AS
                       SELECT address_code FROM raw.jumin
                       WHERE resident_status = '消除' AND change_date IS NOT NULL AND change_date <= ?""", [cutoff])
        report.persons = con.execute("SELECT count(*) FROM purge_persons").fetchone()[0]
        pupils = "SELECT pupil_id FROM raw.gakureibo WHERE address_code IN (SELECT address_code FROM purge_persons)"
        if table_exists(con, "raw.set_aside_gakureibo"):
            pupils += (" UNION SELECT pupil_id FROM raw.set_aside_gakureibo "
                       "WHERE address_code IN (SELECT address_code FROM purge_persons)")
        for table in ("raw.shukketsu", "raw.set_aside_shukketsu"):
            if table_exists(con, table) and table_exists(con, "raw.gakureibo"):
                report.rows[table] = con.execute(f"DELETE FROM {table} WHERE pupil_id IN ({pupils})").fetchone()[0]
        for table, column in PERSON_TABLES.items():
            if table_exists(con, table):
                report.rows[table] = con.execute(
                    f"DELETE FROM {table} WHERE {column} IN (SELECT address_code FROM purge_persons)").fetchone()[0]
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return report


def purge_old_folders(root: Path, as_of: date, days: int) -> list[str]:
    """Delete dated folders (exports/<as-of>, quarantine/<as-of>) older than T − days."""
    removed = []
    for folder in sorted(Path(root).glob("*")):
        try:
            dated = date.fromisoformat(folder.name)
        except ValueError:
            continue
        if folder.is_dir() and dated < as_of - timedelta(days=days):
            shutil.rmtree(folder)
            removed.append(str(folder))
    return removed
