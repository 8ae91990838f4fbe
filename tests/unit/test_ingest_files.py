"""Hand-made bad files: each kind of bad input of the contract ends loaded correctly, quarantined with a
reason, or rejected with a message naming the file, line and problem — and the counts always reconcile."""

from datetime import date
from pathlib import Path

import pytest

from pipelines.ingest.extracts import ExtractFile, ExtractRejected, read_extract, validate, write_quarantine

AS_OF = date(2026, 11, 30)
JUMIN_HEADER = "宛名番号,世帯番号,氏名,氏名カナ,生年月日,性別,続柄,住所,町丁目コード,住民状態,異動事由,異動日"
GOOD = "123,77,見守　花子,ミマモリ ハナコ,2015-04-02,2,子,みまもり市桜町1丁目2番3号,101001,住民,,"


def write(tmp_path: Path, text: str | bytes, name: str = "jumin_20261130.csv", encoding: str = "cp932") -> ExtractFile:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode(encoding))
    extract = name.split("_")[0]
    return ExtractFile(path, extract, date(2026, 11, 30))


def ingest(file: ExtractFile):
    v = validate(read_extract(file), AS_OF)
    assert v.reconciles(), "rows read must equal rows loaded + rows quarantined"
    return v


def reasons(v) -> list[str]:
    return v.quarantine["理由"].to_list()


def jumin(*rows: str, header: str = JUMIN_HEADER, sep: str = "\r\n") -> str:
    return sep.join([header, *rows]) + sep


@pytest.mark.parametrize("encoding", ["cp932", "utf-8", "utf-8-sig"])
def test_each_encoding_loads_the_same_row(tmp_path, encoding):
    v = ingest(write(tmp_path, jumin(GOOD), encoding=encoding))
    assert v.read.encoding == encoding
    row = v.valid.row(0, named=True)
    assert row["address_code"] == "000000000000123" and row["household_code"] == "000000000000077"
    assert row["full_name"] == "見守\u3000花子" and row["birth_date"] == date(2015, 4, 2)


def test_a_cp932_file_read_leaves_no_reference_cycle_holding_the_callers_data(tmp_path):
    """UTF-8 is tried first and fails on a CP932 file; the failure must not be kept in a reference cycle,
    which held the reading frames and the night's data frames until Python's cycle collector ran
    (+270 MB at kaga's first night once the collector ran less often)."""
    import gc
    import weakref

    class Data:  # stands for what the caller holds while it reads: a validated extract, its frames
        pass

    file = write(tmp_path, jumin(GOOD), encoding="cp932")

    def caller():
        held = Data()
        read = read_extract(file)
        assert read.encoding == "cp932"
        return weakref.ref(held)

    gc.disable()
    try:
        assert caller()() is None  # freed on return, by reference counting alone
    finally:
        gc.enable()


def test_undecodable_bytes_reject_the_file_with_line_and_offset(tmp_path):
    bad_line = "124,77,@@,,2015-04-02,2,子,x,101001,住民,,\r\n".encode("cp932").replace(b"@@", b"\x82\xff\x82")
    data = jumin(GOOD).encode("cp932") + bad_line
    file = write(tmp_path, data)
    before = file.path.read_bytes()
    with pytest.raises(ExtractRejected) as e:
        read_extract(file)
    assert e.value.line == 3
    assert "jumin_20261130.csv 3行目" in str(e.value) and "バイト位置" in str(e.value)
    assert file.path.read_bytes() == before  # the rejected file is left untouched


def test_mojibake_is_a_rejection_not_data(tmp_path):
    # a UTF-8 file cut in the middle of a character: neither UTF-8 nor CP932 reads it
    data = jumin(GOOD).encode("utf-8")
    data = data[: data.index("花".encode()) + 1] + b"," + data[data.index("花".encode()) + 3:]
    with pytest.raises(ExtractRejected, match="文字コード"):
        read_extract(write(tmp_path, data))


