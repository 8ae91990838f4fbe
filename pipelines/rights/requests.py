"""Residents' rights in the data (../shared/spec/rights.md): corrections (訂正), suspension of use (利用停止),
the lawful basis of consent (同意), and alerts on unusual access.

The central data manager drops ``teisei_``, ``teishi_`` and ``doui_<YYYYMMDD>.csv`` into the landing
folder; each file is read once (by sha256) under the same rules as an extract (quarantine with 行番号 and
理由, audit). After the departments' files are loaded and before the models run, the rights are applied
to the restricted store:

- **set aside**: every row of a suspended person (from 開始日 to 終了日), and in consent mode every row of
  anyone outside a consenting child's household, moves from ``raw.<extract>`` to ``raw.set_aside_<extract>``
  (and back when the suspension ends), so no model, list or mart sees it;
- **corrected**: an accepted correction changes the value (or removes the record) in ``raw.<extract>``
  and marks the row (``_corrections``) so that a reason resting on it says （訂正済 受付番号）; once the
  department's own file agrees, the correction is reported as reflected and no longer applied.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl

from pipelines.core.clock import TOKYO
from pipelines.core.store import incoming_transaction, table_exists
from pipelines.ingest.extracts import LINE, ExtractFile, ReadResult, ValidatedExtract, read_extract, validate
from pipelines.ingest.normalize import normalise_column
from schemas.contract import EXTRACTS
from schemas.rights import REQUESTS, SCHEMAS

# the key of a department's row, as a correction names it (行の鍵: 列名=値;列名=値)
ROW_KEYS = {name: tuple(e.column(c).japanese for c in e.unique) for name, e in EXTRACTS.items()} | {
    "fukushi": ("宛名番号", "制度", "開始日")}
# the tables that hold a person's rows, and the column that names the person (attendance: the pupil)
# (The 児童相談所's rows name no 宛名番号: they are a person's through raw.jisou_links once linked, so a
# suspension does not move them — the suspended child is out of the population, and C4 cannot fire.)
PERSON_TABLES = {**{name: "pupil_id" if name == "shukketsu" else "address_code" for name in EXTRACTS
                    if name != "jisou"}, "reviews": "address_code"}
TABLES = {"teisei": "raw.corrections", "teishi": "raw.suspensions", "doui": "raw.consents"}


@dataclass(frozen=True)
class RequestFile:
    path: Path
    kind: str  # teisei | teishi | doui
    dated: date

    @property
    def name(self) -> str:
        return self.path.name


def request_files(landing: Path, as_of: date) -> list[RequestFile]:
    """teisei_/teishi_/doui_<YYYYMMDD>.csv dated ≤ T, oldest first."""
    files = []
    for kind in REQUESTS:
        for path in sorted(Path(landing).glob(f"{kind}_*.csv")):
            try:
                dated = datetime.strptime(path.stem.split("_", 1)[1], "%Y%m%d").date()
            except ValueError:
                continue
            if dated <= as_of:
                files.append(RequestFile(path, kind, dated))
    return sorted(files, key=lambda f: (f.dated, f.kind, f.name))


# ------------------------------------------------------------------------------------------ reading


def _canonical(column, text: str | None) -> tuple[str | None, str | None]:
    """(the value as the store writes it, or a problem) for one value of a department's column."""
    if text is None or not text.strip(" \u3000"):
        return None, (f"{column.japanese}: 必須項目です" if column.required else None)
    frame = pl.DataFrame({column.japanese: [text]})
    value, problem = normalise_column(column)
    out = frame.select(value.alias("v"), problem.alias("p")).row(0)
    if out[1]:
        return None, out[1]
    v = out[0]
    return (v.isoformat() if isinstance(v, date) else str(v)), None


