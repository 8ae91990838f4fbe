"""Layout files (pipelines/ingest/layouts.py): each error names the file, the key and the problem; fixed-width
CP932 records are cut by byte ranges, and a cut character or a short record is a row error with its reason."""

from datetime import date
from pathlib import Path

import pytest
import yaml

from pipelines.ingest.extracts import ExtractFile, read_with_layout, validate
from pipelines.ingest.layouts import LayoutError, load_layout

FIXED = {"extract": "gakureibo", "file": "GAKU{YYYYMMDD}.DAT", "encoding": "cp932", "format": "fixed",
         "columns": {"宛名番号": {"bytes": [1, 15]}, "児童生徒番号": {"bytes": [16, 25]}, "学校コード": {"bytes": [26, 38]},
                     "学校名": {"bytes": [39, 48], "name": "学校名称"}, "学年": {"bytes": [49, 49]},
                     "在籍状況": {"bytes": [50, 50], "codes": {"1": "在籍", "2": "転出", "3": "卒業"}}}}


def write(tmp_path: Path, spec: dict, name: str = "layout.yml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize("change, key, problem", [
    ({"extract": "nenkin"}, "extract", "'nenkin' is not an extract of the contract"),
    ({"file": "GAKU.DAT"}, "file", "must hold {YYYYMMDD} once"),
    ({"encoding": "euc-jp"}, "encoding", "'euc-jp' is not one of"),
    ({"format": "xml"}, "format", "'xml' is csv or fixed"),
    ({"columns": {**FIXED["columns"], "血液型": {"bytes": [51, 51]}}}, "columns.血液型", "not a column of gakureibo"),
    ({"columns": {k: v for k, v in FIXED["columns"].items() if k != "児童生徒番号"}}, "columns",
     "required columns have no source: 児童生徒番号"),
    ({"columns": {**FIXED["columns"], "学年": {"bytes": [48, 49]}}}, "columns", "byte ranges overlap: 39–48 and 48–49"),
    ({"columns": {**FIXED["columns"], "学年": {"bytes": [0, 1]}}}, "columns.学年.bytes", "is not [first, last]"),
    ({"columns": {**FIXED["columns"], "在籍状況": {"bytes": [50, 50], "codes": {"1": "在学"}}}},
     "columns.在籍状況.codes", "maps to 在学, not in the contract's code list"),
    ({"columns": {**FIXED["columns"], "学年": {"bytes": [49, 49], "date_format": "%Y"}}}, "columns.学年.date_format",
     "学年 is not a date"),
    ({"record_length": 40}, "record_length", "shorter than the last field's end (50)"),
])
def test_each_layout_error_names_the_file_the_key_and_the_problem(tmp_path, change, key, problem):
    path = write(tmp_path, FIXED | change)
    with pytest.raises(LayoutError) as error:
        load_layout(path)
    assert error.value.key == key and problem in error.value.problem
    assert str(error.value).startswith(f"layout.yml: {key}: ")


def record(code: str, pupil: str, school: str, name: bytes, grade: str, status: str) -> bytes:
    return code.encode() + pupil.encode() + school.encode() + name + grade.encode() + status.encode()


def test_fixed_width_cp932_records_are_cut_by_bytes_and_bad_records_named(tmp_path):
    layout = load_layout(write(tmp_path, FIXED | {"record_length": 50}))
    good = record("000000000000123", "2000000001", "B199200000001", "幸手小学校".encode("cp932"), "3", "1")
    cut_end = record("000000000000124", "2000000002", "B199200000001", "A幸手小学校".encode("cp932")[:10], "3", "1")
    cut_start = b"000000000000125" + b"2000000003" + b"B19920000000" + "ア".encode("cp932") + b"ABCDEFGH3" + b"1"
    short = b"000000000000126" + b"2000000004"
    path = tmp_path / "GAKU20261130.DAT"
    path.write_bytes(b"\r\n".join([good, cut_end, cut_start, b"", short]) + b"\r\n")
    read = read_with_layout(ExtractFile(path, "gakureibo", date(2026, 11, 30)), layout)
    assert read.rows_read == 4 and read.blank_lines == 1
    row = read.raw.row(0, named=True)
    assert row["学校名称"] == "幸手小学校" and row["宛名番号"] == "000000000000123"
    validated = validate(read, date(2026, 11, 30))
    reasons = {line: reason for line, reason in validated.quarantine.select("行番号", "理由").iter_rows()}
    # a character across the end of 学校名称 (bytes 48–49) cuts it and the field after it
    assert set(reasons[2].split("; ")) == {"学校名称: 39〜48バイト目の境界で全角文字が切れています",
                                           "学年: 49〜49バイト目の境界で全角文字が切れています"}
    assert "学校コード: 26〜38バイト目の境界で全角文字が切れています" in reasons[3].split("; ")
    assert reasons[5].startswith("レコードが短すぎます（25バイト、50バイト必要）")
    assert validated.rows_loaded == 1 and validated.reconciles()
    assert list(validated.quarantine.columns[:4]) == ["行番号", "理由", "宛名番号", "児童生徒番号"]
    assert "学校名称" in validated.quarantine.columns  # the department's own column name
    assert validated.valid["enrolment_status"].to_list() == ["在籍"]  # its code 1, mapped
