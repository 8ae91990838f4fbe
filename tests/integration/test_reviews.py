"""The caseworkers' loop (../shared/spec/reviews.md), round trip: night 1 makes the list; a caseworker fills
the xlsx with openpyxl and another saves a CSV in CP932 as Excel does; the files go to returns/; night 2
shows each effect of the spec; a later night shows the overdue work queue."""

import csv
import io
import json
import os
import re
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path

import duckdb
import openpyxl
import pytest

from pipelines.core import config
from pipelines.core.audit import AuditLog
from pipelines.lists.export import EXPORT_COLUMNS
from pipelines.nightly import run_nightly
from tests.helpers import AS_OF, check_evaluations, fill, first_night, materialization, restricted, rows_of

YESTERDAY = AS_OF - timedelta(days=1)
ROLES = ["A 要支援", "B 見守り", "C 支援不要", "D 支援不要 then a new signal", "E 対象外", "F unknown result",
         "G half-filled", "H dated after the night", "not on the list", "blank"]


@pytest.fixture(scope="module")
def loop(clean_municipality, clean_first_night, tmp_path_factory):
    landing, home = first_night(clean_municipality, clean_first_night, tmp_path_factory.mktemp("reviews"))
    [xlsx] = (home / "exports" / YESTERDAY.isoformat()).glob("*.xlsx")
    listed = rows_of(xlsx)
    assert len(listed) >= 10, "the tiny municipality lists ten children"
    # D: a child without C2 on the list, who gets a family consultation tonight (a new signal)
    d = next(i for i, r in enumerate(listed) if "C2 " not in r["該当理由"])
    order = [i for i in range(len(listed)) if i != d]
    rows = dict(zip([r for r in ROLES if not r.startswith("D")], order)) | {ROLES[3]: d}
    code = {role: listed[i]["宛名番号"] for role, i in rows.items()}

    wb = openpyxl.load_workbook(xlsx)  # what a caseworker does in Excel, with openpyxl
    ws = wb["見守りリスト"]
    day = date(2026, 11, 29)
    for role, result in [(ROLES[0], "要支援"), (ROLES[1], "見守り"), (ROLES[2], "支援不要"), (ROLES[3], "支援不要"),
                         (ROLES[4], "対象外"), (ROLES[5], "様子見")]:
        fill(ws, rows[role] + 2, day, result, "K0123")
    fill(ws, rows[ROLES[6]] + 2, None, "見守り", None)
    fill(ws, rows[ROLES[7]] + 2, AS_OF + timedelta(days=5), "見守り", "K0123")
    ws.cell(rows[ROLES[8]] + 2, 1).value = "000000999999999"
    fill(ws, rows[ROLES[8]] + 2, day, "見守り", "K0123")
    (landing / "returns").mkdir()
    wb.save(landing / "returns" / xlsx.name)

    # another office saves only its filled rows as CSV from Excel: CP932, 宛名番号 without its zeros,
    # dates with slashes; B is reviewed again on the same day in this later file (the later file wins)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for role, result in [(ROLES[5], "見守り"), (ROLES[1], "支援不要")]:
        row = dict(listed[rows[role]]) | {"宛名番号": code[role].lstrip("0"), "判定基準日": "2026/11/29",
                                          "確認日": "2026/11/29", "確認結果": result, "確認者": "s77"}
        writer.writerow(["" if row.get(c) is None else row[c] for c in EXPORT_COLUMNS])
    csv_path = landing / "returns" / f"確認済み_{YESTERDAY:%Y%m%d}.csv"
    csv_path.write_bytes(out.getvalue().encode("cp932"))
    # it arrives a minute after the xlsx: files saved in one tick of a coarse clock would tie on time
    arrived = (landing / "returns" / xlsx.name).stat().st_mtime_ns + 60 * 10**9
    os.utime(csv_path, ns=(arrived, arrived))
    (landing / "returns" / "memo.csv").write_bytes("宛名番号,確認結果\r\n1,要支援\r\n".encode("cp932"))

    fukushi = landing / "fukushi_20261130.csv"  # tonight D has a family consultation: C2 fires
    fukushi.write_bytes(fukushi.read_bytes() + f"{code[ROLES[3]]},家庭児童相談,2026-11-30,,\r\n".encode("cp932"))
    night = run_nightly(home, landing, AS_OF, quiet=True)
    assert night.result.success
    return {"home": home, "landing": landing, "code": code, "night": night, "xlsx": xlsx.name,
            "csv": csv_path.name, "listed": len(listed)}


