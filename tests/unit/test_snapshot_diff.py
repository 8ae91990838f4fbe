"""A registry loaded as a diff against the file its table holds gives the table, quarantine, reasons and
counts that loading the same file whole gives (pipelines/ingest/line_index.py) — whatever changed between the two
files (lines edited, moved, removed, added, repeated, bad, blank) and whatever happened to the table since
(rows corrected, set aside, purged), at any batch size; and a file it cannot diff is read whole."""

import os
import random
from datetime import date, timedelta
from pathlib import Path

import pytest

from pipelines.core.store import connect
from pipelines.ingest.extracts import ExtractFile
from pipelines.ingest.line_index import index_table
from pipelines.ingest.load import log_file, replace_snapshot
from pipelines.ingest.streaming import validate_in_batches
from schemas.contract import EXTRACTS
from schemas.extracts import SCHEMAS
from tests.helpers import JUMIN, person

FIRST = date(2026, 11, 29)


def write(folder: Path, day: date, rows: list[str]) -> ExtractFile:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"jumin_{day:%Y%m%d}.csv"
    path.write_bytes(("\r\n".join([JUMIN, *rows]) + "\r\n").encode("cp932"))
    return ExtractFile(path, "jumin", day)


def load(home: Path, file: ExtractFile, batch_bytes: int, before=None):
    """The file loaded as the nightly asset loads a snapshot read in batches; (validated, table)."""
    with connect(home) as con:
        if before:
            before(con)
        validated = validate_in_batches(con, file, file.extracted_on, batch_bytes)
        replace_snapshot(con, validated, lambda: log_file(con, file, status="loaded", as_of=file.extracted_on,
                                                          run_id="test", validated=validated))
        table = con.execute("SELECT * FROM raw.jumin").pl().sort("_source_line")
        if "_corrections" in table.columns:  # the rights step's column: none of the rows kept has a correction
            assert table["_corrections"].null_count() == table.height
            table = table.drop("_corrections")
        aside = con.execute("SELECT count(*) FROM raw.set_aside_jumin").fetchone()[0] \
            if con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'set_aside_jumin'").fetchone()[0] \
            else 0
    return validated, table, aside


def assert_same(diff, whole) -> None:
    (d, d_table, d_aside), (w, w_table, _) = diff, whole
    assert d_table.to_dicts() == w_table.to_dicts()
    assert d.quarantine.to_dicts() == w.quarantine.to_dicts()
    assert d.reasons == w.reasons
    assert (d.read.rows_read, d.rows_loaded, d.rows_quarantined, d.read.blank_lines, d.read.sha256, d.read.encoding) \
        == (w.read.rows_read, w.rows_loaded, w.rows_quarantined, w.read.blank_lines, w.read.sha256, w.read.encoding)
    assert d.reconciles() and d_aside == 0


def registry(rng: random.Random, n: int) -> list[str]:
    rows = [person(10_000 + i, birth=f"20{rng.randint(10, 20)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}")
            for i in range(n)]
    rows[rng.randrange(n)] = person(10_000 + rng.randrange(n))  # a repeated key
    rows[rng.randrange(n)] = person(99_001, birth="1850-01-01")  # out of range
    rows[rng.randrange(n)] = ""  # blank
    return rows


def edited(rng: random.Random, rows: list[str], day: date) -> list[str]:
    """The next night's file: every kind of change a registry's file can have, at random places."""
    rows = list(rows)
    for _ in range(rng.randint(0, 8)):  # a person's line changed (a move, a name)
        i = rng.randrange(len(rows))
        rows[i] = person(10_000 + i, name=f"転居{rng.randint(0, 9)}")
    for _ in range(rng.randint(0, 5)):  # lines removed (moved out)
        del rows[rng.randrange(len(rows))]
    for _ in range(rng.randint(0, 5)):  # births, anywhere (lines after them move)
        rows.insert(rng.randrange(len(rows) + 1), person(50_000 + rng.randrange(10**6), birth=str(day)))
    choices = [
        lambda: rows.insert(rng.randrange(len(rows)), rows[rng.randrange(len(rows))]),  # a line sent twice
        lambda: rows.insert(rng.randrange(len(rows)), person(10_000 + rng.randrange(len(rows)), name="重複")),
        lambda: rows.append(rows[rng.randrange(len(rows))]),  # the last line a copy of an earlier one
        lambda: rows.insert(rng.randrange(len(rows)), ""),
        lambda: rows.insert(rng.randrange(len(rows)), "1340,77,見守"),  # fields missing
        lambda: rows.insert(rng.randrange(len(rows)), person(60_000, birth=str(day + timedelta(days=1)))),
        lambda: rows.insert(rng.randrange(len(rows)), person(60_001, birth=str(day))),  # born on the day
        lambda: rows.reverse(),  # every line moved
    ]
    for _ in range(rng.randint(0, 3)):
        rng.choice(choices)()
    return rows