def parse_correction(extract_name: str | None, row_key: str | None, column_ja: str | None,
                     new_value: str | None) -> tuple[dict | None, str | None, str | None, str | None]:
    """(key {column: value}, column's English name or None for the whole record, the new value as stored,
    problem) of one correction; the problem is None when it can be applied."""
    if extract_name not in EXTRACTS:
        return None, None, None, None  # an unknown 抽出: the code list of the schema names it
    columns = {c.japanese: c for c in EXTRACTS[extract_name].columns}
    wanted = ROW_KEYS[extract_name]
    form = "・".join(f"{w}=値" for w in wanted)
    key: dict[str, str] = {}
    for part in (row_key or "").split(";"):
        name, sep, text = (x.strip(" \u3000") for x in part.partition("="))
        if not sep or name not in wanted or columns[name].name in key:
            return None, None, None, f"行の鍵: 「{row_key}」は {form} の形ではありません"
        value, problem = _canonical(columns[name], text)
        if problem or value is None:
            return None, None, None, f"行の鍵: {problem or name + ' が空です'}"
        key[columns[name].name] = value
    if len(key) != len(wanted):
        return None, None, None, f"行の鍵: {form} のすべてが要ります"
    column_ja = (column_ja or "").strip(" \u3000")
    if not column_ja:  # the whole record is wrong: removed
        if new_value and new_value.strip(" \u3000"):
            return None, None, None, "項目が空（レコード全体の削除）のときは訂正後の値も空にしてください"
        return key, None, None, None
    if column_ja not in columns:
        return None, None, None, f"項目: 「{column_ja}」は {extract_name} の列ではありません"
    if column_ja in wanted:
        return None, None, None, "項目: 鍵の列は訂正できません（レコードの削除と追加で訂正してください）"
    value, problem = _canonical(columns[column_ja], new_value)
    if problem:
        return None, None, None, f"訂正後の値: {problem}"
    return key, columns[column_ja].name, value, None


@dataclass
class RequestResult:
    validated: ValidatedExtract
    parsed: pl.DataFrame  # the valid rows as stored


def read_request(file: RequestFile, as_of: date) -> RequestResult:
    extract = REQUESTS[file.kind]
    read = read_extract(ExtractFile(file.path, file.kind, file.dated), extract)
    extra = pl.DataFrame(schema={LINE: pl.Int64, "problem": pl.String})
    parsed = None
    if file.kind == "teisei":
        rows = []
        for r in read.raw.iter_rows(named=True):
            key, column, value, problem = parse_correction(
                (r["抽出"] or "").strip(" \u3000"), r["行の鍵"], r["項目"], r["訂正後の値"])
            rows.append({LINE: r[LINE], "key": json.dumps(key, ensure_ascii=False, sort_keys=True) if key else None,
                         "column_name": column, "canonical_value": value, "problem": problem})
        parsed = pl.DataFrame(rows, schema={LINE: pl.Int64, "key": pl.String, "column_name": pl.String,
                                            "canonical_value": pl.String, "problem": pl.String})
        extra = parsed.filter(pl.col("problem").is_not_null()).select(LINE, "problem")
    read = ReadResult(read.file, read.encoding, read.sha256, read.size_bytes, read.raw,
                      pl.concat([read.shape_problems, extra]), read.extra_columns, read.blank_lines)
    validated = validate(read, as_of, extract, SCHEMAS[file.kind](as_of))
    valid = validated.valid
    if parsed is not None:
        valid = valid.join(parsed.drop("problem"), on=LINE, how="left")
    return RequestResult(validated, valid)


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    common = "_source_file VARCHAR, _source_line BIGINT, _file_sha256 VARCHAR, _read_as_of DATE, _loaded_seq BIGINT"
    con.execute(f"""CREATE TABLE IF NOT EXISTS raw.corrections (receipt VARCHAR, extract VARCHAR, row_key VARCHAR,
        key VARCHAR, column_ja VARCHAR, column_name VARCHAR, new_value VARCHAR, reason VARCHAR, person_code VARCHAR,
        status VARCHAR, applied_on DATE, reflected_on DATE, {common})""")
    con.execute(f"""CREATE TABLE IF NOT EXISTS raw.suspensions (receipt VARCHAR, address_code VARCHAR,
        start_date DATE, end_date DATE, reason_kind VARCHAR, {common})""")
    con.execute(f"""CREATE TABLE IF NOT EXISTS raw.consents (receipt VARCHAR, address_code VARCHAR,
        consented_on DATE, withdrawn_on DATE, {common})""")
    con.execute("CREATE TABLE IF NOT EXISTS raw.screening_scope (address_code VARCHAR)")
    con.execute("CREATE TABLE IF NOT EXISTS raw.set_aside_persons (address_code VARCHAR, set_aside_by VARCHAR)")