def tonight(loop) -> dict[str, dict]:
    [xlsx] = (loop["home"] / "exports" / AS_OF.isoformat()).glob("*.xlsx")
    return {r["宛名番号"]: r for r in rows_of(xlsx)}


def test_returned_files_reconcile_row_by_row_and_are_audited(loop):
    md = materialization(loop["night"].result, "raw/reviews")
    files = {f["file"]: f for f in md["files_read"]}
    xlsx, csv_file = files[loop["xlsx"]], files[loop["csv"]]
    n = loop["listed"]  # nine rows filled by the roles, the rest of the list left blank
    assert (xlsx["rows_read"], xlsx["reviews_loaded"], xlsx["rows_skipped"], xlsx["rows_quarantined"]) == (n, 5, n - 9, 4)
    assert (csv_file["rows_read"], csv_file["reviews_loaded"], csv_file["rows_quarantined"]) == (2, 2, 0)
    assert xlsx["office"] == "00" and csv_file["office"] is None  # a file named otherwise is still read
    assert md["rejected_files"] == ["memo.csv 1行目: 必須列がありません: 確認日, 確認者"]
    checks = check_evaluations(loop["night"].result)
    assert checks["raw/reviews:rows_reconcile"].passed and not checks["raw/reviews:file_accepted"].passed
    entries = [e for e in AuditLog(loop["home"] / "audit" / "audit.log").entries() if e["event"].startswith("return_")]
    assert sorted((e["event"], e["details"]["file"]) for e in entries) == sorted(
        [("return_loaded", loop["xlsx"]), ("return_loaded", loop["csv"]), ("return_rejected", "memo.csv")])
    assert all(len(e["details"]["sha256"]) == 64 for e in entries)


def test_bad_review_rows_are_quarantined_with_line_and_reason(loop):
    path = loop["home"] / "quarantine" / AS_OF.isoformat() / f"{Path(loop['xlsx']).stem}.csv"
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    reasons = {r["宛名番号"]: r["理由"] for r in rows}
    code = loop["code"]
    assert "確認結果: 「様子見」はコード表にない値です" in reasons[code[ROLES[5]]]
    assert reasons[code[ROLES[6]]] == "確認日・確認結果・確認者の一部だけが記入されています（3つとも記入してください）"
    assert reasons[code[ROLES[7]]].startswith(f"確認日: この夜（{AS_OF}）より後の日付です")
    assert reasons["000000999999999"] == "宛名番号: この判定基準日のリストに載っていません"
    assert all(int(r["行番号"]) >= 2 for r in rows)