def test_missing_required_column_rejects_the_file(tmp_path):
    header = JUMIN_HEADER.replace("生年月日,", "")
    with pytest.raises(ExtractRejected, match="1行目: 必須列がありません: 生年月日"):
        read_extract(write(tmp_path, jumin(GOOD.replace("2015-04-02,", ""), header=header)))


def test_no_header_rejects_the_file(tmp_path):
    with pytest.raises(ExtractRejected, match="ヘッダー行がありません"):
        read_extract(write(tmp_path, jumin(GOOD, header=GOOD)))


@pytest.mark.parametrize("content", [b"", b"\r\n", b"\xef\xbb\xbf"])
def test_empty_file_rejects(tmp_path, content):
    with pytest.raises(ExtractRejected, match="ファイルが空です"):
        read_extract(write(tmp_path, content))


def test_header_only_file_loads_nothing_and_loses_nothing(tmp_path):
    v = ingest(write(tmp_path, JUMIN_HEADER + "\r\n"))
    assert v.read.rows_read == v.rows_loaded == v.rows_quarantined == 0


def test_extra_columns_are_ignored_and_reported_and_order_may_differ(tmp_path):
    cols = JUMIN_HEADER.split(",")
    vals = GOOD.split(",")
    order = list(reversed(range(len(cols))))
    header = ",".join(["備考", *[cols[i] for i in order]])
    row = ",".join(["メモ", *[vals[i] for i in order]])
    v = ingest(write(tmp_path, jumin(row, header=header)))
    assert v.read.extra_columns == ["備考"]
    assert v.rows_loaded == 1 and v.valid["birth_date"].to_list() == [date(2015, 4, 2)]
    assert "備考" not in v.valid.columns


def test_unknown_code_is_quarantined_with_its_value(tmp_path):
    v = ingest(write(tmp_path, jumin(GOOD, GOOD.replace("123,", "124,").replace(",2,子,", ",3,子,"))))
    assert v.rows_loaded == 1 and reasons(v) == ["性別: 「3」はコード表にない値です"]
    assert v.quarantine["行番号"].to_list() == [3]


@pytest.mark.parametrize("birth", ["2023-02-30", "R5.13.1", "令和元年4月30日", "2027-01-01"])
def test_impossible_or_future_date_is_quarantined(tmp_path, birth):
    v = ingest(write(tmp_path, jumin(GOOD.replace("2015-04-02", birth))))
    assert v.rows_loaded == 0 and v.rows_quarantined == 1
    assert reasons(v)[0].startswith("生年月日")



def test_a_date_before_year_one_is_quarantined_not_a_crash(tmp_path):
    """"0000-01-01" reads as no date at all (polars would make a year 0 that pandera's range check then
    failed on, as a whole: the extract's step stopped with a ValueError)."""
    v = ingest(write(tmp_path, jumin(GOOD.replace("2015-04-02", "0000-01-01"), GOOD.replace("123,", "124,"))))
    assert v.rows_loaded == 1 and reasons(v) == ["生年月日: 「0000-01-01」は日付として読めません"]


@pytest.mark.parametrize("birth", ["R5.4.1", "R05.04.01", "令和5年4月1日", "令和元年5月1日", "H31.4.30",
                                   "平成31年4月30日", "S63.1.1", "2015/4/2", "20150402"])
def test_each_era_format_loads(tmp_path, birth):
    v = ingest(write(tmp_path, jumin(GOOD.replace("2015-04-02", birth))))
    assert v.rows_loaded == 1, reasons(v)


def test_full_width_digits_and_stray_spaces_load(tmp_path):
    row = GOOD.replace("123,", "１２３,").replace("101001", "１０１００１").replace("見守　花子", "\u3000見守　花子\u3000")
    v = ingest(write(tmp_path, jumin(row)))
    r = v.valid.row(0, named=True)
    assert (r["address_code"], r["area_code"], r["full_name"]) == ("000000000000123", "101001", "見守\u3000花子")


