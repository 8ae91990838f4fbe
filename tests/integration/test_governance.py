"""governance.md, rule by rule, on the stores the nightly wrote."""

import hashlib
import hmac
import json
import os
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import duckdb
import openpyxl
import polars as pl
import pytest

from pipelines.analysis.marts import suppress, tokenizer
from pipelines.core.audit import AuditLog, verify
from tests.helpers import AS_OF, identifiers, restricted

MIMAMORI = str(Path(sys.executable).with_name("mimamori"))


def analysis_values(home: Path) -> dict[str, set[str]]:
    con = duckdb.connect(str(home / "warehouse" / "analysis.duckdb"), read_only=True)
    out = {}
    for (table,) in con.execute("select table_name from information_schema.tables").fetchall():
        frame = con.execute(f"select * from {table}").pl()
        out[table] = {str(v) for c in frame.columns for v in frame[c].drop_nulls().unique().to_list()}
        out[table] |= set(frame.columns)
    con.close()
    return out


def test_analysis_store_holds_no_identifier_not_even_hashed(nightly_home):
    secret = identifiers(nightly_home["landing"], AS_OF)
    assert len(secret) > 1000
    for table, values in analysis_values(nightly_home["home"]).items():
        leaked = values & secret
        assert not leaked, f"{table}: {sorted(leaked)[:5]}"
        # and no identifier inside a longer text
        text_values = [v for v in values if not v.replace(".", "").isdigit()]
        names = {s for s in secret if not s.isascii() and len(s) >= 4}
        assert not [v for v in text_values for n in names if n in v][:1], table


def test_facts_sheets_and_run_summary_hold_no_identifier(nightly_home):
    secret = {s for s in identifiers(nightly_home["landing"], AS_OF) if len(s) >= 4}
    home = nightly_home["home"]
    texts = []
    for xlsx in (home / "exports").rglob("*.xlsx"):
        texts += [str(v) for row in openpyxl.load_workbook(xlsx)["判定情報"].iter_rows(values_only=True) for v in row
                  if v is not None]
    texts.append(json.dumps(nightly_home["second"].summary, ensure_ascii=False, default=str))
    texts.append((home / "audit" / "audit.log").read_text(encoding="utf-8"))
    blob = "\n".join(texts)
    assert not [s for s in secret if s in blob][:3]


def test_restricted_store_is_encrypted_and_opens_only_with_the_key(nightly_home):
    db = nightly_home["home"] / "warehouse" / "restricted.duckdb"
    with pytest.raises(duckdb.Error, match="encrypted|key"):
        duckdb.connect().execute(f"ATTACH '{db}' AS r (READ_ONLY)")
    with pytest.raises(duckdb.Error):
        duckdb.connect().execute(f"ATTACH '{db}' AS r (ENCRYPTION_KEY 'not-the-key', READ_ONLY)")
    assert b"\xe3\x81\xbf\xe3\x81\xbe\xe3\x82\x82\xe3\x82\x8a" not in db.read_bytes()  # no "みまもり" in clear
    with restricted(nightly_home["home"]) as con:
        assert con.execute("select count(*) from raw.jumin").fetchone()[0] > 0


def test_keys_are_owner_only_and_never_in_logs(nightly_home):
    home = nightly_home["home"]
    keys = sorted((home / "keys").iterdir())
    assert [k.name for k in keys] == ["pseudonym_analysis.key", "restricted_db.key"]
    assert stat.S_IMODE((home / "keys").stat().st_mode) == 0o700
    for k in keys:
        assert stat.S_IMODE(k.stat().st_mode) == 0o600
    secrets = [k.read_text().strip() for k in keys]
    project = Path(__file__).resolve().parents[2]
    for folder in [home / ".dagster", home / "audit", home / "reports", project / "dbt_project" / "target"]:
        for path in folder.rglob("*"):
            if path.is_file() and path.stat().st_size < 50_000_000:
                data = path.read_bytes()
                assert not any(s.encode() in data for s in secrets), path


