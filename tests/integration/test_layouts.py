"""Onboarding a department's own layout: the same municipality written in example vendor layouts (a CSV with
other headers and codes, fixed-width CP932) gives the same list as the contract's files; `mimamori check`
passes a good file and names what is wrong with a bad one, by line and column, without values."""

import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.ingest import assets as ingest_assets
from pipelines.ingest.layouts import ENV
from pipelines.nightly import run_nightly
from seeds.generator import generate
from tests.helpers import AS_OF, SEED, restricted

MIMAMORI = str(Path(sys.executable).with_name("mimamori"))


@pytest.fixture(scope="module")
def vendor(tmp_path_factory):
    out = tmp_path_factory.mktemp("vendor")
    generate("tiny", SEED, AS_OF, out, layout="vendor-a")
    return out


def the_list(home: Path) -> list[tuple]:
    with restricted(home) as con:
        return con.execute("select address_code, domains, reasons, support_status, school_name, grade "
                           "from marts.flagged_children order by list_order").fetchall()


def test_a_night_on_vendor_layouts_gives_the_same_list_as_the_contract(vendor, clean_municipality, tmp_path,
                                                                       monkeypatch):
    names = sorted(p.name for p in (vendor / "landing").iterdir())
    assert "WELF_20261130.csv" in names and "GAKUREI20261130.DAT" in names and "fukushi_20261130.csv" not in names
    contract = run_nightly(tmp_path / "contract", clean_municipality / "landing", AS_OF, quiet=True)
    monkeypatch.setenv(ENV, str(vendor / "layouts"))
    # the layout files read in batches, as a large city's would be (the contract's files as they are:
    # 4 KB batches of all of them were 250 batches and half of this test's time)
    by_size = ingest_assets.batch_bytes_for
    monkeypatch.setattr(ingest_assets, "batch_bytes_for",
                        lambda file: 4096 if file.extract in ("fukushi", "gakureibo") else by_size(file))
    layouts = run_nightly(tmp_path / "layouts", vendor / "landing", AS_OF, quiet=True)
    assert contract.result.success and layouts.result.success
    files = {f["file"]: f for f in layouts.summary["files"]}
    assert files["GAKUREI20261130.DAT"]["rows_loaded"] == files["GAKUREI20261130.DAT"]["rows_read"] > 100
    assert the_list(tmp_path / "layouts") == the_list(tmp_path / "contract") != []


def check(*args) -> subprocess.CompletedProcess:
    return subprocess.run([MIMAMORI, "check", *map(str, args)], capture_output=True, text=True)


def test_check_passes_a_good_file_and_names_a_missing_column_an_unknown_code_and_a_bad_date(vendor, tmp_path):
    layout = vendor / "layouts" / "fukushi.yml"
    good = check(vendor / "landing" / "WELF_20261130.csv", "--extract", "fukushi", "--layout", layout)
    assert good.returncode == 0 and good.stdout.rstrip().endswith("結果 (result): PASS 合格"), good.stdout
    rows = len((vendor / "landing" / "WELF_20261130.csv").read_bytes().splitlines()) - 1  # less the header
    assert "文字コード (encoding): cp932" in good.stdout and f"行数 (rows read): {rows}" in good.stdout

    lines = (vendor / "landing" / "WELF_20261130.csv").read_bytes().decode("cp932").split("\r\n")
    code, start = lines[4].split(","), lines[7].split(",")
    code[1], start[2] = "99", "20261345"
    lines[4], lines[7] = ",".join(code), ",".join(start)
    bad = tmp_path / "WELF_20261130.csv"
    bad.write_bytes("\r\n".join(lines).encode("cp932"))
    out = check(bad, "--extract", "fukushi", "--layout", layout)
    assert out.returncode == 1 and "FAIL" in out.stdout
    assert "制度ＣＤ: はコード表にない値です — 1行: 5行目" in out.stdout
    assert "開始年月日: は日付として読めません — 1行: 8行目" in out.stdout
    assert "20261345" not in out.stdout and "99" not in out.stdout.split("行数")[1]  # no value printed

    header = lines[0].split(",")
    without = tmp_path / "WELF_20261129.csv"
    without.write_bytes("\r\n".join(",".join(f for i, f in enumerate(line.split(",")) if i != 2)
                                    for line in lines).encode("cp932"))
    missing = check(without, "--extract", "fukushi", "--layout", layout)
    assert missing.returncode == 1 and f"列がない (missing): {header[2]}" in missing.stdout
    assert "1行目: 必須列がありません: 開始年月日" in missing.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["WELF_20261129.csv", "WELF_20261130.csv"]  # wrote nothing


def test_check_reads_fixed_width_and_a_bad_layout_is_named(vendor, tmp_path):
    ok = check(vendor / "landing" / "GAKUREI20261130.DAT", "--extract", "gakureibo", "--layout",
               vendor / "layouts" / "gakureibo.yml")
    assert ok.returncode == 0 and "cp932 (fixed-width)" in ok.stdout
    broken = tmp_path / "gakureibo.yml"
    broken.write_text((vendor / "layouts" / "gakureibo.yml").read_text(encoding="utf-8").replace(
        "record_length: 87", "record_length: 20"), encoding="utf-8")
    out = check(vendor / "landing" / "GAKUREI20261130.DAT", "--extract", "gakureibo", "--layout", broken)
    assert out.returncode == 2 and "gakureibo.yml: record_length: 20 is shorter than the last field's end (87)" in out.stderr