def test_night_two_shows_each_effect_of_the_reviews(loop):
    listed, code = tonight(loop), loop["code"]
    a, d, f = listed[code[ROLES[0]]], listed[code[ROLES[3]]], listed[code[ROLES[5]]]
    # 要支援: on the list as 支援中, the review shown
    assert (a["支援状況"], a["前回確認結果"], a["前回確認日"], a["前回比"]) == ("支援中", "要支援", "2026-11-29", "継続")
    # 支援不要 and then a signal the reviewed list did not have: back, 再掲, with that signal named
    assert (d["前回比"], d["前回確認結果"], d["確認後の新規該当"]) == ("再掲", "支援不要", "C2 家庭児童相談")
    # 見守り (from the CP932 CSV, 宛名番号 without its zeros): stays, review shown
    assert (f["前回比"], f["前回確認結果"], f["確認後の新規該当"]) == ("継続", "見守り", None)
    # 支援不要 and 対象外 within validity, and B (見守り in the xlsx, 支援不要 in the later CSV): left off
    for role in (ROLES[1], ROLES[2], ROLES[4]):
        assert code[role] not in listed, role
    # unreviewed (quarantined) children stay as the rules say
    for role in (ROLES[6], ROLES[7]):
        assert listed[code[role]]["前回確認結果"] is None and listed[code[role]]["前回比"] == "継続"
    assert all(r[c] is None for r in listed.values() for c in ("確認日", "確認結果", "確認者"))
    reviews = loop["night"].summary["reviews"]
    assert reviews["left_off"] == 3 and reviews["read_tonight"] == 7 and reviews["does_not_apply_tonight"] == 1
    assert loop["night"].summary["flagged"].get("再掲") == 1
    [xlsx] = (loop["home"] / "exports" / AS_OF.isoformat()).glob("*.xlsx")
    facts = {k: v for k, v in openpyxl.load_workbook(xlsx)["判定情報"].iter_rows(values_only=True) if k}
    assert facts["確認により除外"].startswith("3人") and "再掲 1人" in facts["該当児童数"]


def test_the_list_invites_the_review_and_prints_for_a_case_meeting(loop):
    [xlsx] = (loop["home"] / "exports" / AS_OF.isoformat()).glob("*.xlsx")
    ws = openpyxl.load_workbook(xlsx)["見守りリスト"]
    header = [c.value for c in ws[1]]
    assert header == EXPORT_COLUMNS and header[-6:] == ["前回確認日", "前回確認結果", "確認後の新規該当", "確認日", "確認結果",
                                                        "確認者"]
    column = {name: openpyxl.utils.get_column_letter(header.index(name) + 1) for name in header}
    validations = {str(v.sqref): v for v in ws.data_validations.dataValidation}
    results = validations[f"{column['確認結果']}2:{column['確認結果']}{ws.max_row}"]
    assert results.type == "list" and results.formula1 == '"要支援,見守り,支援不要,支援中,対象外"'
    assert validations[f"{column['確認日']}2:{column['確認日']}{ws.max_row}"].type == "date"
    for name in ("確認日", "確認結果", "確認者"):
        assert ws[f"{column[name]}2"].fill.fgColor.rgb.endswith("FFF2CC")
    assert ws[f"{column['確認日']}2"].number_format == "yyyy-mm-dd"
    assert ws[f"{column['宛名番号']}2"].fill.fgColor.rgb in (None, "00000000")
    assert ws.freeze_panes == "A2"
    # landscape, fitted to one page wide (fitToWidth absent = 1 in OOXML) and as many pages tall as needed
    assert ws.page_setup.orientation == "landscape" and ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.page_setup.fitToWidth in (None, 1) and ws.page_setup.fitToHeight == 0
    assert ws.print_title_rows in ("1:1", "$1:$1")
    assert "取扱注意（個人情報）" in ws.oddHeader.right.text and "判定基準日 2026-11-30" in ws.oddHeader.center.text
    assert "00 こども家庭センター" in ws.oddHeader.left.text and "&P" in ws.oddFooter.center.text


