"""The 児童相談所 list on real nights (Dagster, pandera, Splink, dbt): linked records give C4 with the reason
linkage.md shows, the review file is the owner's alone and audited, a returned 別人 holds on the next night
and a bad returned row is quarantined with its reason."""

import stat
from datetime import date, timedelta

import openpyxl
import polars as pl
import pytest

from pipelines.core.audit import AuditLog
from pipelines.matching.review import LAYOUT, write_review_xlsx
from pipelines.nightly import run_nightly
from tests.helpers import AS_OF, first_night, restricted

YESTERDAY = AS_OF - timedelta(days=1)


@pytest.fixture(scope="module")
def nights(clean_municipality, clean_first_night, tmp_path_factory):
    landing, home = first_night(clean_municipality, clean_first_night, tmp_path_factory.mktemp("guidance"))
    first = clean_first_night["run"]
    with restricted(home) as con:
        links = con.execute("select * from raw.jisou_links").pl()
        cases = con.execute("select * from raw.jisou").pl()
        signals = con.execute("select address_code, reason from intermediate.int_signals_care "
                              "where signal_id = 'C4'").pl()
        children = {r[0] for r in con.execute("select address_code from intermediate.int_children").fetchall()}
    linked = links.filter(pl.col("band") == "link").join(cases, on="case_number")
    # the data team says 別人 for one linked pair, and sends a row with a made-up 判定 beside it
    target = linked.sort("case_number").row(0, named=True)
    rows = pl.DataFrame({
        "case_number": [target["case_number"]] * 2, "match_probability": [target["match_probability"]] * 2,
        "match_weight": [target["match_weight"]] * 2, "runner_up_weight": [None, None],
        "explanation": [target["explanation"]] * 2, "pair_hash": [target["pair_hash"]] * 2,
        "c_name": [target["full_name"]] * 2, "c_kana": [target["full_name_kana"]] * 2,
        "c_birth": [target["birth_date"]] * 2, "c_sex": [target["sex"]] * 2, "c_address": [target["address"]] * 2,
        "c_guardian": [target["guardian_name"]] * 2, "address_code": [target["address_code"]] * 2,
        "p_name": ["-"] * 2, "p_kana": ["-"] * 2, "p_birth": [date(2016, 1, 1)] * 2, "p_sex": ["1"] * 2,
        "p_address": ["-"] * 2, "p_adults": ["-"] * 2})
    returned = landing / "returns" / f"照合確認_{YESTERDAY:%Y%m%d}.xlsx"
    write_review_xlsx(rows, returned, YESTERDAY)
    book = openpyxl.load_workbook(returned)
    col = {t: i + 1 for i, (t, _) in enumerate(LAYOUT)}
    for row, decision in ((2, "別人"), (3, "同じ")):
        book.active.cell(row, col["判定"], decision)
        book.active.cell(row, col["確認日"], "2026-11-30")
        book.active.cell(row, col["確認者"], "D0042")
    book.save(returned)
    second = run_nightly(home, landing, AS_OF, quiet=True)
    with restricted(home) as con:
        after = con.execute("select * from raw.jisou_links").pl()
        signals_after = con.execute("select address_code, reason from intermediate.int_signals_care "
                                    "where signal_id = 'C4'").pl()
    return {"home": home, "children": children, "first": first, "second": second, "links": links, "cases": cases, "signals": signals,
            "target": target, "after": after, "signals_after": signals_after}


def test_c4_fires_for_an_open_protective_case_and_reads_as_linkage_md_shows(nights):
    linked = nights["links"].filter(pl.col("band") == "link").join(nights["cases"], on="case_number")
    linked = linked.filter(pl.col("address_code").is_in(list(nights["children"])))  # the population on T
    fires = linked.filter(pl.col("case_type").is_in(["虐待相談", "養護相談", "一時保護"])
                          & (pl.col("closed_on").is_null() | (pl.col("closed_on") > YESTERDAY - timedelta(365))))
    assert fires.height > 0
    reasons = dict(zip(nights["signals"]["address_code"], nights["signals"]["reason"]))
    for case in fires.iter_rows(named=True):
        reason = reasons[case["address_code"]]
        assert reason.startswith("C4 児相関与: ") and "受付" in reason and "（照合: " in reason
        assert "（照合: 自動 " in reason or "（照合: 確認済）" in reason
    # 非行・育成・障害相談 give no signal: a child whose only linked cases are of those types has no C4
    others = linked.filter(pl.col("case_type").is_in(["非行相談", "育成相談", "障害相談"]))
    only_others = set(others["address_code"]) - set(fires["address_code"])
    assert not only_others & set(nights["signals"]["address_code"])


def test_the_review_file_is_the_owners_alone_and_audited(nights):
    home = nights["home"]
    path = home / "linkage" / YESTERDAY.isoformat() / f"照合確認_{YESTERDAY:%Y%m%d}.xlsx"
    assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600
    written = [e for e in AuditLog(home / "audit" / "audit.log").entries() if e["event"] == "linkage_review_written"]
    assert written and "協定" in written[0]["details"]["agreement"]


def test_a_different_decision_holds_on_the_next_night_and_a_bad_row_is_quarantined(nights):
    t = nights["target"]
    row = nights["after"].filter(pl.col("case_number") == t["case_number"]).row(0, named=True)
    assert row["address_code"] != t["address_code"] or row["band"] == "none"
    loaded = [e for e in AuditLog(nights["home"] / "audit" / "audit.log").entries()
              if e["event"] == "linkage_decisions_loaded"]
    assert loaded and (loaded[0]["details"]["rows"], loaded[0]["details"]["quarantined"]) == (1, 1)
    quarantine = nights["home"] / "quarantine" / AS_OF.isoformat() / f"照合確認_{YESTERDAY:%Y%m%d}.csv"
    text = quarantine.read_text(encoding="utf-8-sig")
    assert "判定" in text and "同じ" in text and "コード表にない" in text


def test_the_facts_sheet_says_how_c4_is_given(nights):
    [xlsx] = (nights["home"] / "exports" / AS_OF.isoformat()).glob("*.xlsx")
    facts = {row[0]: row[1] for row in openpyxl.load_workbook(xlsx)["判定情報"].iter_rows(values_only=True)}
    note = facts["児相関与（C4）"]
    assert "宛名番号がない" in note and "確認済" in note and "非行相談・育成相談・障害相談は該当としません" in note


def test_a_disclosure_holds_the_centres_rows_linked_to_the_child_and_no_one_elses(nights):
    from pipelines.rights.disclosure import department_sections

    linked = nights["after"].filter(pl.col("band") == "link")
    child = linked.row(0, named=True)
    mine = set(linked.filter(pl.col("address_code") == child["address_code"])["case_number"])
    others = set(nights["cases"]["case_number"]) - mine
    with restricted(nights["home"]) as con:
        [section] = [s for s in department_sections(con, child["address_code"]) if "jisou" in s.title]
    shown = {row[0] for row in section.rows}
    assert shown == mine and not shown & others