def test_duplicate_key_quarantines_the_later_row_naming_the_first(tmp_path):
    v = ingest(write(tmp_path, jumin(GOOD, GOOD.replace("123,", "456,"), GOOD)))
    assert v.rows_loaded == 2
    assert v.quarantine["行番号"].to_list() == [4]
    assert reasons(v) == ["宛名番号 が重複しています（2行目と同じ）"]


def test_same_key_written_differently_is_a_duplicate(tmp_path):
    v = ingest(write(tmp_path, jumin(GOOD, GOOD.replace("123,", "000000000000123,"))))
    assert v.rows_loaded == 1 and v.rows_quarantined == 1


def test_truncated_last_line_is_quarantined_not_silently_shortened(tmp_path):
    cut = GOOD[: GOOD.index(",みまもり市")]  # stops after 続柄, no line end
    v = ingest(write(tmp_path, JUMIN_HEADER + "\r\n" + GOOD + "\r\n" + cut))
    assert v.rows_loaded == 1 and v.quarantine["行番号"].to_list() == [3]
    assert "列数が7です（ヘッダーは12列）" in reasons(v)[0]


def test_line_with_too_many_fields_is_quarantined(tmp_path):
    v = ingest(write(tmp_path, jumin(GOOD + ",余分")))
    assert v.rows_quarantined == 1 and "列数が13です" in reasons(v)[0]


def test_quoted_fields_with_commas_and_lf_line_ends(tmp_path):
    row = GOOD.replace("みまもり市桜町1丁目2番3号", '"みまもり市桜町1丁目2番3号, 見守ハイツ101"')
    v = ingest(write(tmp_path, jumin(row, sep="\n")))
    assert v.valid["address"].to_list() == ["みまもり市桜町1丁目2番3号, 見守ハイツ101"]


def test_newline_inside_quotes_rejects_the_file_at_its_line(tmp_path):
    row = GOOD.replace("みまもり市桜町1丁目2番3号", '"みまもり市桜町\r\n1丁目"')
    with pytest.raises(ExtractRejected, match="3行目: 引用符"):
        read_extract(write(tmp_path, jumin(GOOD, row)))


def test_blank_lines_are_counted_but_are_not_rows(tmp_path):
    v = ingest(write(tmp_path, jumin(GOOD, "", GOOD.replace("123,", "456,"))))
    assert v.read.blank_lines == 1 and v.rows_loaded == 2
    assert v.valid["_line"].to_list() == [2, 4]  # line numbers stay those of the file


def test_quarantine_file_keeps_the_original_text_in_utf8_with_bom(tmp_path):
    bad = GOOD.replace("123,", "１２４,").replace(",2,子,", ",9,子,")
    v = ingest(write(tmp_path, jumin(GOOD, bad)))
    path = write_quarantine(v, tmp_path / "q")
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("行番号,理由,宛名番号,世帯番号,氏名")
    assert lines[1].startswith("3,性別: 「9」はコード表にない値です,１２４,77,見守　花子")  # as the department wrote it