def test_libreoffice_prints_every_column_on_the_first_page(loop, tmp_path):
    soffice, pdftotext = shutil.which("soffice"), shutil.which("pdftotext")
    if not soffice or not pdftotext:
        pytest.skip("LibreOffice and poppler-utils (Debian packages) are not installed: see .ci/system-packages")
    [xlsx] = (loop["home"] / "exports" / AS_OF.isoformat()).glob("*.xlsx")
    subprocess.run([soffice, "--headless", "--norestore", f"-env:UserInstallation=file://{tmp_path}/lo",
                    "--convert-to", "pdf", "--outdir", str(tmp_path), str(xlsx)], capture_output=True, timeout=180)
    pdf = tmp_path / f"{xlsx.stem}.pdf"
    first = subprocess.run([pdftotext, "-f", "1", "-l", "1", "-layout", str(pdf), "-"], capture_output=True,
                           text=True).stdout
    for text in ("宛名番号", "該当理由", "ルール版", "確認後の新規該当", "確認者", "取扱注意（個人情報）", "1 / "):
        assert text in first, text
    reasons = rows_of(xlsx)[0]["該当理由"].split("\n")
    assert all(r[:12] in first for r in reasons)  # every reason of the first child, on the first page
    # a row too short for its reasons cuts them off in print (LibreOffice keeps the stored height): every
    # reason of every child, whole, on some page (text in drawing order, so a wrapped cell reads on)
    pages = int(re.search(r"Pages:\s+(\d+)", subprocess.run(["pdfinfo", str(pdf)], capture_output=True,
                                                            text=True).stdout).group(1))
    printed = [re.sub(r"\s+", "", subprocess.run([pdftotext, "-raw", "-f", str(p), "-l", str(p), str(pdf), "-"],
                                                capture_output=True, text=True).stdout) for p in range(1, pages + 1)]
    listed = rows_of(xlsx)
    assert max(len(r["該当理由"].split("\n")) for r in listed) >= 3
    cut = [(r["宛名番号"], reason) for r in listed for reason in r["該当理由"].split("\n")
           if not any(re.sub(r"\s+", "", reason) in page for page in printed)]
    assert not cut, f"reasons cut off in print: {cut}"


def test_reviews_reach_analysts_without_staff_codes_or_addresses(loop):
    con = duckdb.connect(str(loop["home"] / "warehouse" / "analysis.duckdb"), read_only=True)
    outcomes = con.execute("select * from review_outcomes").pl()
    con.close()
    assert outcomes.columns == ["child_token", "list_date", "reviewed_on", "office_code", "rule_version", "days_to_review", "result",
                                "listed_signals"]
    assert outcomes.height == 7 and set(outcomes["result"]) == {"要支援", "見守り", "支援不要", "対象外"}
    assert (outcomes["days_to_review"] == 0).all()  # listed on the 29th, reviewed on the 29th
    text = str(outcomes.to_dicts())
    assert not [c for c in loop["code"].values() if c in text or c.lstrip("0") in text]
    assert "K0123" not in text and "s77" not in text


@pytest.fixture(scope="module")
def two_weeks_later(loop, tmp_path_factory):
    """Sixteen days after the first list, nobody has reviewed G and H: overdue."""
    home = tmp_path_factory.mktemp("later") / "home"
    shutil.copytree(loop["home"], home, ignore=shutil.ignore_patterns(".dagster", "nightly.lock"))
    later = AS_OF + timedelta(days=15)
    return home, later, run_nightly(home, loop["landing"], later, quiet=True)


def test_reading_the_same_returns_again_changes_nothing(loop, two_weeks_later):
    home, _, night = two_weeks_later
    assert materialization(night.result, "raw/reviews")["files_already_read"] == 3
    with restricted(home) as con, restricted(loop["home"]) as before:
        assert con.execute("select count(*), max(_loaded_seq) from raw.reviews").fetchone() == \
            before.execute("select count(*), max(_loaded_seq) from raw.reviews").fetchone()


