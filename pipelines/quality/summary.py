"""The run summary printed by `mimamori nightly` and kept as HOME/reports/<as-of>/summary.{txt,json}.

Counts only, never a child's identity: it goes to the data team's terminal and logs.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import IO

import dagster as dg
import duckdb

from pipelines.core import config
from pipelines.core.audit import AuditLog
from pipelines.core.home import Home
from pipelines.core.store import connect, table_exists
from pipelines.ingest.sources import data_in_use, source_facts
from pipelines.quality.advice import advice
from pipelines.rights.requests import PERSON_TABLES, access_alerts
from schemas.contract import EXTRACTS


def collect(home: Path, as_of: date, result: dg.ExecuteInProcessResult | None = None,
            landing: Path | None = None) -> dict:
    summary: dict = {"as_of": as_of.isoformat(), "success": bool(result.success) if result else None}
    with connect(home, read_only=True) as con:
        sources = con.execute("""
            select extract, file_name, status, message, rows_read, rows_loaded, rows_quarantined
            from raw.load_log where as_of = ? and run_id = (select run_id from raw.load_log where as_of = ?
                                                            order by logged_at desc limit 1)
            order by extract, file_name""", [as_of, as_of]).fetchall() if table_exists(con, "raw.load_log") else []
        summary["files"] = [dict(zip(("extract", "file", "status", "message", "rows_read", "rows_loaded",
                                      "rows_quarantined"), row)) for row in sources]
        summary["data_extracted_on"] = {name: str(data_in_use(con, extract)[1] or "none")
                                        for name, extract in EXTRACTS.items() if table_exists(con, f"raw.{name}")}
        if landing is not None and table_exists(con, "raw.load_log"):
            summary["stale_sources"] = [f for f in source_facts(con, landing, as_of, config.rules()) if f["stale"]]
        summary["list_made"] = table_exists(con, "marts.flag_list_runs") and con.execute(
            "select count(*) from marts.flag_list_runs where as_of = ?", [as_of]).fetchone()[0] > 0
        if table_exists(con, "marts.flagged_children") and table_exists(con, "marts.child_signals"):
            summary["children"] = con.execute(
                "select count(*) from marts.child_signals where as_of = ?", [as_of]).fetchone()[0]
            rows = con.execute("select change_since_previous, count(*) from marts.flagged_children "
                               "where as_of = ? group by all", [as_of]).fetchall()
            summary["flagged"] = {k: v for k, v in rows}
            summary["released"] = con.execute("select count(*) from marts.released_children").fetchone()[0]
            summary["by_office"] = {f"{c} {n}": v for c, n, v in con.execute(
                "select office_code, office_name, count(*) from marts.flagged_children where as_of = ? "
                "group by all order by 1", [as_of]).fetchall()}
            summary["default_office_children"] = con.execute(
                "select count(*) from marts.flagged_children where as_of = ? and is_default_office",
                [as_of]).fetchone()[0]
            summary["by_domain"] = {d: v for d, v in con.execute(
                "select d, count(*) from (select unnest(string_split(domains, '・')) as d "
                "from marts.flagged_children where as_of = ?) group by d order by 2 desc", [as_of]).fetchall()}
        summary["guidance_links"] = guidance_link_summary(con, as_of)
        summary["reviews"] = review_summary(con, as_of)
        summary["rights"] = rights_summary(con, as_of)
    summary["access_alerts"] = access_alerts(AuditLog(Home(home).audit_log).entries(),
                                             config.governance()["access_alert_per_user_per_day"])
    if result is not None:
        failed = [f"{e.asset_check_evaluation_data.asset_key.to_user_string()}:"
                  f"{e.asset_check_evaluation_data.check_name}"
                  for e in result.all_events
                  if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.asset_check_evaluation_data.passed]
        summary["failed_checks"] = failed
        summary["failed_steps"] = [e.step_key for e in result.all_events if e.is_step_failure]
    return summary


def guidance_link_summary(con: duckdb.DuckDBPyConnection, as_of: date) -> dict:
    """How tonight's 児童相談所 list linked (linkage.md): records per band, links by how they were made."""
    if not table_exists(con, "raw.jisou_links"):
        return {}
    rows = con.execute("SELECT band, coalesce(method, ''), count(*) FROM raw.jisou_links GROUP BY ALL").fetchall()
    if not rows:
        return {}
    by = {(b, m): n for b, m, n in rows}
    return {"records": sum(by.values()), "auto": by.get(("link", "自動"), 0),
            "reviewed": by.get(("link", "確認済"), 0), "review": by.get(("review", ""), 0),
            "none": by.get(("none", ""), 0),
            "review_file": f"linkage/{as_of.isoformat()}/照合確認_{as_of:%Y%m%d}.xlsx"}