def store_request(con: duckdb.DuckDBPyConnection, file: RequestFile, result: RequestResult, as_of: date,
                  before_commit=lambda: None) -> None:
    """The file's valid rows into raw.corrections / suspensions / consents, in one transaction."""
    table = TABLES[file.kind]
    valid = result.parsed.rename({LINE: "_source_line"})
    if file.kind == "teisei":
        valid = valid.rename({"canonical_value": "new_value_canonical"})
    with incoming_transaction(con, valid.to_arrow()):
        seq = con.execute(f"select coalesce(max(_loaded_seq), 0) + 1 from {table}").fetchone()[0]
        provenance = [file.name, result.validated.read.sha256, as_of, seq]
        if file.kind == "teisei":
            con.execute(f"""INSERT INTO {table}
                SELECT receipt, extract, row_key, key, column_ja, column_name, new_value_canonical, reason,
                       json_extract_string(key, '$.address_code'),  -- a pupil's: looked up when applied
                       'active', NULL, NULL, ?, _source_line, ?, ?, ?
                FROM incoming""", provenance)
        elif file.kind == "teishi":
            con.execute(f"INSERT INTO {table} SELECT receipt, address_code, start_date, end_date, reason_kind, "
                        "?, _source_line, ?, ?, ? FROM incoming", provenance)
        else:
            con.execute(f"INSERT INTO {table} SELECT receipt, address_code, consented_on, withdrawn_on, "
                        "?, _source_line, ?, ?, ? FROM incoming", provenance)
        before_commit()


def read_files(con: duckdb.DuckDBPyConnection) -> set[str]:
    if not table_exists(con, "raw.load_log"):
        return set()
    return {r[0] for r in con.execute("select sha256 from raw.load_log where extract in ('teisei', 'teishi', 'doui')")
            .fetchall()}


# ------------------------------------------------------------------------------------------ set aside


def set_aside_table(extract: str) -> str:
    return f"raw.set_aside_{extract}"


def _department_tables(con) -> list[tuple[str, str]]:
    return [(name, col) for name, col in PERSON_TABLES.items() if table_exists(con, f"raw.{name}")]


def exclusions(con: duckdb.DuckDBPyConnection, as_of: date, lawful_basis: str) -> dict[str, int]:
    """Who is set aside tonight, in raw.set_aside_persons (address_code, by what): suspended people, and
    in consent mode everyone outside a consenting child's household. raw.screening_scope holds the
    consenting children (consent mode only). Returns the number of people per cause."""
    con.execute("DELETE FROM raw.set_aside_persons")
    con.execute("DELETE FROM raw.screening_scope")
    con.execute("""INSERT INTO raw.set_aside_persons
                   SELECT address_code, 'teishi:' || min(receipt) FROM raw.suspensions
                   WHERE start_date <= ? AND (end_date IS NULL OR end_date >= ?) GROUP BY address_code""",
                [as_of, as_of])
    if lawful_basis == "consent":
        con.execute("""INSERT INTO raw.screening_scope
                       SELECT DISTINCT address_code FROM raw.consents
                       WHERE consented_on <= ? AND (withdrawn_on IS NULL OR withdrawn_on > ?)""", [as_of, as_of])
        everyone = " UNION ".join(
            f"SELECT address_code FROM {t}" for name, _ in _department_tables(con) if name != "shukketsu"
            for t in (f"raw.{name}", set_aside_table(name)) if table_exists(con, t))
        jumin = "SELECT address_code, household_code FROM raw.jumin" + (
            f" UNION ALL SELECT address_code, household_code FROM {set_aside_table('jumin')}"
            if table_exists(con, set_aside_table("jumin")) else "")
        con.execute(f"""INSERT INTO raw.set_aside_persons
            WITH registry AS ({jumin}),
                 members AS (SELECT r.address_code FROM registry r WHERE r.household_code IN (
                     SELECT household_code FROM registry WHERE address_code IN (SELECT address_code FROM raw.screening_scope)))
            SELECT DISTINCT address_code, 'consent' FROM ({everyone})
            WHERE address_code NOT IN (SELECT address_code FROM members)
              AND address_code NOT IN (SELECT address_code FROM raw.set_aside_persons)""")
    return dict(con.execute("SELECT split_part(set_aside_by, ':', 1), count(*) FROM raw.set_aside_persons "
                            "GROUP BY 1").fetchall())


