"""Residents' rights (../shared/spec/rights.md) on real nights of the tiny municipality: a suspended child
and a suspended parent, corrections that change the list and its reasons and are later reflected, consent
mode with a withdrawal, the disclosure report checked against the store, and the access alert."""

import json
import os
import re
import shutil
import stat
import subprocess
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from pipelines import cli
from pipelines.analysis.marts import tokenizer
from pipelines.core import config
from pipelines.core.audit import AuditLog, verify
from pipelines.nightly import run_nightly
from pipelines.rights.letter import signal_sentence
from pipelines.rights.requests import PERSON_TABLES
from tests.helpers import AS_OF, check_evaluations, first_night, identifiers, materialization, restricted

YESTERDAY, TOMORROW = AS_OF - timedelta(days=1), AS_OF + timedelta(days=1)


def pick(con) -> dict:
    """Children of yesterday's list whose data let each right show its effect."""
    listed = con.execute("select address_code, signal_ids from marts.flagged_children").fetchall()
    signals = {code: list(ids) for code, ids in listed}
    # a child whose only economic signal rests on one parent's programme record
    parent = con.execute("""
        select m.child_code, any_value(m.member_code) from intermediate.int_household_members m
        join intermediate.int_programme_records p on p.address_code = m.member_code
        where not m.is_self and p.is_ongoing and p.programme in ('生活保護', '児童扶養手当')
        group by m.child_code having count(distinct m.member_code) = 1""").fetchall()
    chosen = {}
    for child, member in parent:
        econ = [s for s in signals.get(child, []) if s.startswith("E")]
        if len(econ) == 1 and econ[0] in ("E1", "E2"):
            chosen["parent_child"], chosen["parent"] = child, member
            break
    # a child on the list for C2 (its own consultation) and one other domain: removing it changes the list; one
    # with a brother or sister under 18, whose data is suspended (the disclosure's letter)
    siblings = dict(con.execute("""
        select c.address_code, min(s.address_code) from raw.jumin c join raw.jumin s using (household_code)
        where s.address_code != c.address_code and s.birth_date > date '2008-12-01' group by 1""").fetchall())
    chosen["removed"] = next(c for c, ids in signals.items() if c not in chosen.values() and "C2" in ids
                             and not {"C1", "C3"} & set(ids) and len({s[0] for s in ids}) == 2 and c in siblings)
    chosen["sibling"] = siblings[chosen["removed"]]
    chosen["consultation"] = con.execute(
        "select cast(start_date as varchar) from intermediate.int_programme_records where address_code = ? "
        "and programme = '家庭児童相談' order by start_date desc limit 1", [chosen["removed"]]).fetchone()[0]
    # a child listed for S1: one of last month's absences was in fact attendance
    chosen["absent"] = next(c for c, ids in signals.items() if "S1" in ids and c not in chosen.values())
    chosen["pupil"], chosen["day"] = con.execute(
        "select a.pupil_id, cast(a.school_day as varchar) from raw.shukketsu a join raw.gakureibo g using (pupil_id) "
        "where g.address_code = ? and a.attendance = '欠席' and a.school_day >= date '2026-10-01' "
        "and a.school_day < date '2026-11-01' order by a.school_day limit 1", [chosen["absent"]]).fetchone()
    pupils = {c for (c,) in con.execute("select address_code from raw.gakureibo").fetchall()}
    chosen["suspended"] = next(c for c in signals if c not in chosen.values() and c in pupils)
    assert chosen["sibling"] not in (chosen["suspended"], chosen["parent"])
    return chosen


def write(path: Path, text: str) -> None:
    path.write_bytes(text.replace("\n", "\r\n").encode("utf-8"))