def guidance_lines(g: dict) -> list[str]:
    if not g:
        return []
    return [f"児童相談所 list (jisou): {g['records']:,} records — linked {g['auto'] + g['reviewed']:,} "
            f"(自動 automatically {g['auto']:,}, 確認済 by the data team's decision {g['reviewed']:,}), "
            f"to review {g['review']:,} (HOME/{g['review_file']}), found in no resident {g['none']:,}"]


def rights_summary(con: duckdb.DuckDBPyConnection, as_of: date) -> dict:
    """Residents' rights in counts, never names: people set aside, rows excluded per extract tonight,
    corrections applied and reflected."""
    out: dict = {}
    if table_exists(con, "raw.set_aside_persons"):
        out["people_set_aside"] = dict(con.execute(
            "select case when set_aside_by like 'teishi:%' then '利用停止 suspended' else '同意の範囲外 outside consent' "
            "end, count(*) from raw.set_aside_persons group by 1 order by 1").fetchall())
        out["rows_set_aside"] = {name: n for name in PERSON_TABLES if table_exists(con, f"raw.set_aside_{name}")
                                 and (n := con.execute(f"select count(*) from raw.set_aside_{name} "
                                                       "where _set_aside_by not like 'teisei:%'").fetchone()[0])}
    if table_exists(con, "raw.corrections"):
        out["corrections_applied_tonight"], out["corrections_reflected_tonight"], out["corrections_active"] = \
            con.execute("select count(*) filter (where applied_on = ? and status = 'active'), "
                        "list(receipt) filter (where reflected_on = ?), count(*) filter (where status = 'active') "
                        "from raw.corrections", [as_of, as_of]).fetchone()
    return out


def review_summary(con: duckdb.DuckDBPyConnection, as_of: date) -> dict:
    """Step ② in counts: reviews read tonight, children left off by a review, the work queue per office,
    and 対象外 reviews (moved away or wrong data) that the departments should hear of."""
    out: dict = {}
    if table_exists(con, "raw.reviews"):
        out["read_tonight"] = con.execute("select count(*) from raw.reviews where _loaded_as_of = ?",
                                          [as_of]).fetchone()[0]
        out["does_not_apply_tonight"] = con.execute(
            "select count(*) from raw.reviews where _loaded_as_of = ? and result = '対象外'", [as_of]).fetchone()[0]
    if table_exists(con, "marts.review_queue"):
        out["left_off"] = con.execute("select count(*) from marts.reviews_left_off where as_of = ?",
                                      [as_of]).fetchone()[0]
        out["queue_by_office"] = {f"{code} {name}": {"awaiting": awaiting, "overdue": overdue} for code, name, awaiting,
                                  overdue in con.execute(
            "select office_code, office_name, count(awaiting_since), count(*) filter (where is_overdue) "
            "from marts.review_queue where as_of = ? group by all order by 1", [as_of]).fetchall()}
    return out


