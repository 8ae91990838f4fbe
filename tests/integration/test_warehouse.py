"""Loading into the restricted store: deltas are upserted by key, in one transaction, and stay unique."""

import dataclasses
from datetime import timedelta

import polars as pl
import pytest

from pipelines.core.store import connect
from pipelines.ingest.extracts import ExtractFile, landing_files, read_extract, validate
from pipelines.ingest.load import upsert_delta
from schemas.contract import EXTRACTS
from tests.helpers import AS_OF


@pytest.fixture
def attendance_loaded(clean_municipality, tmp_path):
    """The generated attendance base file loaded into a fresh store."""
    base = landing_files(clean_municipality / "landing", AS_OF - timedelta(days=1))["shukketsu"][0]
    validated = validate(read_extract(base), base.extracted_on)
    with connect(tmp_path) as con:
        upsert_delta(con, validated, EXTRACTS["shukketsu"].unique)
    return tmp_path, validated


def _as_delta(validated, rows: pl.DataFrame):
    """The same rows as if a later delta file carried them."""
    later = ExtractFile(validated.read.file.path, "shukketsu", validated.read.file.extracted_on + timedelta(days=1))
    return dataclasses.replace(validated, valid=rows, read=dataclasses.replace(validated.read, file=later))


def test_a_delta_replaces_the_rows_of_its_keys(attendance_loaded):
    home, validated = attendance_loaded
    changed = validated.valid.head(5).with_columns(attendance=pl.lit("出席停止"))
    with connect(home) as con:
        before = con.execute("select count(*) from raw.shukketsu").fetchone()[0]
        upsert_delta(con, _as_delta(validated, changed), EXTRACTS["shukketsu"].unique)
        after = con.execute("select count(*), count(*) filter (attendance = '出席停止' "
                            "and _extracted_on > ?) from raw.shukketsu", [validated.read.file.extracted_on]).fetchone()
    assert before == validated.rows_loaded and after == (before, 5)


def test_a_delta_that_would_duplicate_a_key_is_refused_whole(attendance_loaded):
    """A defect upstream (two rows for one pupil and day in a delta) must not reach the table."""
    home, validated = attendance_loaded
    twice = pl.concat([validated.valid.head(3), validated.valid.head(1)])
    with connect(home) as con:
        with pytest.raises(RuntimeError, match="more than one row"):
            upsert_delta(con, _as_delta(validated, twice), EXTRACTS["shukketsu"].unique)
        count, newest = con.execute("select count(*), max(_extracted_on) from raw.shukketsu").fetchone()
    assert count == validated.rows_loaded and newest == validated.read.file.extracted_on


def test_the_packaged_httpfs_is_checked_once_and_a_tampered_copy_is_refused(tmp_path):
    """Connections skip DuckDB's per-LOAD signature check only after the process checked the same file."""
    import shutil
    from pathlib import Path

    import duckdb

    from pipelines.core.duckdb_env import extension_directory, verify_extensions

    packaged = next(Path(extension_directory()).rglob("httpfs.duckdb_extension"))
    copy = tmp_path / "extensions" / packaged.relative_to(extension_directory())
    copy.parent.mkdir(parents=True)
    shutil.copyfile(packaged, copy)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte of the code changed
    copy.write_bytes(bytes(data))
    with pytest.raises(duckdb.Error, match="(?i)signature|signed"):
        verify_extensions(str(tmp_path / "extensions"))
    verify_extensions(extension_directory())  # the packaged file passes
    with connect(tmp_path / "home") as con:  # and the store opens with it
        assert con.execute("SELECT loaded FROM duckdb_extensions() WHERE extension_name = 'httpfs'").fetchone() == (True,)
