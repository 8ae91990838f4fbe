"""A file read in batches gives what the same file read whole gives: the same valid rows, the same
quarantine lines and reasons (keys repeated across batches included), the same counts and the same
rejections — at any batch size."""

import threading
from datetime import date
from pathlib import Path

import pytest

from pipelines.core.store import connect
from pipelines.ingest.extracts import ExtractFile, ExtractRejected, read_extract, validate
from pipelines.ingest.load import with_provenance
from pipelines.ingest.streaming import validate_in_batches
from tests.helpers import JUMIN, person

AS_OF = date(2026, 11, 30)


GAKUREIBO = "宛名番号,児童生徒番号,学校コード,学校名,学年,学級,在籍状況"


def registry_rows() -> list[str]:
    """400 people, with every way a key can repeat: across batches (valid, or itself bad), within a later
    batch after a first copy in an earlier one, after a first copy that was quarantined, and a repeat of a
    line that could not be read at all (not a key then)."""
    rows = [person(1000 + i, name="A") if i < 60 else person(1000 + i) for i in range(400)]
    rows[300] = person(1005)                       # valid, repeats line 7 (batch 1) far later
    rows[310] = person(1006, birth="2031-01-01")   # repeats line 8 and is from the future as well
    rows[250] = rows[251] = person(1010)           # two repeats of line 12 side by side
    rows[20] = person(1020, birth="1850-01-01")    # out of range (quarantined), yet the key's first line
    rows[320] = person(1020)                       # a valid row repeating it
    rows[30] = person(1030, birth="2015-02-30")    # cannot be read as a date
    rows[330] = person(1030)                       # so this one is the key's first readable line
    rows[200] = ""                                 # a blank line
    rows[340] = "1340,77,見守"                      # fields missing
    return rows


def write(tmp_path: Path, name: str, header: str, rows: list[str], encoding: str = "cp932") -> ExtractFile:
    path = tmp_path / name
    text = "\r\n".join([header, *rows]) + "\r\n"
    path.write_bytes(("\ufeff" + text).encode("utf-8") if encoding == "utf-8-sig" else text.encode(encoding))
    return ExtractFile(path, name.split("_")[0], AS_OF)


def both(tmp_path: Path, file: ExtractFile, batch_bytes: int):
    whole = validate(read_extract(file), AS_OF)
    with connect(tmp_path / "home") as con:
        part = validate_in_batches(con, file, AS_OF, batch_bytes)
        staged = con.execute(f"SELECT * FROM {part.staged}").pl().sort("_source_line")
    return whole, part, staged


def assert_same(file: ExtractFile, whole, part, staged) -> None:
    assert part.quarantine.to_dicts() == whole.quarantine.to_dicts()
    assert part.reasons == whole.reasons
    valid = with_provenance(whole.valid, file.name, file.extracted_on).sort("_source_line")
    assert staged.select(valid.columns).to_dicts() == valid.to_dicts()
    assert (part.read.rows_read, part.rows_loaded, part.read.blank_lines, part.read.sha256, part.read.encoding) == \
        (whole.read.rows_read, whole.rows_loaded, whole.read.blank_lines, whole.read.sha256, whole.read.encoding)
    assert part.reconciles()


@pytest.mark.parametrize("batch_bytes", [700, 4_000, 29_000, 10**8])
@pytest.mark.parametrize("encoding", ["cp932", "utf-8-sig"])
def test_batches_give_the_whole_files_rows_quarantine_and_reasons(tmp_path, batch_bytes, encoding):
    file = write(tmp_path, "jumin_20261130.csv", JUMIN, registry_rows(), encoding)
    whole, part, staged = both(tmp_path, file, batch_bytes)
    assert_same(file, whole, part, staged)
    reasons = dict(zip(part.quarantine["行番号"], part.quarantine["理由"]))
    assert reasons[302] == "宛名番号 が重複しています（7行目と同じ）"
    assert reasons[252] == reasons[253] == "宛名番号 が重複しています（12行目と同じ）"
    assert reasons[312].startswith("生年月日") and reasons[312].endswith("宛名番号 が重複しています（8行目と同じ）")
    assert reasons[322] == "宛名番号 が重複しています（22行目と同じ）"
    assert 332 not in reasons


def test_a_repeat_goes_before_the_other_row_checks_reasons_as_read_whole(tmp_path):
    pupils = [f"{100 + i},{1000000000 + i},E01,みまもり小学校,3,1,在籍" for i in range(300)]
    pupils[250] = "350,1000000005,C01,みまもり中学校,7,1,在籍"  # a repeat, and grade 7 at a junior high
    file = write(tmp_path, "gakureibo_20261130.csv", GAKUREIBO, pupils)
    whole, part, staged = both(tmp_path, file, 1_000)
    assert_same(file, whole, part, staged)
    assert part.quarantine["理由"].to_list() == [
        "学年: 1〜6 の範囲外です（「7」）; 児童生徒番号 が重複しています（7行目と同じ）; 学年: 中学校で4以上です"]