@pytest.fixture(scope="module")
def rights(clean_municipality, clean_first_night, tmp_path_factory):
    folder = tmp_path_factory.mktemp("rights")
    landing, home = first_night(clean_municipality, clean_first_night, folder)
    baseline = folder / "baseline"
    shutil.copytree(home, baseline, ignore=shutil.ignore_patterns(".dagster", "nightly.lock"))
    with restricted(home) as con:
        who = pick(con)
    write(landing / "teishi_20261130.csv",
          "受付番号,宛名番号,開始日,終了日,理由区分\n"
          f"R8-T01,{who['suspended']},2026-11-30,2026-11-30,利用停止請求\n"
          f"R8-T02,{who['parent']},2026-11-30,,利用停止請求\n"
          f"R8-T03,{who['parent']},2026-11-30,2026-11-01,その他\n"  # ends before it starts
          f"R8-T04,{who['sibling']},2026-11-30,,利用停止請求\n")
    write(landing / "teisei_20261130.csv",
          "受付番号,抽出,行の鍵,項目,訂正後の値,理由\n"
          f"R8-C01,shukketsu,児童生徒番号={who['pupil']};日付={who['day']},出欠区分,出席,学校の記録誤り\n"
          f"R8-C02,fukushi,宛名番号={who['removed']};制度=家庭児童相談;開始日={who['consultation']},,,別人の記録\n"
          f"R8-C03,fukushi,宛名番号={who['removed']};制度=家庭児童相談;開始日={who['consultation']},血液型,A,誤り\n")
    tonight = run_nightly(home, landing, AS_OF, quiet=True)
    assert tonight.result.success
    return {"home": home, "landing": landing, "baseline": baseline, "who": who, "tonight": tonight}


def listed(home: Path) -> dict[str, str]:
    with restricted(home) as con:
        return dict(con.execute("select address_code, reasons from marts.flagged_children").fetchall())


def test_a_suspended_child_is_on_no_list_in_no_mart_and_its_history_is_deleted(rights):
    home, code = rights["home"], rights["who"]["suspended"]
    assert code in listed(rights["baseline"]) and code not in listed(home)
    with restricted(home) as con:
        assert con.execute("select count(*) from marts.child_signals where address_code = ?", [code]).fetchone()[0] == 0
        for name, person in PERSON_TABLES.items():
            if person == "address_code":
                assert con.execute(f"select count(*) from raw.{name} where address_code = ?", [code]).fetchone()[0] == 0
        assert con.execute("select count(*) from raw.set_aside_jumin where address_code = ? "
                           "and _set_aside_by = 'teishi:R8-T01'", [code]).fetchone()[0] == 1
        logs = con.execute("select file_name, rows_read, rows_loaded, rows_quarantined, coalesce(rows_excluded, 0) "
                           "from raw.load_log where as_of = ? and status = 'loaded'", [AS_OF]).fetchall()
    # per file loaded tonight: rows read = loaded + quarantined + excluded (tonight's attendance has the pupil's day)
    assert all(read == loaded + quarantined + excluded for _, read, loaded, quarantined, excluded in logs)
    assert {f: e for f, *_, e in logs}["shukketsu_20261130.csv"] == 2  # tonight's day of the two suspended pupils
    token = tokenizer(home, "analysis")("child", code)
    con = duckdb.connect(str(home / "warehouse" / "analysis.duckdb"), read_only=True)
    assert con.execute("select count(*) from child_indicators where child_token = ?", [token]).fetchone()[0] == 0
    con.close()
    con = duckdb.connect(str(rights["baseline"] / "warehouse" / "analysis.duckdb"), read_only=True)
    assert con.execute("select count(*) from child_indicators where child_token = ?", [token]).fetchone()[0] == 1
    con.close()
    summary = rights["tonight"].summary["rights"]
    assert summary["people_set_aside"] == {"利用停止 suspended": 3} and summary["rows_set_aside"]["jumin"] == 3


def test_a_suspended_parents_rows_no_longer_carry_the_childs_economic_signal(rights):
    child = rights["who"]["parent_child"]
    assert child in listed(rights["baseline"])
    with restricted(rights["home"]) as con:
        ids = con.execute("select signal_ids from marts.child_signals where address_code = ?", [child]).fetchone()[0]
        members = {m for (m,) in con.execute("select member_code from intermediate.int_household_members "
                                             "where child_code = ?", [child]).fetchall()}
    assert not {"E1", "E2"} & set(ids) and rights["who"]["parent"] not in members
    assert child not in listed(rights["home"])