def changed_since(rng: random.Random):
    """What the night's rights and retention steps may have done to the table since it was loaded."""
    def apply(con):
        codes = [c for (c,) in con.execute("SELECT address_code FROM raw.jumin USING SAMPLE 3 ROWS "
                                           "(reservoir, 7)").fetchall()]
        con.execute("ALTER TABLE raw.jumin ADD COLUMN IF NOT EXISTS _corrections VARCHAR[]")
        if rng.random() < 0.5:  # a correction applied (訂正)
            con.execute("UPDATE raw.jumin SET full_name = '訂正 後', _corrections = ['T-1'] WHERE address_code = ?",
                        [codes[0]])
        if rng.random() < 0.5:  # a person set aside (利用停止)
            con.execute("CREATE TABLE IF NOT EXISTS raw.set_aside_jumin AS SELECT *, NULL::VARCHAR AS _set_aside_by "
                        "FROM raw.jumin WITH NO DATA")
            con.execute("INSERT INTO raw.set_aside_jumin SELECT *, 'teishi:1' FROM raw.jumin WHERE address_code = ?",
                        [codes[1]])
            con.execute("DELETE FROM raw.jumin WHERE address_code = ?", [codes[1]])
        if rng.random() < 0.5:  # a person purged (retention)
            con.execute("DELETE FROM raw.jumin WHERE address_code = ?", [codes[2]])
    return apply


# two seeds in make check, eight in make test (≈ 10 s each); MIMAMORI_DIFF_SEEDS=50 make test for a longer search
DIFF_SEEDS = int(os.environ.get("MIMAMORI_DIFF_SEEDS", "8"))


@pytest.mark.parametrize("seed", [pytest.param(s, marks=[pytest.mark.slow] if s > 1 else []) for s in range(DIFF_SEEDS)])
def test_a_diff_gives_what_loading_the_file_whole_gives(tmp_path, seed):
    rng = random.Random(seed)
    batch_bytes = rng.choice([900, 4_000, 30_000, 10**8])
    rows = registry(rng, 300)
    home, kept_any = tmp_path / "home", False
    load(home, write(tmp_path / "1", FIRST, rows), batch_bytes)
    for night in range(1, 4):  # each night diffs against the one before
        day = FIRST + timedelta(days=night)
        rows = edited(rng, rows, day)
        file = write(tmp_path / str(night + 1), day, rows)
        diff = load(home, file, batch_bytes, before=changed_since(rng))
        whole = load(tmp_path / f"whole{night}", file, batch_bytes)
        assert_same(diff, whole)
        kept_any |= diff[0].rows_kept > 0
    assert kept_any


def test_unchanged_lines_are_kept_and_only_the_others_read(tmp_path, monkeypatch):
    rows = [person(10_000 + i) for i in range(400)]
    home = tmp_path / "home"
    load(home, write(tmp_path / "1", FIRST, rows), 2_000)
    rows[100] = person(10_100, name="転居 後")
    rows.insert(5, person(77_777))
    read = []
    from pipelines.ingest import extracts as ingest
    from pipelines.ingest import streaming
    original = ingest.parse_body

    def counting(file, body, *args, **kwargs):
        read.append(body.count(b"\n"))
        return original(file, body, *args, **kwargs)

    monkeypatch.setattr(streaming, "parse_body", counting)
    day = FIRST + timedelta(days=1)
    diff = load(home, write(tmp_path / "2", day, rows), 2_000)
    assert sum(read) == 2 and diff[0].rows_kept == 399 and diff[0].rows_staged == 2
    assert diff[1].filter(diff[1]["address_code"] == "000000000010100")["full_name"].to_list() == ["転居 後"]
    assert diff[1]["_source_line"].to_list() == list(range(2, 403))