def repartition(con: duckdb.DuckDBPyConnection, name: str, person: str) -> None:
    """Move the rows of people set aside tonight out of raw.<name>, and back those no longer set aside
    (rows a correction removed stay aside), in one transaction."""
    table, side = f"raw.{name}", set_aside_table(name)
    con.execute(f"CREATE TABLE IF NOT EXISTS {side} AS SELECT *, NULL::VARCHAR AS _set_aside_by FROM {table} "
                "WITH NO DATA")
    for column, kind in con.execute(f"SELECT column_name, data_type FROM information_schema.columns WHERE "
                                    f"table_schema = 'raw' AND table_name = '{name}'").fetchall():
        con.execute(f'ALTER TABLE {side} ADD COLUMN IF NOT EXISTS "{column}" {kind}')
    if person == "pupil_id":
        gakureibo = "SELECT address_code, pupil_id FROM raw.gakureibo" + (
            f" UNION ALL SELECT address_code, pupil_id FROM {set_aside_table('gakureibo')}"
            if table_exists(con, set_aside_table("gakureibo")) else "")
        aside = f"""SELECT g.pupil_id AS key, any_value(p.set_aside_by) AS set_aside_by FROM ({gakureibo}) g
                    JOIN raw.set_aside_persons p USING (address_code) GROUP BY g.pupil_id"""
    else:
        aside = "SELECT address_code AS key, set_aside_by FROM raw.set_aside_persons"
    con.execute("BEGIN")
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE aside AS {aside}")
        back = f"_set_aside_by NOT LIKE 'teisei:%' AND {person} NOT IN (SELECT key FROM aside)"
        con.execute(f"INSERT INTO {table} BY NAME SELECT * EXCLUDE (_set_aside_by) FROM {side} WHERE {back}")
        con.execute(f"DELETE FROM {side} WHERE {back}")
        con.execute(f"INSERT INTO {side} BY NAME SELECT t.*, a.set_aside_by AS _set_aside_by FROM {table} t "
                    f"JOIN aside a ON a.key = t.{person}")
        con.execute(f"DELETE FROM {table} WHERE {person} IN (SELECT key FROM aside)")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def count_excluded(con: duckdb.DuckDBPyConnection, as_of: date, run_id: str) -> dict[str, int]:
    """Per file loaded tonight: how many of its rows are set aside; the load log then reads
    rows read = loaded + quarantined + excluded. Returns the excluded rows per extract."""
    by_extract: Counter = Counter()
    files = con.execute("SELECT extract, file_name FROM raw.load_log WHERE as_of = ? AND run_id = ? "
                        "AND status = 'loaded'", [as_of, run_id]).fetchall()
    for extract, file_name in files:
        side = set_aside_table(extract)
        if extract not in PERSON_TABLES or not table_exists(con, side):
            continue
        n = con.execute(f"SELECT count(*) FROM {side} WHERE _source_file = ?", [file_name]).fetchone()[0]
        con.execute("""UPDATE raw.load_log SET rows_excluded = ?,
                       rows_loaded = rows_read - rows_quarantined - coalesce(rows_skipped, 0) - ?
                       WHERE as_of = ? AND run_id = ? AND file_name = ? AND status = 'loaded'""",
                    [n, n, as_of, run_id, file_name])
        by_extract[extract] += n
    return dict(by_extract)


# ------------------------------------------------------------------------------------------ corrections


@dataclass
class CorrectionsApplied:
    applied: list[str] = field(default_factory=list)  # receipts applied tonight
    reflected: list[str] = field(default_factory=list)  # receipts the department's data now agrees with
    not_found: list[str] = field(default_factory=list)  # receipts whose row is in no table tonight


def _key_sql(key: dict) -> tuple[str, list]:
    return " AND ".join(f"CAST({k} AS VARCHAR) = ?" for k in key), list(key.values())


def mark_columns(con: duckdb.DuckDBPyConnection) -> None:
    """Every department table (and its set-aside rows) has the column that names the corrections applied
    to a row: a snapshot reloaded tonight comes without it."""
    for name in EXTRACTS:
        for t in (f"raw.{name}", set_aside_table(name)):
            if table_exists(con, t):
                con.execute(f"ALTER TABLE {t} ADD COLUMN IF NOT EXISTS _corrections VARCHAR[]")