def test_distinct_keys_are_known_from_the_batches_hashes_without_asking_the_store(tmp_path, monkeypatch):
    from pipelines.ingest import streaming

    def no_query(*args):
        raise AssertionError("the store was asked for repeated keys, though no two keys share a hash")

    monkeypatch.setattr(streaming, "_repeated_keys", no_query)
    rows = [person(1000 + i) for i in range(400)]
    rows[20] = person(1020, birth="1850-01-01")  # quarantined: its key is hashed too, and repeats none
    file = write(tmp_path, "jumin_20261130.csv", JUMIN, rows)
    whole, part, staged = both(tmp_path, file, 2_000)
    assert_same(file, whole, part, staged)
    assert part.rows_loaded == 399 and part.quarantine["行番号"].to_list() == [22]


def test_a_shared_hash_is_confirmed_on_the_keys_so_a_collision_repeats_nothing(tmp_path, monkeypatch):
    from pipelines.ingest import streaming

    monkeypatch.setattr(streaming, "_hashes_repeat", lambda hashes: True)  # as if two distinct keys collided
    file = write(tmp_path, "jumin_20261130.csv", JUMIN, [person(1000 + i) for i in range(400)])
    whole, part, staged = both(tmp_path, file, 2_000)
    assert_same(file, whole, part, staged)
    assert part.rows_quarantined == 0 and part.rows_loaded == 400


def test_an_ascii_first_batch_does_not_settle_the_encoding(tmp_path):
    file = write(tmp_path, "jumin_20261130.csv", JUMIN, registry_rows())  # 60 ASCII-only rows come first
    whole, part, staged = both(tmp_path, file, 700)
    assert part.read.encoding == whole.read.encoding == "cp932"
    assert_same(file, whole, part, staged)


def test_a_bad_byte_in_a_later_batch_rejects_the_file_at_the_same_line_and_leaves_nothing_staged(tmp_path):
    file = write(tmp_path, "jumin_20261130.csv", JUMIN, registry_rows())
    data = file.path.read_bytes()
    at = data.index("1370,".encode())
    file.path.write_bytes(data[:at + 5] + b"\x82\xff" + data[at + 5:])
    with pytest.raises(ExtractRejected) as whole:
        read_extract(file)
    with connect(tmp_path / "home") as con:
        with pytest.raises(ExtractRejected) as part:
            validate_in_batches(con, file, AS_OF, 2_000)
        staged = con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()
        assert staged == []
    assert (part.value.line, part.value.problem) == (whole.value.line, whole.value.problem) and whole.value.line == 372
    # the batches read in parallel behind it stopped with it
    assert not [t for t in threading.enumerate() if t.name.startswith("mimamori-batch")]


@pytest.mark.parametrize("content", [b"", b"\r\n", JUMIN.encode("cp932") + b"\r\n"])
def test_empty_and_header_only_files_as_read_whole(tmp_path, content):
    path = tmp_path / "jumin_20261130.csv"
    path.write_bytes(content)
    file = ExtractFile(path, "jumin", AS_OF)
    try:
        whole = validate(read_extract(file), AS_OF)
    except ExtractRejected as e:
        with connect(tmp_path / "home") as con, pytest.raises(ExtractRejected) as part:
            validate_in_batches(con, file, AS_OF, 100)
        assert part.value.problem == e.problem
        return
    with connect(tmp_path / "home") as con:
        part = validate_in_batches(con, file, AS_OF, 100)
    assert (part.read.rows_read, part.rows_loaded, part.rows_quarantined) == (whole.read.rows_read, 0, 0)


@pytest.fixture(scope="module")
def vendor_files(tmp_path_factory):
    """The tiny municipality's welfare CSV and fixed-width school register in the vendor-a layouts, each
    with bad records added: a key repeated far from its first line, a short record, a character cut by a
    field's boundary, a blank line; an unknown code, an impossible date, fields missing."""
    from seeds.generator import generate

    out = tmp_path_factory.mktemp("vendor")
    generate("tiny", 12, AS_OF, out, layout="vendor-a")
    landing = out / "landing"
    fixed = landing / f"GAKUREI{AS_OF:%Y%m%d}.DAT"
    records = fixed.read_bytes().split(b"\r\n")[:-1]
    name = "見守小学校".encode("cp932")
    cut = records[5][:38] + b"A" + name + b" " * (40 - 1 - len(name)) + records[5][78:]  # 学校名 shifted a byte
    records[40:40] = [records[3], b"", records[7][:30], cut[:77] + "ア".encode("cp932")[:1] + cut[78:]]
    fixed.write_bytes(b"\r\n".join(records) + b"\r\n")
    welfare = landing / f"WELF_{AS_OF:%Y%m%d}.csv"
    lines = welfare.read_bytes().split(b"\r\n")
    lines[-1:-1] = [lines[2], lines[3].replace(b",0", b",9", 1), b"", b'000000100000999,01,20261340,"",000000500000001',
                    b"000000100000998,01"]
    welfare.write_bytes(b"\r\n".join(lines))
    return out


