"""The caseworkers' files, read back with other readers than the ones that wrote them (csv module for the
polars-free csv writer's output, openpyxl for xlsxwriter's), and opened by LibreOffice as Excel would."""

import csv
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest

from pipelines.core import config
from pipelines.lists.export import EXPORT_COLUMNS
from pipelines.nightly import run_nightly
from tests.helpers import AS_OF, restricted


def export_files(home: Path, suffix: str) -> list[Path]:
    return sorted((home / "exports" / AS_OF.isoformat()).glob(f"*{suffix}"))


def read_csv(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM, so that Excel opens it in Japanese"
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


def test_one_csv_and_one_xlsx_per_office_with_exactly_the_spec_columns(nightly_home):
    csvs, xlsxs = export_files(nightly_home["home"], ".csv"), export_files(nightly_home["home"], ".xlsx")
    assert [p.stem for p in csvs] == [p.stem for p in xlsxs] == ["見守りリスト_00_こども家庭センター_20261130"]
    rows = read_csv(csvs[0])
    assert rows[0] == EXPORT_COLUMNS
    wb = openpyxl.load_workbook(xlsxs[0])
    assert wb.sheetnames == ["見守りリスト", "判定情報"]
    sheet = wb["見守りリスト"]
    assert [c.value for c in sheet[1]] == EXPORT_COLUMNS
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["L"].width >= 40  # 該当理由 is wide and wrapped
    assert sheet.cell(2, EXPORT_COLUMNS.index("該当理由") + 1).alignment.wrap_text


def test_the_files_hold_tonights_list_as_caseworkers_read_it(nightly_home):
    rows = read_csv(export_files(nightly_home["home"], ".csv")[0])
    body = [dict(zip(rows[0], r)) for r in rows[1:]]
    with restricted(nightly_home["home"]) as con:
        expected = con.execute("select address_code, full_name, domain_count, reasons from marts.flagged_children "
                               "where as_of = ? order by list_order", [AS_OF]).fetchall()
    assert [(r["宛名番号"], r["氏名"], int(r["該当領域数"]), r["該当理由"]) for r in body] == \
        [(a, n, d, reasons) for a, n, d, reasons in expected]
    for r in body:
        assert r["性別"] in {"男", "女"} and r["支援状況"] in {"支援中", "未支援"} and r["前回比"] in {"新規", "継続"}
        assert r["判定基準日"] == "2026-11-30" and r["ルール版"] == config.rules()["version"]
        assert len(r["宛名番号"]) == 15  # leading zeros kept
    ws = openpyxl.load_workbook(export_files(nightly_home["home"], ".xlsx")[0])["見守りリスト"]
    xlsx_rows = [[("" if c is None else str(c)) for c in row] for row in ws.iter_rows(min_row=2, values_only=True)]
    assert xlsx_rows == [[v for v in r] for r in rows[1:]]


def test_facts_sheet_states_the_run_and_every_source(nightly_home):
    wb = openpyxl.load_workbook(export_files(nightly_home["home"], ".xlsx")[0])
    facts = {row[0]: row[1] for row in wb["判定情報"].iter_rows(values_only=True) if row[0]}
    assert facts["判定基準日"] == "2026-11-30"
    assert facts["ルール版"].startswith(config.rules()["version"])
    for department in ["住民記録", "個人住民税", "福祉", "学齢簿", "出欠", "健診"]:
        assert "20261130.csv（2026-11-30）" in facts[department]
    assert "アセスメント" in facts["注意"]


@pytest.fixture(scope="module")
def two_offices(nightly_home, tmp_path_factory):
    """Two offices split the town blocks; one block is left to the default office. Run once."""
    home = tmp_path_factory.mktemp("offices") / "home"
    shutil.copytree(nightly_home["home"], home, ignore=shutil.ignore_patterns(".dagster", "exports"))
    with restricted(home) as con:
        areas = sorted(r[0] for r in con.execute("select distinct area_code from marts.child_signals").fetchall())
    cfg = {"default_office": {"code": "00", "name": "こども家庭センター"},
           "offices": [{"code": "01", "name": "北部センター", "areas": areas[: len(areas) // 2]},
                       {"code": "02", "name": "南部センター", "areas": areas[len(areas) // 2: -1]},
                       {"code": "03", "name": "臨海センター", "areas": ["999"]}]}  # nobody lives there
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(config, "offices", lambda path=None: cfg)
        run = run_nightly(home, nightly_home["landing"], AS_OF, quiet=True)
    assert run.result.success
    return home, cfg, run


def test_each_office_gets_only_its_own_children_and_the_rest_go_to_the_default(two_offices):
    home, cfg, run = two_offices
    files = export_files(home, ".csv")
    assert [p.name.split("_")[1] for p in files] == ["00", "01", "02", "03"]
    with restricted(home) as con:
        office_of = dict(con.execute("select address_code, area_code from marts.flagged_children").fetchall())
    seen = []
    for path in files:
        code = path.name.split("_")[1]
        ids = [r[0] for r in read_csv(path)[1:]]
        seen += ids
        for i in ids:
            area = office_of[i]
            owners = [o["code"] for o in cfg["offices"] if area in o["areas"]]
            assert owners == ([code] if code != "00" else [])
    assert sorted(seen) == sorted(office_of)  # every flagged child in exactly one file
    default_children = len(read_csv(files[0])) - 1
    assert run.summary["default_office_children"] == default_children


def test_an_empty_list_is_still_written_with_its_facts(two_offices):
    home, _, _ = two_offices
    [csv_path] = [p for p in export_files(home, ".csv") if "_03_" in p.name]
    assert read_csv(csv_path) == [EXPORT_COLUMNS]
    wb = openpyxl.load_workbook(csv_path.with_suffix(".xlsx"))
    assert wb["見守りリスト"].max_row == 1
    facts = {r[0]: r[1] for r in wb["判定情報"].iter_rows(values_only=True) if r[0]}
    assert facts["該当児童数"] == "0人（新規 0人、継続 0人、再掲 0人）"
    assert any("該当した児童はいません" in (r[1] or "") for r in wb["判定情報"].iter_rows(values_only=True))


def test_libreoffice_opens_the_xlsx_as_the_csv_says(nightly_home, tmp_path):
    soffice = shutil.which("soffice")
    if not soffice:
        pytest.skip("LibreOffice (Debian package libreoffice-calc-nogui) is not installed and could not be: "
                    "see .ci/system-packages")
    xlsx = export_files(nightly_home["home"], ".xlsx")[0]
    out = subprocess.run([soffice, "--headless", "--norestore", f"-env:UserInstallation=file://{tmp_path}/lo",
                          "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false",
                          "--outdir", str(tmp_path), str(xlsx)], capture_output=True, text=True, timeout=180)
    converted = tmp_path / (xlsx.stem + ".csv")
    assert converted.exists(), out.stdout + out.stderr
    with open(converted, encoding="utf-8", newline="") as f:
        via_libreoffice = list(csv.reader(f))
    assert via_libreoffice == read_csv(xlsx.with_suffix(".csv"))