def test_children_awaiting_review_too_long_are_overdue_in_the_summary_report_and_a_check(loop, two_weeks_later):
    home, later, night = two_weeks_later
    assert night.result.success
    code = loop["code"]
    with restricted(home) as con:
        queue = {c: (since, overdue) for c, since, overdue in con.execute(
            "select address_code, awaiting_since, is_overdue from marts.review_queue").fetchall()}
    for role in (ROLES[6], ROLES[7]):
        if code[role] in queue:  # (still flagged sixteen days on)
            assert queue[code[role]] == (YESTERDAY, True)
    assert queue[code[ROLES[0]]] == (None, False)  # reviewed: not awaiting
    overdue = sum(o for _, o in queue.values())
    assert overdue >= 1
    check = check_evaluations(night.result)["exports/caseworker_lists:reviews_overdue"]
    assert not check.passed and check.severity.value == "WARN"
    assert f"00 こども家庭センター: {overdue}" in check.description
    assert night.summary["reviews"]["queue_by_office"]["00 こども家庭センター"]["overdue"] == overdue
    from pipelines.quality.summary import render

    assert f"{overdue:,} overdue (00 こども家庭センター: {overdue})" in render(night.summary, home, loop["landing"])
    report = (home / "reports" / later.isoformat() / "report.html").read_text(encoding="utf-8")
    assert "ケースワーカーの確認と作業待ち" in report
    row = re.search(r"<tr><td class=\"l\">00 こども家庭センター</td><td[^>]*>(\d+)</td><td[^>]*><span class=\"warn\">(\d+)</span>", report)
    assert row and int(row.group(2)) == overdue
    assert json.dumps(config.rules()["review"]) == '{"valid_days": 180, "due_days": 14}'


def test_the_outcome_evaluation_reads_the_pseudonymised_months_and_hides_groups_under_five(loop, tmp_path):
    """効果検証 on a real home (outcomes.md): the months are in the analysts' store under tokens, the command
    prints its headline and then the page, every outcome has its figures and n, and one supported child is far
    too few to estimate anything: said so, not shown."""
    import dagster as dg

    from pipelines.definitions import defs
    from pipelines.quality.report import effect_section

    home = tmp_path / "home"
    shutil.copytree(loop["home"], home, ignore=shutil.ignore_patterns(".dagster", "nightly.lock"))
    with duckdb.connect(str(home / "warehouse" / "analysis.duckdb"), read_only=True) as con:
        months = con.execute("select * from outcome_months").pl()
    assert {"child_token", "month", "attendance_rate", "days_absent", "s1_fired", "checkups_due", "domain_count",
            "on_list", "support_start", "first_listed"} <= set(months.columns)
    assert months["child_token"].str.contains(r"^[0-9a-f]{32}$").all()
    supported = months.filter(months["support_start"].is_not_null())["child_token"].unique()
    assert supported.len() == 1  # A, reviewed 要支援
    rates = months["attendance_rate"].drop_nulls()
    assert rates.len() > 0 and rates.min() >= 0 and rates.max() <= 1

    out = subprocess.run([str(Path(os.sys.executable).with_name("mimamori")), "outcomes", "evaluate", "--home",
                          str(home), "--window-months", "2"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    *_, headline, page = out.stdout.strip().splitlines()
    assert headline.startswith("outcomes: ") and "too few" in headline
    assert Path(page) == home / "reports" / "outcomes" / AS_OF.isoformat() / "evaluation.html"
    summary = json.loads(Path(page).with_name("evaluation.json").read_text())
    assert summary["window_months"] == 2 and summary["children_supported"] == 1
    for name, o in summary["outcomes"].items():
        assert {"estimate", "ci_low", "ci_high", "n_supported", "n_comparison"} <= set(o), name
        assert o["suppressed"] and o["estimate"] is None and o["n_supported"] < 5, name
    text = Path(page).read_text()
    assert "効果検証" in text and "表示せず" in text and "平行トレンド" in text and "<svg" in text
    assert not any(code in text for code in loop["code"].values())  # no 宛名番号
    assert "効果の推定は示していません" in effect_section(home)

    os.environ.update({"MIMAMORI_HOME": str(home), "MIMAMORI_LANDING": str(loop["landing"])})
    result = defs.resolve_job_def("evaluate_outcomes").execute_in_process(
        run_config={"ops": {"evaluate_support_outcomes": {"config": {"window_months": 3, "as_of": AS_OF.isoformat()}}}},
        instance=dg.DagsterInstance.ephemeral())
    assert result.success
    assert json.loads(Path(page).with_name("evaluation.json").read_text())["window_months"] == 3