def render(summary: dict, home: Path, landing: Path, seconds: float | None = None, log: Path | None = None,
           error: tuple[str, str] | None = None) -> str:
    lines = [f"mimamori nightly — as of {summary['as_of']}"
             + (f" — {'succeeded' if summary.get('success') else 'FAILED'}" if summary.get("success") is not None
                else "") + (f" in {seconds:.1f} s" if seconds else "")]
    if error:
        step, message = error
        lines += [f"  failed at {step.replace('__', '/')}: {message}"]
        if log:
            lines += [f"  what happened, in full: {log}"]
    lines.append("")
    lines.append("Department files tonight:")
    for f in summary["files"]:
        if f["status"] == "missing":
            continue  # said below, with what was not judged
        if f["status"] == "unchanged":
            lines.append(f"  {f['file']:<28} unchanged since it was loaded (same sha256): not read again")
        elif f["status"] == "loaded":
            lines.append(f"  {f['file']:<28} read {f['rows_read']:>10,}  loaded {f['rows_loaded']:>10,}  "
                         f"quarantined {f['rows_quarantined']:>6,}")
        else:
            lines.append(f"  {f['file']:<28} REJECTED: {f['message']}")
    stale = {k: v for k, v in summary.get("data_extracted_on", {}).items()}
    lines.append("  data in use (extraction date): " + ", ".join(f"{k} {v}" for k, v in stale.items()))
    failed = summary.get("success") is False
    for f in summary.get("stale_sources", []):
        if f["not_judged"]:
            why = f"{f['newest_file']} was rejected ({f['rejected']})" if f["rejected"] else "no file"
            lines.append(f"  NO DATA {f['extract']} ({f['department']}): {why}; expected {f['expected']} "
                         f"dated ≤ {summary['as_of']}" + ("" if failed else f". {f['not_judged']}"))
            continue
        why = f"tonight's file {f['newest_file']} was rejected ({f['rejected']})" if f["rejected"] else \
            f"the newest file is {f['newest_file']}" if f["newest_file"] else \
            f"no file dated ≤ {summary['as_of']} (expected {f['expected']})"
        lines.append(f"  STALE {f['extract']} ({f['department']}): using {f['file_in_use']} "
                     f"of {f['extracted_on']}: {why}")
    if "children" in summary and summary.get("list_made"):
        flagged = summary.get("flagged", {})
        lines += ["", f"Children in the population: {summary['children']:,}",
                  f"Flagged: {sum(flagged.values()):,} (新規 new {flagged.get('新規', 0):,}, "
                  f"継続 continuing {flagged.get('継続', 0):,}, 再掲 back {flagged.get('再掲', 0):,}); "
                  "解除 released since last run: "
                  f"{summary.get('released', 0):,}"]
        lines.append("  by office: " + (", ".join(f"{k}: {v}" for k, v in summary["by_office"].items()) or "none"))
        if summary.get("default_office_children"):
            lines.append(f"  {summary['default_office_children']} flagged children live in areas no office "
                         f"covers: sent to the default office")
        lines.append("  by domain: " + (", ".join(f"{k}: {v}" for k, v in summary["by_domain"].items()) or "none"))
        lines += guidance_lines(summary.get("guidance_links", {}))
        lines += _review_lines(summary.get("reviews", {}), flagged)
    rights = _rights_lines(summary)
    if rights:
        lines += ["", *rights]
    if summary.get("failed_checks"):
        lines += ["", "Checks that warned or failed, and what to look at:"]
        lines += [f"  {check}: {advice(check)}" for check in summary["failed_checks"]]
    if summary.get("failed_steps"):
        lines += ["", "Steps that failed: " + ", ".join(summary["failed_steps"])]
    paths = [("landing (department files)", landing),
             ("restricted store (names)", Home(home).restricted_store),
             ("quarantine (rows set aside)", Home(home).quarantine_root / summary["as_of"]),
             ("caseworker exports", Home(home).exports_root / summary["as_of"]),
             ("linkage review (照合確認)", Home(home).linkage(date.fromisoformat(summary["as_of"]))),
             ("analysis store (pseudonymised)", Home(home).analysis_store),
             ("nightly report (open offline)", Home(home).reports(summary["as_of"]) / "report.html"),
             ("run summary", Home(home).reports(summary["as_of"]) / "summary.txt"),
             ("audit log", Home(home).audit_log),
             ("Dagster instance (make ui)", Home(home).dagster)] + ([("full log of this run", log)] if log else [])
    lines += ["", "Where things are:"]
    lines += [f"  {label:<30} {path}" + ("" if path.exists() or label == "run summary" else "  (none tonight)")
              for label, path in paths]
    return "\n".join(lines)


