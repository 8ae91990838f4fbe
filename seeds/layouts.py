"""Example vendor layouts (`mimamori generate --layout vendor-a`): the generated municipality's files as two
real systems might write them, with the layout files that connect them (pipelines/ingest/layouts.py).

- 福祉 (fukushi) as a welfare system's CSV: its own headers, its own codes (制度ＣＤ 01…07), dates as yyyymmdd,
  file WELF_<YYYYMMDD>.csv in CP932.
- 学齢簿 (gakureibo) as an older school-register system's fixed-width CP932 records without a header,
  school names in kanji padded to their byte width, file GAKUREI<YYYYMMDD>.DAT.

The same rows as the contract's files, so that a night on either gives the same list.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import yaml

PROGRAMME_CODES = {"01": "生活保護", "02": "児童扶養手当", "03": "就学援助", "04": "特別児童扶養手当", "05": "家庭児童相談",
                   "06": "児童虐待通告", "07": "要保護児童等支援"}
ENROLMENT_CODES = {"1": "在籍", "2": "転出", "3": "卒業"}
FUKUSHI_HEADERS = {"宛名番号": "宛名ＣＤ", "制度": "制度ＣＤ", "開始日": "開始年月日", "終了日": "終了年月日", "世帯番号": "世帯ＣＤ"}
# gakureibo fields: contract column → (first byte, last byte), 1-based, both included
GAKUREIBO_FIELDS = {"宛名番号": (1, 15), "児童生徒番号": (16, 25), "学校コード": (26, 38), "学校名": (39, 78),
                    "学年": (79, 80), "組": (81, 86), "在籍状況": (87, 87)}
RECORD_LENGTH = 87
LAYOUTS = ("vendor-a",)


def layout_files() -> dict[str, dict]:
    inverse = {v: k for k, v in PROGRAMME_CODES.items()}
    return {
        "fukushi": {
            "extract": "fukushi", "file": "WELF_{YYYYMMDD}.csv", "encoding": "cp932", "format": "csv",
            "columns": {
                "宛名番号": {"header": FUKUSHI_HEADERS["宛名番号"]},
                "制度": {"header": FUKUSHI_HEADERS["制度"], "codes": {k: v for v, k in inverse.items()}},
                "開始日": {"header": FUKUSHI_HEADERS["開始日"], "date_format": "%Y%m%d"},
                "終了日": {"header": FUKUSHI_HEADERS["終了日"], "date_format": "%Y%m%d"},
                "世帯番号": {"header": FUKUSHI_HEADERS["世帯番号"]},
            }},
        "gakureibo": {
            "extract": "gakureibo", "file": "GAKUREI{YYYYMMDD}.DAT", "encoding": "cp932", "format": "fixed",
            "record_length": RECORD_LENGTH,
            "columns": {c: ({"bytes": list(span), "codes": ENROLMENT_CODES} if c == "在籍状況" else {"bytes": list(span)})
                        for c, span in GAKUREIBO_FIELDS.items()}},
    }


def _fukushi(path: Path, out: Path) -> None:
    df = _read(path)
    codes = {v: k for k, v in PROGRAMME_CODES.items()}
    iso = r"^(\d{4})-(\d{2})-(\d{2})$"
    df = df.select(
        pl.col("宛名番号").alias(FUKUSHI_HEADERS["宛名番号"]),
        pl.col("制度").replace(codes).alias(FUKUSHI_HEADERS["制度"]),
        pl.col("開始日").str.replace(iso, "$1$2$3").alias(FUKUSHI_HEADERS["開始日"]),
        pl.col("終了日").str.replace(iso, "$1$2$3").alias(FUKUSHI_HEADERS["終了日"]),
        pl.col("世帯番号").alias(FUKUSHI_HEADERS["世帯番号"]))
    out.write_bytes(df.fill_null("").write_csv(line_terminator="\r\n").encode("cp932"))


def _field(value: str | None, width: int) -> bytes:
    data = (value or "").encode("cp932")[:width]
    return data.ljust(width, b" ")


def _gakureibo(path: Path, out: Path) -> None:
    df = _read(path)
    codes = {v: k for k, v in ENROLMENT_CODES.items()}
    records = []
    for row in df.iter_rows(named=True):
        row = dict(row, 在籍状況=codes.get(row["在籍状況"], row["在籍状況"]))
        records.append(b"".join(_field(row[c], b - a + 1) for c, (a, b) in GAKUREIBO_FIELDS.items()))
    out.write_bytes(b"\r\n".join(records) + b"\r\n")


def _read(path: Path) -> pl.DataFrame:
    data = path.read_bytes()
    text = data[3:].decode("utf-8") if data.startswith(b"\xef\xbb\xbf") else data.decode("cp932")
    import io

    return pl.read_csv(io.StringIO(text), infer_schema=False)


def write_layout_example(name: str, landing: Path, layouts: Path) -> list[Path]:
    """Rewrite the landing folder's fukushi and gakureibo files in the vendors' layouts (the contract's
    files are removed), and write the layout files into ``layouts``."""
    if name not in LAYOUTS:
        raise ValueError(f"unknown example layout {name!r}: {', '.join(LAYOUTS)}")
    layouts.mkdir(parents=True, exist_ok=True)
    for extract, spec in layout_files().items():
        (layouts / f"{extract}.yml").write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False),
                                                encoding="utf-8")
    written = []
    for path in sorted(landing.glob("fukushi_*.csv")):
        out = landing / f"WELF_{path.stem.split('_')[1]}.csv"
        _fukushi(path, out)
        path.unlink()
        written.append(out)
    for path in sorted(landing.glob("gakureibo_*.csv")):
        out = landing / f"GAKUREI{path.stem.split('_')[1]}.DAT"
        _gakureibo(path, out)
        path.unlink()
        written.append(out)
    return written