def test_tokens_are_stable_across_nights_and_differ_between_purposes(nightly_home):
    con = duckdb.connect(str(nightly_home["home"] / "warehouse" / "analysis.duckdb"), read_only=True)
    nights = con.execute("select as_of, count(*) from child_indicators group by all order by 1").fetchall()
    assert [n[0] for n in nights] == [AS_OF - timedelta(days=1), AS_OF]  # history kept
    same = con.execute("""select count(*) from child_indicators a join child_indicators b using (child_token)
                          where a.as_of < b.as_of and a.age <= b.age and a.sex = b.sex""").fetchone()[0]
    assert same >= 0.95 * nights[0][1]
    con.close()
    analysis = tokenizer(nightly_home["home"], "analysis")
    research = tokenizer(nightly_home["home"], "research")
    assert analysis("child", "000000000000123") == analysis("child", "000000000000123")
    assert analysis("child", "000000000000123") != research("child", "000000000000123")
    unkeyed = hashlib.sha256(b"000000000000123").hexdigest()
    assert analysis("child", "000000000000123") not in unkeyed
    wrong_key = hmac.new(b"guess", b"child:000000000000123", hashlib.sha256).hexdigest()[:32]
    assert wrong_key != analysis("child", "000000000000123")


def test_every_analysts_table_shows_a_child_and_its_household_under_the_same_tokens(nightly_home):
    home = nightly_home["home"]
    with restricted(home) as con:
        codes = con.execute("select address_code, household_code from marts.child_signals where as_of = ?",
                            [AS_OF]).fetchall()
    token = tokenizer(home, "analysis")
    expected = {(token("child", c), token("household", h)) for c, h in codes}
    con = duckdb.connect(str(home / "warehouse" / "analysis.duckdb"), read_only=True)
    for table in ("child_indicators", "child_measures"):
        pairs = con.execute(f"select child_token, household_token from {table} where as_of = ?", [AS_OF]).fetchall()
        assert len(pairs) == len(codes) and set(pairs) == expected, table
    con.close()


def test_school_karte_suppresses_small_cells_and_their_complements(nightly_home):
    con = duckdb.connect(str(nightly_home["home"] / "warehouse" / "analysis.duckdb"), read_only=True)
    karte = con.execute("select * from school_karte").pl()
    con.close()
    counts = ["pupils", "children_economic", "children_care", "children_school", "children_health",
              "children_flagged"]
    for c in counts:
        assert karte.filter(pl.col(c).is_between(1, 4)).height == 0, c
    assert_not_recoverable(karte, counts)


def assert_not_recoverable(karte: pl.DataFrame, counts: list[str]) -> None:
    for (school,), rows in karte.group_by("school_code"):
        total = rows.filter(pl.col("grade") == 0)
        grades = rows.filter(pl.col("grade") != 0)
        for c in counts:
            hidden = grades[c].null_count()
            if total[c][0] is not None:
                assert hidden != 1, f"{school} {c}: one hidden grade = total − the others"


def test_suppression_with_known_cells():
    karte = pl.DataFrame({"as_of": [AS_OF] * 4, "school_code": ["S"] * 4, "grade": [0, 1, 2, 3],
                          "pupils": [60, 20, 20, 20], "absent_days": [100, 30, 30, 40], "school_days": [6000] + [2000] * 3,
                          "children_economic": [15, 3, 6, 6], "children_care": [2, 0, 2, 0],
                          "children_school": [0, 0, 0, 0], "children_health": [12, 12, 0, 0],
                          "children_flagged": [7, 7, 0, 0]})
    out = suppress(karte, 5).sort("grade")
    assert out["children_economic"].to_list() == [15, None, None, 6]  # 3 hidden, and 6 with it
    assert out["children_care"].to_list() == [None, 0, None, 0]  # a small total hides its parts
    assert out["children_health"].to_list() == [12, 12, 0, 0]
    assert out["pupils"].to_list() == [60, 20, 20, 20]
    assert_not_recoverable(out, ["children_economic", "children_care"])


def test_audit_log_records_runs_files_exports_and_purges(nightly_home):
    entries = AuditLog(nightly_home["home"] / "audit" / "audit.log").entries()
    events = [e["event"] for e in entries]
    assert events.count("run_started") == events.count("run_finished") >= 2
    assert {"file_loaded", "export_written", "purge"} <= set(events)
    loaded = next(e for e in entries if e["event"] == "file_loaded")["details"]
    assert {"file", "size", "sha256", "rows_read"} <= set(loaded)
    assert verify(nightly_home["home"] / "audit" / "audit.log").ok