def test_a_correction_changes_the_reason_and_a_removal_changes_the_list(rights):
    who, now = rights["who"], listed(rights["home"])
    before = listed(rights["baseline"])[who["absent"]]
    days = int(re.search(r"欠席(\d+)日", before).group(1))
    assert f"欠席{days - 1}日（訂正済 R8-C01）" in now[who["absent"]]
    assert who["removed"] in listed(rights["baseline"]) and who["removed"] not in now
    md = materialization(rights["tonight"].result, "rights/applied")
    assert md["corrections_applied"] == ["R8-C01", "R8-C02"]


def test_bad_requests_are_quarantined_with_their_reasons(rights):
    folder = rights["home"] / "quarantine" / AS_OF.isoformat()
    teisei = (folder / "teisei_20261130.csv").read_text(encoding="utf-8-sig")
    teishi = (folder / "teishi_20261130.csv").read_text(encoding="utf-8-sig")
    assert "項目: 「血液型」は fukushi の列ではありません" in teisei and "R8-C01" not in teisei
    assert "終了日が開始日より前です" in teishi and teishi.count("\n") == 2
    assert check_evaluations(rights["tonight"].result)["rights/requests:rows_reconcile"].passed


@pytest.fixture(scope="module")
def disclosure(rights):
    home = rights["home"]
    before = len(AuditLog(home / "audit" / "audit.log").entries())
    return disclose(home, rights["who"]["absent"], "開示請求 R8-K01"), before