def test_every_schema_rule_of_the_other_extracts(tmp_path):
    zei = "宛名番号,課税年度,課税区分,総所得金額,扶養人数\n1,R8,非課税,0,0\n2,2026,課税,-5,0\n3,2026,免除,,\n"
    v = ingest(write(tmp_path, zei, "zei_20261130.csv"))
    assert v.valid["fiscal_year"].to_list() == [2026]
    assert sorted(reasons(v)) == ["総所得金額: 負の値です（「-5」）", "課税区分: 「免除」はコード表にない値です"]
    fukushi = "宛名番号,制度,開始日,終了日\n1,生活保護,2026-05-01,2026-04-01\n2,家庭児童相談,R8.5.1,\n"
    v = ingest(write(tmp_path, fukushi, "fukushi_20261130.csv"))
    assert reasons(v) == ["終了日が開始日より前です"] and v.rows_loaded == 1
    kenshin = ("宛名番号,健診種別,予定日,受診日,身長,体重,判定\n1,3歳児,2026-05-01,2026-05-02,95.1,14.2,異常なし\n"
               "2,3歳児,2026-05-01,2026-05-02,950.1,14.2,異常なし\n3,5歳児,2026-05-01,,,,\n")
    v = ingest(write(tmp_path, kenshin, "kenshin_20261130.csv"))
    assert v.rows_loaded == 1 and len(reasons(v)) == 2
    shukketsu = ("児童生徒番号,学校コード,日付,出欠区分,欠席理由,保健室利用\n2000000001,B1,2026-11-30,欠席,病気,\n"
                 "2000000001,B1,2026-11-30,出席,,1\n2000000002,B1,2026-11-30,欠課,,\n")
    v = ingest(write(tmp_path, shukketsu, "shukketsu_20261130.csv"))
    assert v.rows_loaded == 1 and v.rows_quarantined == 2


@pytest.fixture
def decode_in_children(monkeypatch):
    """Every file large enough to be decoded in child processes (normally from 32 MB), three of them."""
    import pipelines.ingest.extracts

    monkeypatch.setattr(pipelines.ingest.extracts, "PARALLEL_FROM", 0)
    monkeypatch.setattr(pipelines.ingest.extracts.os, "cpu_count", lambda: 3)


def test_decoding_in_child_processes_gives_the_same_bytes(clean_municipality, decode_in_children):
    from pipelines.ingest.extracts import _transcode_in_children, transcode

    path = clean_municipality / "landing" / "shukketsu_20261129.csv"
    data = path.read_bytes()
    expected = data.decode("cp932").encode()
    assert _transcode_in_children(data, "cp932", path, 0, 3) == expected  # not a silent fallback
    assert transcode(data, "cp932", path) == expected


def test_a_bad_byte_late_in_a_large_file_is_found_at_its_line(clean_municipality, tmp_path, decode_in_children):
    data = (clean_municipality / "landing" / "shukketsu_20261129.csv").read_bytes()
    line_start = data.index(b"\n", len(data) * 3 // 4) + 1
    broken = data[:line_start + 3] + b"\x82\xff" + data[line_start + 5:]
    with pytest.raises(ExtractRejected) as e:
        read_extract(write(tmp_path, broken, name="shukketsu_20261129.csv"))
    assert e.value.line == data.count(b"\n", 0, line_start) + 1
    assert f"バイト位置 {line_start + 3}" in str(e.value)


def test_a_utf8_file_with_bom_decodes_in_children_from_after_the_bom(dirty_municipality, decode_in_children):
    from pipelines.ingest.extracts import BOM, _transcode_in_children, decode

    path = next(p for p in sorted((dirty_municipality / "landing").glob("*.csv")) if p.read_bytes()[:3] == BOM)
    data = path.read_bytes()
    assert _transcode_in_children(data[3:], "utf-8", path, 3, 3) == data[3:]
    assert decode(path, data) == ("utf-8-sig", data[3:])


def test_a_file_changed_a_moment_ago_has_no_fingerprint_yet(tmp_path, monkeypatch):
    """Within the clock tick of a write, a second write could leave the times as they were: no fingerprint."""
    import time

    from pipelines.ingest import extracts as ingest

    path = tmp_path / "shukketsu_20261130.csv"
    path.write_bytes(b"x")
    assert ingest.file_fingerprint(path) is None
    monkeypatch.setattr(ingest, "RACY_SECONDS", 0)
    first = ingest.file_fingerprint(path)
    assert first is not None and first == ingest.file_fingerprint(path)
    time.sleep(0.05)  # past the clock tick of the first write (RACY_SECONDS keeps a night that far away)
    path.write_bytes(b"y")  # same size, rewritten
    assert ingest.file_fingerprint(path) != first