def _rights_lines(summary: dict) -> list[str]:
    rights, lines = summary.get("rights", {}), []
    if rights.get("people_set_aside"):
        lines.append("Set aside (利用停止 / consent): " + ", ".join(f"{k}: {v}" for k, v in rights["people_set_aside"].items())
                     + "; their rows set aside: " + (", ".join(f"{k} {v:,}" for k, v in
                                                             rights.get("rows_set_aside", {}).items()) or "none"))
    if rights.get("corrections_active") or rights.get("corrections_reflected_tonight"):
        lines.append(f"Corrections (訂正): {rights.get('corrections_active', 0)} in force, "
                     f"{rights.get('corrections_applied_tonight', 0)} applied tonight; reflected in the department's "
                     f"own data tonight: {', '.join(rights.get('corrections_reflected_tonight') or []) or 'none'}")
    for alert in summary.get("access_alerts", []):
        lines.append(f"ACCESS ALERT: {alert['user']} made {alert['requests']} re-identifications and disclosure "
                     f"reports on {alert['day']} (limit {alert['limit']} a day): check with them why")
    return lines


def _review_lines(reviews: dict, flagged: dict) -> list[str]:
    if not reviews:
        return []
    queue = reviews.get("queue_by_office", {})
    overdue = sum(q["overdue"] for q in queue.values())
    lines = [f"Reviews (確認結果): {reviews.get('read_tonight', 0):,} read tonight; "
             f"{reviews.get('left_off', 0):,} children left off by a review (支援不要/対象外), "
             f"{flagged.get('再掲', 0):,} back with a new signal (再掲)",
             f"  work queue: {sum(q['awaiting'] for q in queue.values()):,} awaiting review, {overdue:,} overdue"
             + (" (" + ", ".join(f"{o}: {q['overdue']}" for o, q in queue.items() if q["overdue"]) + ")"
                if overdue else "")]
    if reviews.get("does_not_apply_tonight"):
        lines.append(f"  {reviews['does_not_apply_tonight']} reviews tonight say 対象外 (moved away or wrong data): "
                     "tell the departments concerned (the restricted store has who)")
    return lines


def print_summary(home: Path, landing: Path, as_of: date, result: dg.ExecuteInProcessResult, seconds: float,
                  log: Path | None = None, error: tuple[str, str] | None = None, out: IO[str] | None = None) -> dict:
    """Collect, keep as reports/<as-of>/summary.{txt,json}, and print the run summary."""
    try:
        summary = collect(home, as_of, result, landing)
    except duckdb.Error as e:  # e.g. a failed step left a dbt process holding the store's lock
        summary = {"as_of": as_of.isoformat(), "success": bool(result.success), "files": [],
                   "failed_checks": [], "failed_steps": [], "error": f"could not read the store: {e}"}
    if error:
        summary["error_step"], summary["error_message"] = error
    text = render(summary, home, landing, seconds, log, error)
    if summary.get("error"):
        text += "\n\n" + summary["error"]
    folder = Home(home).reports(as_of)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "summary.txt").write_text(text + "\n", encoding="utf-8")
    (folder / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2, default=str) + "\n",
                                         encoding="utf-8")
    print(text, file=out or sys.stdout)
    return summary