def tamper(tmp_path: Path, nightly_home, how: str) -> Path:
    log = tmp_path / "audit.log"
    lines = (nightly_home["home"] / "audit" / "audit.log").read_text(encoding="utf-8").splitlines()
    (tmp_path / "audit.head").write_text((nightly_home["home"] / "audit" / "audit.head").read_text())
    if how == "edit":
        entry = json.loads(lines[3])
        entry["details"]["rows_read"] = 1
        lines[3] = json.dumps(entry, ensure_ascii=False, sort_keys=True)
    elif how == "delete":
        del lines[3]
    elif how == "insert":
        lines.insert(3, lines[2])
    elif how == "truncate":
        lines = lines[:-1]
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return log


@pytest.mark.parametrize("how, named", [("edit", "entry 4 (line 4) was changed"),
                                        ("delete", "entry 4 was removed"),
                                        ("insert", "line 4 (seq 3) was inserted"),
                                        ("truncate", "were removed")])
def test_audit_verify_names_the_entry_that_was_tampered(tmp_path, nightly_home, how, named):
    log = tamper(tmp_path, nightly_home, how)
    result = verify(log)
    assert not result.ok and named in result.problem
    home = tmp_path / "home"
    (home / "audit").mkdir(parents=True)
    (home / "audit" / "audit.log").write_bytes(log.read_bytes())
    (home / "audit" / "audit.head").write_bytes((tmp_path / "audit.head").read_bytes())
    cli = subprocess.run([MIMAMORI, "audit", "verify", "--home", str(home)], capture_output=True, text=True)
    assert cli.returncode == 1 and named in cli.stderr


def test_reidentify_needs_a_reason_and_is_audited(nightly_home, tmp_path):
    home = nightly_home["home"]
    con = duckdb.connect(str(home / "warehouse" / "analysis.duckdb"), read_only=True)
    token = con.execute("select child_token from child_indicators where is_flagged limit 1").fetchone()[0]
    con.close()
    no_reason = subprocess.run([MIMAMORI, "reidentify", token, "--home", str(home)], capture_output=True, text=True)
    assert no_reason.returncode == 2
    before = len(AuditLog(home / "audit" / "audit.log").entries())
    run = subprocess.run([MIMAMORI, "reidentify", token, "--reason", "要保護児童対策地域協議会の個別ケース検討",
                          "--home", str(home)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    with restricted(home) as r:
        flagged = {c for (c,) in r.execute("select address_code from marts.flagged_children").fetchall()}
    assert run.stdout.split("宛名番号 ")[1][:15] in flagged
    entries = AuditLog(home / "audit" / "audit.log").entries()
    assert len(entries) == before + 1 and entries[-1]["event"] == "reidentify"
    assert entries[-1]["details"]["reason"] == "要保護児童対策地域協議会の個別ケース検討"
    assert verify(home / "audit" / "audit.log").ok
    # without the keys folder, nobody can
    elsewhere = tmp_path / "copy"
    (elsewhere / "warehouse").mkdir(parents=True)
    denied = subprocess.run([MIMAMORI, "reidentify", token, "--reason", "試し", "--home", str(elsewhere)],
                            capture_output=True, text=True, env={k: v for k, v in os.environ.items()
                                                                  if k != "MIMAMORI_DB_KEY"})
    assert denied.returncode == 2 and "central data manager" in denied.stderr


def test_retention_purges_people_removed_long_ago(nightly_home):
    with restricted(nightly_home["home"]) as con:
        old = con.execute("select count(*) from raw.jumin where resident_status = '消除' "
                          "and change_date <= ?", [AS_OF - timedelta(days=90)]).fetchone()[0]
        recent = con.execute("select count(*) from raw.jumin where resident_status = '消除' "
                             "and change_date > ?", [AS_OF - timedelta(days=90)]).fetchone()[0]
    assert old == 0 and recent > 0
    purge = [e for e in AuditLog(nightly_home["home"] / "audit" / "audit.log").entries() if e["event"] == "purge"]
    assert purge[-1]["details"]["persons"] > 0 and purge[-1]["details"]["rows"]["raw.jumin"] > 0