def disclose(home: Path, code: str, reason: str) -> Path:
    """`mimamori person report`, its 宛名番号 without its zeros as a clerk types it; the page's path."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["person", "report", "--home", str(home), "--code", code.lstrip("0"), "--reason", reason]) == 0
    return Path(out.getvalue().splitlines()[-1])


def test_the_disclosure_report_holds_every_row_of_the_person_and_nothing_of_anyone_else(rights, disclosure):
    path, _ = disclosure
    home, code = rights["home"], rights["who"]["absent"]
    assert path.parent == home / "disclosures" and path.suffix == ".html"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    text = path.read_text(encoding="utf-8")
    cells = set(re.findall(r"<td>([^<]*)</td>", text))
    with restricted(home) as con:
        pupils = [p for (p,) in con.execute("select pupil_id from raw.gakureibo where address_code = ?", [code]).fetchall()]
        rows = 0
        for name, person in PERSON_TABLES.items():
            keys = [code] if person == "address_code" else pupils
            for table in (f"raw.{name}", f"raw.set_aside_{name}"):
                if con.execute("select count(*) from information_schema.tables where table_schema = 'raw' "
                               "and table_name = ?", [table.split(".")[1]]).fetchone()[0] == 0:
                    continue
                for source, line in con.execute(f"select _source_file, _source_line from {table} "
                                                f"where {person} in (select unnest(?))", [keys]).fetchall():
                    rows += 1
                    assert re.search(rf"<td>{re.escape(source)}</td>(?:</tr><tr><th>行</th>)?<td>{line}</td>", text), \
                        (table, source, line)
        others = {n for (n,) in con.execute("select full_name from raw.jumin where address_code != ? and full_name != "
                                            "(select full_name from raw.jumin where address_code = ?)",
                                            [code, code]).fetchall()}
        other_codes = {c for (c,) in con.execute("select address_code from raw.jumin where address_code != ?",
                                                 [code]).fetchall()}
        history = con.execute("select count(*) from marts.flag_list_history where address_code = ?", [code]).fetchone()[0]
    assert rows > 100  # the registry row, the school register, a school year of attendance …
    assert not others & cells and not other_codes & cells
    assert "R8-C01" in text and "学校の記録誤り" in text and text.count("見守りリストへの掲載") == 2  # the letter's, the appendix's
    assert history == 2 and "欠席" in text and "（訂正済 R8-C01）" in text


def test_the_disclosure_opens_with_a_letter_a_parent_can_read(rights):
    """The PDF's first pages in plain Japanese (the issue "written for the people who read it"): what mimamori
    is, what is held by department, the nights on the list with each signal in a sentence, the reviews, who
    looked, when it is deleted, how to ask for a correction or a stop and where, attendance by month; then the
    appendix with codes in words. For a listed child with a correction whose sister or brother's data is
    suspended: the sibling is nowhere in it."""
    page = disclose(rights["home"], rights["who"]["removed"], "開示請求 R8-K02")
    pdf = page.with_suffix(".pdf")
    if not shutil.which("chromium") or not shutil.which("pdftotext"):
        pytest.skip("Chromium and poppler-utils print and read the PDF: see .ci/system-packages")
    assert stat.S_IMODE(pdf.stat().st_mode) == 0o600
    pages = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout.split("\f")
    text = [re.sub(r"\s+", "", p) for p in pages]
    first_appendix = next(i for i, p in enumerate(text) if "付録:保有しているすべての記録" in p)
    letter, appendix = "".join(text[:first_appendix]), "".join(text[first_appendix:])
    rules, office = config.rules(), config.offices()["default_office"]
    for part in ("見守りとは", "最初のきっかけだけ", "市が持っている情報（課ごと）", "住民記録", "福祉", "見守りリストへの掲載",
                 "C2家庭児童相談", re.sub(r"\s+", "", signal_sentence("C2", rules)), "支援拠点による確認", "この記録を見た人",
                 "記録を消す時期", f"{config.governance()['removed_person_days']}日後", "訂正・利用の停止を求めるには",
                 re.sub(r"\s+", "", office["contact"]), "学校の出欠（月ごとのまとめ）", "利用停止"):
        assert part in letter, part
    assert "R8-C02" in appendix and "別人の記録" in appendix
    assert re.search(r"<th>性別</th><td>(男|女)</td>", page.read_text(encoding="utf-8"))  # codes in words
    with restricted(rights["home"]) as con:
        sibling = con.execute("select full_name from raw.set_aside_jumin where address_code = ?",
                              [rights["who"]["sibling"]]).fetchone()[0]
    whole = "".join(text)
    assert re.sub(r"\s+", "", sibling) not in whole and rights["who"]["sibling"] not in whole


def test_the_request_is_audited_first_with_the_token_never_the_code(rights, disclosure):
    path, before = disclosure
    home = rights["home"]
    entries = AuditLog(home / "audit" / "audit.log").entries()
    request = entries[before]
    assert request["event"] == "disclosure" and request["details"]["reason"] == "開示請求 R8-K01"
    assert request["details"]["token"] == tokenizer(home, "analysis")("child", rights["who"]["absent"])
    assert request["details"]["user"] and verify(home / "audit" / "audit.log").ok


@pytest.fixture(scope="module")
def next_night(rights, disclosure, tmp_path_factory):
    """The school's own file now agrees with R8-C01; the child's suspension has ended; one user made 21
    re-identifications and disclosure reports today."""
    home, landing, who = rights["home"], rights["landing"], rights["who"]
    write(landing / f"shukketsu_{TOMORROW:%Y%m%d}.csv",
          "児童生徒番号,学校コード,日付,出欠区分,欠席理由,保健室利用\n"
          + f"{who['pupil']},{_school(home, who['pupil'])},{who['day']},出席,,\n")
    con = duckdb.connect(str(home / "warehouse" / "analysis.duckdb"), read_only=True)
    token = con.execute("select child_token from child_indicators limit 1").fetchone()[0]
    con.close()
    import contextlib
    import io
    from datetime import datetime

    from pipelines.core.clock import TOKYO

    # 21 requests by one user today: with the disclosure reports above (whichever ran before, and none when Tokyo's
    # midnight came between them and now: the suite can run at any hour)
    today = datetime.now(TOKYO).date()
    made = sum(1 for e in AuditLog(home / "audit" / "audit.log").entries() if e["event"] in ("disclosure", "reidentify")
               and datetime.fromisoformat(e["at"]).astimezone(TOKYO).date() == today)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        for _ in range(21 - made):
            cli.main(["reidentify", token, "--reason", "要対協の個別ケース検討", "--home", str(home)])
    return run_nightly(home, landing, TOMORROW, quiet=True)


def _school(home: Path, pupil: str) -> str:
    with restricted(home) as con:
        return con.execute("select school_code from raw.gakureibo where pupil_id = ?", [pupil]).fetchone()[0]


def test_a_correction_the_department_now_agrees_with_is_reported_reflected(rights, next_night):
    assert next_night.result.success
    summary = next_night.summary["rights"]
    assert summary["corrections_reflected_tonight"] == ["R8-C01"]
    with restricted(rights["home"]) as con:
        status = dict(con.execute("select receipt, status from raw.corrections").fetchall())
    assert status == {"R8-C01": "reflected", "R8-C02": "active"}
    assert "（訂正済" not in listed(rights["home"]).get(rights["who"]["absent"], "")
    assert rights["who"]["removed"] not in listed(rights["home"])  # the department has not fixed that one yet


def test_a_suspension_that_ended_gives_the_person_back(rights, next_night):
    with restricted(rights["home"]) as con:
        assert con.execute("select count(*) from marts.child_signals where address_code = ?",
                           [rights["who"]["suspended"]]).fetchone()[0] == 1
        assert con.execute("select count(*) from raw.set_aside_jumin where address_code = ?",
                           [rights["who"]["suspended"]]).fetchone()[0] == 0


def test_twenty_one_requests_by_one_user_raise_the_access_alert(rights, next_night):
    [alert] = next_night.summary["access_alerts"]
    assert alert["requests"] == 21 and alert["limit"] == 20
    check = check_evaluations(next_night.result)["governance/retention_purge:access_within_limits"]
    assert not check.passed and check.severity.value == "WARN" and "21 requests" in check.description
    report = (rights["home"] / "reports" / TOMORROW.isoformat() / "report.html").read_text(encoding="utf-8")
    assert f"{alert['user']}: 21 re-identifications and disclosure reports" in report
    from pipelines.quality.summary import render

    assert "ACCESS ALERT" in render(next_night.summary, rights["home"], rights["landing"])


def test_the_audit_log_never_holds_an_address_code_in_clear(rights, next_night):
    log = (rights["home"] / "audit" / "audit.log").read_text(encoding="utf-8")
    secret = {s for s in identifiers(rights["landing"], TOMORROW) if len(s) >= 6}
    assert not [s for s in secret if s in log][:3]


@pytest.fixture(scope="module")
def consent_night(rights, tmp_path_factory):
    """Consent mode: two children's guardians agreed on the 25th; one withdrew on the 29th."""
    folder = tmp_path_factory.mktemp("consent")
    home, landing = folder / "home", folder / "landing"
    shutil.copytree(rights["baseline"], home)
    shutil.copytree(rights["landing"], landing, ignore=shutil.ignore_patterns("teisei_*", "teishi_*", "shukketsu_2026120*"))
    with restricted(home) as con:
        a, b = [c for (c,) in con.execute("select address_code from marts.flagged_children order by address_code "
                                          "limit 2").fetchall()]
    write(landing / "doui_20261130.csv", "受付番号,宛名番号,同意日,撤回日\n"
                                         f"R8-D01,{a},2026-11-25,\nR8-D02,{b},2026-11-25,2026-11-29\n")
    governance = config.governance() | {"lawful_basis": "consent"}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(config, "governance", lambda path=None: governance)
        night = run_nightly(home, landing, AS_OF, quiet=True)
    assert night.result.success
    return home, a, b, night


def test_consent_mode_screens_only_consented_children_and_honours_a_withdrawal(consent_night):
    home, a, b, night = consent_night
    with restricted(home) as con:
        population = {c for (c,) in con.execute("select address_code from marts.child_signals").fetchall()}
        household = con.execute("select household_code from raw.jumin where address_code = ?", [a]).fetchone()[0]
        kept = con.execute("select count(distinct household_code), count(*) from raw.jumin").fetchone()
        b_aside = con.execute("select _set_aside_by from raw.set_aside_jumin where address_code = ?", [b]).fetchone()
    assert population == {a}  # b withdrew on the 29th: not screened from that day
    assert kept[0] == 1 and kept[1] >= 2 and household  # a's household serves a's signals; nobody else's rows
    assert b_aside == ("consent",)
    assert night.summary["rights"]["people_set_aside"]["同意の範囲外 outside consent"] > 1000
    assert set(listed(home)) <= {a}
    assert json.loads(json.dumps(night.summary["rights"]["rows_set_aside"]))["jumin"] > 1000
    assert os.path.exists(home / "reports" / AS_OF.isoformat() / "report.html")