def apply_corrections(con: duckdb.DuckDBPyConnection, as_of: date) -> CorrectionsApplied:
    out = CorrectionsApplied()
    mark_columns(con)
    if table_exists(con, "raw.gakureibo"):  # whose row a pupil-keyed correction concerns (for disclosure)
        con.execute(f"""UPDATE raw.corrections c SET person_code = g.address_code
                        FROM (SELECT address_code, pupil_id FROM raw.gakureibo
                              {'UNION ALL SELECT address_code, pupil_id FROM raw.set_aside_gakureibo'
                               if table_exists(con, 'raw.set_aside_gakureibo') else ''}) g
                        WHERE c.person_code IS NULL AND g.pupil_id = json_extract_string(c.key, '$.pupil_id')""")
    active = con.execute("SELECT receipt, extract, key, column_name, new_value FROM raw.corrections "
                         "WHERE status = 'active' ORDER BY _loaded_seq, _source_line").fetchall()
    for receipt, extract, key_json, column, value in active:
        table, side = f"raw.{extract}", set_aside_table(extract)
        if not table_exists(con, table):
            continue
        where, params = _key_sql(json.loads(key_json))
        mark = f"list_contains(coalesce(_corrections, []), '{receipt}')"
        rows = con.execute(f"SELECT count(*), count(*) FILTER (WHERE {mark}) FROM {table} WHERE {where}",
                           params).fetchone()
        aside = con.execute(f"SELECT count(*) FROM {side} WHERE {where}", params).fetchone()[0] \
            if table_exists(con, side) else 0
        if column is None:  # the whole record is wrong
            if rows[0] == 0 and aside == 0:
                _reflected(con, receipt, as_of, out)
            elif rows[0]:
                con.execute("BEGIN")
                con.execute(f"INSERT INTO {side} BY NAME SELECT *, 'teisei:{receipt}' AS _set_aside_by FROM {table} "
                            f"WHERE {where}", params)
                con.execute(f"DELETE FROM {table} WHERE {where}", params)
                con.execute("UPDATE raw.corrections SET applied_on = ? WHERE receipt = ?", [as_of, receipt])
                con.execute("COMMIT")
                out.applied.append(receipt)
            continue
        if rows[0] == 0:
            if aside == 0:
                out.not_found.append(receipt)
            continue
        if rows[1]:  # applied on an earlier night, and the table has not been reloaded since
            continue
        same = con.execute(f"SELECT count(*) FILTER (WHERE CAST({column} AS VARCHAR) IS NOT DISTINCT FROM ?) "
                           f"FROM {table} WHERE {where}", [value, *params]).fetchone()[0]
        if same == rows[0]:
            _reflected(con, receipt, as_of, out)
            continue
        kind = con.execute("SELECT data_type FROM information_schema.columns WHERE table_schema = 'raw' "
                           "AND table_name = ? AND column_name = ?", [extract, column]).fetchone()[0]
        con.execute(f"UPDATE {table} SET {column} = CAST(? AS {kind}), "
                    f"_corrections = list_append(coalesce(_corrections, []), '{receipt}') WHERE {where}",
                    [value, *params])
        con.execute("UPDATE raw.corrections SET applied_on = ? WHERE receipt = ?", [as_of, receipt])
        out.applied.append(receipt)
    return out


def _reflected(con, receipt: str, as_of: date, out: CorrectionsApplied) -> None:
    con.execute("UPDATE raw.corrections SET status = 'reflected', reflected_on = ? WHERE receipt = ?",
                [as_of, receipt])
    out.reflected.append(receipt)


# ------------------------------------------------------------------------------------------ access alerts


def access_counts(entries: list[dict]) -> Counter:
    """Re-identifications and disclosure reports per (OS user, day in Tokyo), from audit log entries."""
    counts: Counter = Counter()
    for e in entries:
        if e["event"] in ("reidentify", "disclosure"):
            day = datetime.fromisoformat(e["at"]).astimezone(TOKYO).date().isoformat()
            counts[(e["details"].get("user", "?"), day)] += 1
    return counts


def access_alerts(entries: list[dict], limit: int) -> list[dict]:
    """Users over ``limit`` requests in a day (Tokyo), for each day with a request since the previous
    night finished (the whole log at first), counting all of that day's requests: a day split by a
    night at 02:00 is still one day.

    "Since" is by place in the log, not by time: entries are stamped to the second, and a request made in
    the second the previous night finished is still one of tonight's."""
    starts = [i for i, e in enumerate(entries) if e["event"] == "run_started"]
    latest = starts[-1] if starts else len(entries)
    # the previous night: the last run that finished before this night (the latest start) began
    finished = [i for i, e in enumerate(entries[:latest]) if e["event"] == "run_finished"]
    since = finished[-1] + 1 if finished else 0
    whole = access_counts(entries)
    return [{"user": user, "day": day, "requests": whole[(user, day)], "limit": limit}
            for user, day in sorted(access_counts(entries[since:])) if whole[(user, day)] > limit]


def purge_date(change_date: date | None, days: int) -> date | None:
    return change_date + timedelta(days=days) if change_date else None