@pytest.mark.parametrize("batch_bytes", [500, 3_000, 10**8])
@pytest.mark.parametrize("name", ["GAKUREI", "WELF_"])
def test_a_departments_own_layout_read_in_batches_gives_what_it_gives_whole(vendor_files, tmp_path, monkeypatch,
                                                                             batch_bytes, name):
    from pipelines.ingest.layouts import ENV

    monkeypatch.setenv(ENV, str(vendor_files / "layouts"))
    path = vendor_files / "landing" / (f"GAKUREI{AS_OF:%Y%m%d}.DAT" if name == "GAKUREI" else f"WELF_{AS_OF:%Y%m%d}.csv")
    file = ExtractFile(path, "gakureibo" if name == "GAKUREI" else "fukushi", AS_OF)
    whole, part, staged = both(tmp_path, file, batch_bytes)
    assert whole.quarantine.height >= 2 and whole.valid.height > 50  # the bad records are there to be found
    assert_same(file, whole, part, staged)


@pytest.mark.parametrize("batch_bytes", [300, 2_000, 6_650, 10**6])
def test_a_line_break_inside_quotes_rejects_the_file_at_its_line_whatever_batch_it_falls_in(tmp_path, batch_bytes):
    rows = [person(1000 + i) for i in range(100)]
    rows[50] = rows[50].replace("みまもり市桜町1丁目2番3号", '"みまもり市\n桜町"')
    file = write(tmp_path, "jumin_20261130.csv", JUMIN, rows)
    with pytest.raises(ExtractRejected) as whole:
        validate(read_extract(file), AS_OF)
    with connect(tmp_path / "home") as con, pytest.raises(ExtractRejected) as part:
        validate_in_batches(con, file, AS_OF, batch_bytes)
    assert str(part.value) == str(whole.value) and "52行目: 引用符" in str(part.value)


SHUKKETSU = "児童生徒番号,学校コード,日付,出欠区分,欠席理由,保健室利用"


def attendance_rows() -> list[str]:
    days = [f"2026-11-{d:02d}" for d in range(2, 28)]
    return [f"{2000000000 + p},B199200000012,{day},出席,," for p in range(40) for day in days]


def raw_tables(con) -> list[str]:
    return sorted(t for (t,) in con.execute("SELECT table_name FROM information_schema.tables "
                                            "WHERE table_schema = 'raw'").fetchall())


def test_a_delta_staged_in_the_store_becomes_the_empty_table_and_a_failed_load_leaves_neither(tmp_path):
    """A delta file's batches wait in the store; its first load renames them into place in the load's
    transaction. A load that fails rolls back to the empty table, and no stage is left behind."""
    from pipelines.ingest.load import create_empty, upsert_delta
    from pipelines.ingest.streaming import discard_stage

    file = write(tmp_path, "shukketsu_20261130.csv", SHUKKETSU, attendance_rows())
    key = ("pupil_id", "school_day")
    with connect(tmp_path / "home") as con:
        create_empty(con, "shukketsu")
        part = validate_in_batches(con, file, AS_OF, 4_000)
        assert part.staged == "raw._staged_shukketsu" and part.rows_loaded == 40 * 26

        def fail():
            raise OSError("the disk filled up")

        with pytest.raises(OSError):
            upsert_delta(con, part, key, before_commit=fail)
        assert con.execute("SELECT count(*) FROM raw.shukketsu").fetchone()[0] == 0
        assert raw_tables(con) == ["load_log", "shukketsu"]

        part = validate_in_batches(con, file, AS_OF, 4_000)
        upsert_delta(con, part, key)
        loaded = con.execute("SELECT * FROM raw.shukketsu").pl().sort("_source_line")
        assert raw_tables(con) == ["load_log", "shukketsu"]
        whole = with_provenance(validate(read_extract(file), AS_OF).valid, file.name, file.extracted_on)
        assert loaded.select(whole.columns).to_dicts() == whole.sort("_source_line").to_dicts()

        # what a night killed while staging leaves: dropped before the extract is loaded again
        con.execute("CREATE TABLE raw._staged_shukketsu AS SELECT * FROM raw.shukketsu")
        discard_stage(con, "shukketsu")
        assert raw_tables(con) == ["load_log", "shukketsu"]


def test_a_delta_rejected_in_a_later_batch_leaves_no_stage_in_the_store(tmp_path):
    file = write(tmp_path, "shukketsu_20261130.csv", SHUKKETSU, attendance_rows())
    data = file.path.read_bytes()
    at = data.index(b"\r\n", len(data) * 2 // 3) + 2  # a line far into the file, in a later batch
    file.path.write_bytes(data[:at] + b"\x82\xff" + data[at:])  # bytes no encoding reads
    line = data.count(b"\n", 0, at) + 1
    with connect(tmp_path / "home") as con:
        with pytest.raises(ExtractRejected) as rejected:
            validate_in_batches(con, file, AS_OF, 4_000)
        assert rejected.value.line == line
        assert raw_tables(con) == ["load_log"]