@pytest.mark.parametrize("change", ["header", "encoding", "code", "older file"])
def test_a_file_that_cannot_be_diffed_is_read_whole(tmp_path, monkeypatch, change):
    from pipelines.ingest import line_index

    rows = [person(10_000 + i) for i in range(200)]
    home, day = tmp_path / "home", FIRST + timedelta(days=1)
    load(home, write(tmp_path / "1", FIRST, rows), 2_000)
    rows[3] = person(10_003, name="転居 後")
    file = write(tmp_path / "2", day, rows)
    if change == "header":  # the same columns in another order: every line reads differently
        file.path.write_bytes(file.path.read_bytes().replace(JUMIN.encode("cp932"), ",".join(
            JUMIN.split(",")[::-1]).encode("cp932"), 1).replace(b"\r\n", b"\r\n", 1))
    elif change == "encoding":  # the same text in UTF-8: its bytes would be another file's
        file.path.write_bytes(file.path.read_bytes().decode("cp932").encode("utf-8"))
    elif change == "code":
        monkeypatch.setattr(line_index, "signature", lambda: "another version of the reading code")
    else:
        file = write(tmp_path / "2", FIRST - timedelta(days=1), rows)
    validated, table, _ = load(home, file, 2_000)
    assert validated.kept is None and validated.rows_kept == 0
    assert (validated.diff_note != "") == (change in ("header", "encoding"))
    whole = load(tmp_path / "whole", file, 2_000)
    assert validated.quarantine.to_dicts() == whole[0].quarantine.to_dicts()
    assert table.to_dicts() == whole[1].to_dicts()


def test_a_load_without_an_index_drops_the_old_one(tmp_path):
    """A file read whole (small) replaces the table: the index of the file before must not survive it."""
    rows = [person(10_000 + i) for i in range(200)]
    home = tmp_path / "home"
    load(home, write(tmp_path / "1", FIRST, rows), 2_000)
    with connect(home) as con:
        assert con.execute(f"SELECT count(*) FROM {index_table('jumin')}").fetchone()[0] == 200  # the lines after the header
    rows.insert(0, person(88_888))
    load(home, write(tmp_path / "2", FIRST + timedelta(days=1), rows), 10**8)  # one batch: indexed too
    from pipelines.ingest.extracts import read_extract, validate

    file = write(tmp_path / "3", FIRST + timedelta(days=2), rows[1:])
    with connect(home) as con:
        whole = validate(read_extract(file), file.extracted_on)
        replace_snapshot(con, whole, lambda: log_file(con, file, status="loaded", as_of=file.extracted_on,
                                                     run_id="t", validated=whole))
        assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = '_line_index_jumin'"
                           ).fetchone()[0] == 0


@pytest.mark.parametrize("copy_at", ["end", "before"])
def test_a_line_sent_twice_keeps_the_row_once_and_quarantines_the_later_line(tmp_path, copy_at):
    """Both copies match the row the earlier file loaded: the first keeps it, the later is a repeat (the
    dirty municipality's registry ends with such a copy)."""
    rows = [person(10_000 + i) for i in range(300)]
    home = tmp_path / "home"
    load(home, write(tmp_path / "1", FIRST, rows), 2_000)
    rows = rows + [rows[150]] if copy_at == "end" else rows[:10] + [rows[150]] + rows[10:]
    file = write(tmp_path / "2", FIRST + timedelta(days=1), rows)
    diff, whole = load(home, file, 2_000), load(tmp_path / "whole", file, 2_000)
    assert_same(diff, whole)
    first, later = (152, 302) if copy_at == "end" else (12, 153)
    assert diff[0].quarantine.select("行番号", "理由").rows() == [(later, f"宛名番号 が重複しています（{first}行目と同じ）")]
    assert (diff[0].rows_kept, diff[0].rows_staged) == (300, 0)  # the later copy left the stage for the quarantine


@pytest.mark.parametrize("extract", [name for name, e in EXTRACTS.items() if e.snapshot])
def test_a_snapshots_checks_only_loosen_as_its_extraction_date_grows(extract):
    """What lets a row loaded from an earlier file stand for the same line in a later one: every check
    that depends on the extraction date accepts at a later date whatever it accepted at an earlier one
    (an upper bound that grows, a lower bound that stays), and no other check depends on it."""
    early, late = SCHEMAS[extract](date(2026, 4, 1)), SCHEMAS[extract](date(2027, 6, 30))
    for name, column in early.columns.items():
        for before, after in zip(column.checks, late.columns[name].checks, strict=True):
            assert before.name == after.name, (extract, name)
            stats, later = dict(before.statistics), dict(after.statistics)
            if "max_value" in stats and isinstance(stats["max_value"], (date, int)) and not isinstance(
                    stats["max_value"], bool):
                assert later.pop("max_value") >= stats.pop("max_value"), (extract, name)
            assert later == stats, (extract, name, before.name)
    assert [c.name for c in early.checks] == [c.name for c in late.checks]
