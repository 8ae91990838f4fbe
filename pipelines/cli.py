"""The `mimamori` command: generate a synthetic municipality, run the nightly pipeline.

    mimamori generate --preset kaga --seed 1 --as-of 2026-11-30 --out data/municipality [--dirty] [--days 1]
    mimamori nightly --landing data/municipality/landing --home data [--as-of 2026-11-30]
    mimamori status --home data [--json]
    mimamori backup --home data --to /backup [--with-keys /keys]
    mimamori restore --from /backup/mimamori-backup-… --home data2 [--keys /keys]
    mimamori keys rotate --home data
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date
from pathlib import Path

from pipelines.core.clock import today_in_tokyo
from pipelines.core.home import Home
from pipelines.core.process import collect_cycles_less_often, exit_without_teardown, without_pandas_on_spark

# Each command imports what it runs inside its own function: `mimamori check` or `audit verify` must not wait
# for Dagster, dbt, polars or the generator to import (seconds), and the parser is built for every command.


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def cmd_generate(args: argparse.Namespace) -> int:
    from seeds.generator import generate

    started = time.perf_counter()
    result = generate(args.preset, args.seed, args.as_of, Path(args.out), dirty=args.dirty, days=args.days,
                      layout=args.layout)
    print(f"generated the {result.preset} municipality (seed {result.seed}, as of {result.as_of}) "
          f"in {time.perf_counter() - started:.1f} s")
    print(f"  residents {result.residents:,}  children {result.children:,}  pupils {result.pupils:,}  "
          f"planted multi-domain children {result.planted_children:,}")
    print(f"  landing  {result.landing}  ({len(result.files)} files)")
    print(f"  answers  {result.answers}  (not for the pipeline: what the generator planted)")
    if args.layout:
        print(f"  layouts  {Path(args.out) / 'layouts'}  (fukushi as a vendor CSV, gakureibo fixed-width CP932: "
              f"give --layouts to mimamori nightly)")
    return 0


def cmd_dbt_parse(args: argparse.Namespace) -> int:
    from pipelines.linkage.manifest import ensure_dbt_manifest

    print(f"dbt manifest: {ensure_dbt_manifest(force=True)}")
    return 0


def cmd_nightly(args: argparse.Namespace) -> int:
    without_pandas_on_spark()
    from pipelines.core.home import HomeNotPrivate
    from pipelines.core.instance import InstanceConfigError
    from pipelines.core.lock import EX_TEMPFAIL, NightRunning
    from pipelines.ingest.layouts import ENV, LayoutError, active
    from pipelines.nightly import run_nightly

    landing = Path(args.landing)
    if not landing.is_dir():
        print(f"mimamori nightly: no landing folder at {landing.resolve()}", file=sys.stderr)
        return 2
    if args.layouts:
        os.environ[ENV] = str(Path(args.layouts).resolve())
    try:
        active()  # checked at start: an error names the file, the key and the problem
    except LayoutError as e:
        print(f"mimamori nightly: layout file {e}", file=sys.stderr)
        return 2
    try:
        run = run_nightly(Path(args.home), landing, args.as_of or today_in_tokyo(), verbose=args.verbose,
                          wait=args.wait)
    except NightRunning as running:
        print(f"mimamori nightly: {running}", file=sys.stderr)
        return EX_TEMPFAIL
    except (HomeNotPrivate, InstanceConfigError) as refused:
        print(f"mimamori nightly: {refused}", file=sys.stderr)
        return 2
    return 0 if run.result.success else 1


def cmd_reidentify(args: argparse.Namespace) -> int:
    """総括管理主体 only: a token back to a child, with the reason written to the audit log first."""
    import getpass

    from pipelines.analysis.marts import tokenizer
    from pipelines.core import config
    from pipelines.core.audit import AuditLog
    from pipelines.core.keys import key_path
    from pipelines.core.store import connect

    home = Path(args.home).resolve()
    purpose = args.purpose or config.governance()["purpose"]
    if not key_path(home, f"pseudonym_{purpose}").exists():
        print(f"mimamori reidentify: no key for purpose {purpose!r} under {Home(home).keys}: "
              "only the central data manager can re-identify", file=sys.stderr)
        return 2
    reason = args.reason.strip()
    if len(reason) < 2:
        print("mimamori reidentify: give the reason (--reason), in words", file=sys.stderr)
        return 2
    token = tokenizer(home, purpose)
    with connect(home, read_only=True) as con:
        people = con.execute("select address_code, household_code, full_name from raw.jumin").fetchall()
    match = next(((code, name) for code, household, name in people
                  if token("child", code) == args.token or token("household", household) == args.token), None)
    AuditLog(Home(home).audit_log).append(
        "reidentify", token=args.token, purpose=purpose, reason=reason, user=getpass.getuser(),
        found=match is not None)
    if match is None:
        print(f"no person of the registry has token {args.token} (purpose {purpose})", file=sys.stderr)
        return 1
    print(f"token {args.token} ({purpose}) → 宛名番号 {match[0]}  {match[1]}")
    return 0


def cmd_person_report(args: argparse.Namespace) -> int:
    """開示: everything kept about one person, as one HTML file under HOME/disclosures/ (audited first)."""
    import getpass

    from pipelines.core.store import connect, restricted_path
    from pipelines.ingest.normalize import clean_code
    from pipelines.rights.disclosure import key_exists, person_report

    home = Path(args.home).resolve()
    reason = args.reason.strip()
    if len(reason) < 2:
        print("mimamori person report: give the reason (--reason), in words", file=sys.stderr)
        return 2
    if not restricted_path(home).exists() or not key_exists(home):
        print(f"mimamori person report: no restricted store or keys under {home}: only the central data manager "
              "can answer a disclosure request", file=sys.stderr)
        return 2
    import polars as pl

    code = pl.select(clean_code(pl.lit(args.code)).str.zfill(15)).item()
    if not code or not code.isdigit():
        print(f"mimamori person report: {args.code!r} is not a 宛名番号 (up to 15 digits)", file=sys.stderr)
        return 2
    with connect(home, read_only=True) as con:
        path = person_report(home, code, reason, getpass.getuser(), con)
    print("開示ファイルを作成しました (disclosure report written; owner-only, audited)")
    if path.with_suffix(".pdf").exists():
        print(f"  PDF: {path.with_suffix('.pdf')}")
    print(path)
    return 0


def cmd_rules_evaluate(args: argparse.Namespace) -> int:
    """The analysts' lab: a candidate rule set against the rules in force, on pseudonymised data."""
    from pipelines.analysis.lab import evaluate

    home = Path(args.home).resolve()
    try:
        evaluation = evaluate(home, Path(args.rules))
    except (FileNotFoundError, ValueError, RuntimeError) as e:
        print(f"mimamori rules evaluate: {e}", file=sys.stderr)
        return 2
    s = evaluation.summary
    print(f"rules in force {s['current']['version']}: {s['current']['flagged']:,} flagged; candidate "
          f"{s['candidate']['version']}: {s['candidate']['flagged']:,} flagged "
          f"(added {s['added'] if s['added'] is not None else '<5'}, removed {s['removed'] if s['removed'] is not None else '<5'})")
    print(evaluation.folder / "evaluation.html")
    return 0


def cmd_outcomes_evaluate(args: argparse.Namespace) -> int:
    """効果検証: did the support help? From the analysts' pseudonymised store (outcomes.md)."""
    from pipelines.outcomes.evaluate import evaluate_outcomes

    try:
        evaluation = evaluate_outcomes(Path(args.home).resolve(), args.window_months, args.as_of)
    except (FileNotFoundError, ValueError) as e:
        print(f"mimamori outcomes evaluate: {e}", file=sys.stderr)
        return 2
    s = evaluation.summary
    print(f"children listed {s['children_listed']:,}, supported {s['children_supported']:,}; window "
          f"{s['window_months']} months either side of the support start; as of {s['as_of']}")
    print(evaluation.headline)
    print(evaluation.folder / "evaluation.html")
    return 0


def cmd_research_extract(args: argparse.Namespace) -> int:
    """匿名加工: an extract anonymous by measurement, for research outside the municipality (audited)."""
    import getpass

    from pipelines.analysis.lab import research_extract

    if args.k < 2:
        print("mimamori research extract: k must be 2 or more", file=sys.stderr)
        return 2
    result = research_extract(Path(args.home).resolve(), args.k, Path(args.out), getpass.getuser())
    print(f"{result['records']:,} of {result['children']:,} children in {result['file']} "
          f"({result['suppressed']:,} suppressed); quasi-identifiers {', '.join(result['quasi_identifiers'])}; "
          f"l-diversity of the flag {result['l_diversity_of_flag']}")
    print(f"achieved k = {result['k_achieved']}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """What a department runs before sending a file: PASS (exit 0) or FAIL (exit 1); writes nothing."""
    from pipelines.ingest.check import check, render
    from pipelines.ingest.layouts import LayoutError
    from schemas.contract import EXTRACTS

    if args.extract not in EXTRACTS:
        print(f"mimamori check: --extract is one of {', '.join(EXTRACTS)}", file=sys.stderr)
        return 2
    if not Path(args.file).is_file():
        print(f"mimamori check: no file at {args.file}", file=sys.stderr)
        return 2
    try:
        result = check(Path(args.file), args.extract, Path(args.layout) if args.layout else None)
    except LayoutError as e:
        print(f"mimamori check: layout file {e}", file=sys.stderr)
        return 2
    print(render(result))
    return 0 if result.passed else 1


def cmd_spark_export(args: argparse.Namespace) -> int:
    """The store's raw tables as Parquet folders, for the same models on Spark (audited)."""
    import getpass

    from pipelines.linkage.spark import export_raw

    rows = export_raw(Path(args.home).resolve(), Path(args.out), getpass.getuser())
    print(f"{len(rows)} raw tables, {sum(rows.values()):,} rows, as Parquet in {Path(args.out).resolve()} "
          "(restricted data, unencrypted: keep it on encrypted storage)")
    return 0


def cmd_spark_build(args: argparse.Namespace) -> int:
    """dbt build --target spark over the Parquet folders."""
    from pipelines.linkage.spark import build

    print("dbt build --target spark (starting Spark in process; a minute or more) …", flush=True)
    out = build(Path(args.parquet), Path(args.warehouse), args.as_of)
    summary = [line for line in out.stdout.splitlines() if "Done." in line or "ERROR" in line or "FAIL" in line]
    print("\n".join(summary[-20:]))
    if out.returncode != 0:
        print(f"mimamori spark build: dbt failed (exit {out.returncode}); the whole log is in "
              f"{Path(args.warehouse).parent / 'dbt' / 'logs' / 'dbt.log'}", file=sys.stderr)
        return 1
    print(f"tables in {Path(args.warehouse).resolve()} (<schema>.db/<table>/, Parquet)")
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from pipelines.core.audit import verify

    log = Home(args.home).audit_log
    result = verify(log)
    if result.ok:
        print(f"audit log intact: {result.entries} entries ({log})")
        return 0
    print(f"audit log BROKEN after {result.entries} good entries: {result.problem} ({log})", file=sys.stderr)
    return 1


def _refusable(command: str, action):
    """A service command's action: its result and exit 0; a running night → exit 75, a refusal → exit 2, each
    with its sentence on stderr."""
    from pipelines.core.lock import EX_TEMPFAIL, NightRunning
    from pipelines.service.backup import BackupError

    try:
        return action(), 0
    except NightRunning as running:
        print(f"mimamori {command}: {running}", file=sys.stderr)
        return None, EX_TEMPFAIL
    except BackupError as refused:  # (RotationError is one)
        print(f"mimamori {command}: {refused}", file=sys.stderr)
        return None, 2


def cmd_backup(args: argparse.Namespace) -> int:
    """A consistent, dated backup of the home, taken under the night lock (README, "Backup and restore")."""
    import getpass

    from pipelines.service.backup import backup

    done, code = _refusable("backup", lambda: backup(
        Path(args.home), Path(args.to), Path(args.with_keys) if args.with_keys else None, getpass.getuser(),
        wait=args.wait))
    if code:
        return code
    print(f"backup of {Path(args.home).resolve()}: {done.files} files, {done.bytes / 1e6:.1f} MB "
          "(stores still encrypted; no key in it)")
    if done.pg_dump:
        print(f"  Dagster instance in PostgreSQL: {done.pg_dump}")
    print(f"  keys: {done.keys_folder} (keep them apart from the backup)" if done.keys_folder else
          "  keys: not copied (give --with-keys KEYDIR, another place, to copy them)")
    print(done.folder)
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    import getpass

    from pipelines.service.backup import restore

    files, code = _refusable("restore", lambda: restore(
        Path(args.from_), Path(args.home), Path(args.keys) if args.keys else None, getpass.getuser()))
    if code:
        return code
    print(f"restored {files} files into {Path(args.home).resolve()} (checked against the manifest; keys in place). "
          f"Check it: mimamori audit verify --home {args.home}")
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    import getpass

    from pipelines.service.rotation import rotate_store_key

    if args.pseudonym:
        print("mimamori keys rotate: the pseudonym key is not rotated: the analysts' tokens follow each child night "
              "after night, and a new key would make every child a new child in their store. If it was exposed, "
              "start a new purpose (config/governance.yml pseudonyms.purpose) and tell the analysts (README, Keys).",
              file=sys.stderr)
        return 2
    done, code = _refusable("keys rotate", lambda: rotate_store_key(Path(args.home), getpass.getuser(),
                                                                    wait=args.wait))
    if code:
        return code
    print(f"the restricted store is re-encrypted under a new key ({done['tables']} tables, {done['rows']:,} rows; "
          f"key {done['old']} → {done['new']}); the old key is retired to {done['retired']} "
          "(it opens the backups taken before today)")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    import json

    from pipelines.service.status import night_status

    status = night_status(Path(args.home))
    if args.json:
        print(json.dumps(status.as_dict(), ensure_ascii=False))
    else:
        print(status.sentence, file=sys.stdout if status.ok else sys.stderr)
    return 0 if status.ok else 1


def main(argv: list[str] | None = None) -> int:
    from seeds.presets import PRESETS

    parser = argparse.ArgumentParser(prog="mimamori", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write a synthetic municipality's extracts and answer file")
    gen.add_argument("--preset", choices=list(PRESETS), default="tiny")
    gen.add_argument("--seed", type=int, default=1)
    gen.add_argument("--as-of", type=_date, default=None, help="extraction date T (default: today, Asia/Tokyo)")
    gen.add_argument("--out", required=True, help="folder for landing/ and answers/")
    gen.add_argument("--dirty", action="store_true", help="add the messiness of real extracts")
    gen.add_argument("--days", type=int, default=1,
                     help="daily attendance deltas after the base file (snapshots at T-days and T)")
    gen.add_argument("--layout", choices=["vendor-a"], default=None,
                     help="write fukushi and gakureibo in example vendor layouts, with their layout files")
    gen.set_defaults(func=cmd_generate)

    night = sub.add_parser("nightly", help="run the whole nightly pipeline in process")
    night.add_argument("--landing", required=True, help="the departments' landing folder")
    night.add_argument("--home", default="./data", help="stores, exports, quarantine and the Dagster instance")
    night.add_argument("--as-of", type=_date, default=None, help="T (default: today, Asia/Tokyo)")
    night.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                       help="when another night runs on this home, wait this long for it (default 0), then exit 75")
    night.add_argument("--layouts", default=None, metavar="DIR",
                       help="the departments' layout files (default: config/layouts)")
    night.add_argument("--verbose", action="store_true",
                       help="stream Dagster's and dbt's full logs too (always kept in HOME/logs/)")
    night.set_defaults(func=cmd_nightly)

    reid = sub.add_parser("reidentify", help="a token back to a child (central data manager only; audited)")
    reid.add_argument("token")
    reid.add_argument("--reason", required=True, help="why, in words: written to the audit log")
    reid.add_argument("--home", default="./data")
    reid.add_argument("--purpose", default=None, help="the token's purpose (default: config/governance.yml)")
    reid.set_defaults(func=cmd_reidentify)

    person = sub.add_parser("person", help="residents' requests (rights.md)")
    person_sub = person.add_subparsers(dest="person_command", required=True)
    report = person_sub.add_parser("report", help="開示: everything kept about one person, as HTML (audited)")
    report.add_argument("--home", default="./data")
    report.add_argument("--code", required=True, help="the person's 宛名番号")
    report.add_argument("--reason", required=True, help="the request, in words (e.g. 開示請求 受付番号): audited")
    report.set_defaults(func=cmd_person_report)

    chk = sub.add_parser("check", help="check a department's file before it is sent (writes nothing)")
    chk.add_argument("file")
    chk.add_argument("--extract", required=True, help="jumin, zei, fukushi, gakureibo, shukketsu or kenshin")
    chk.add_argument("--layout", default=None, help="the department's layout file (default: config/layouts)")
    chk.set_defaults(func=cmd_check)

    rules = sub.add_parser("rules", help="the analysts' lab")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True)
    evaluate = rules_sub.add_parser("evaluate", help="a candidate rule set against the rules in force")
    evaluate.add_argument("--home", default="./data")
    evaluate.add_argument("--rules", required=True, help="the candidate's rules.yml (with its own version)")
    evaluate.set_defaults(func=cmd_rules_evaluate)
    outcomes = sub.add_parser("outcomes", help="効果検証: did the support help?")
    outcomes_sub = outcomes.add_subparsers(dest="outcomes_command", required=True)
    judge = outcomes_sub.add_parser("evaluate", help="supported children against children listed in the same weeks")
    judge.add_argument("--home", default="./data")
    judge.add_argument("--window-months", type=int, default=3, help="months either side of the support start")
    judge.add_argument("--as-of", type=_date, default=None, help="a past night (default: the latest)")
    judge.set_defaults(func=cmd_outcomes_evaluate)

    research = sub.add_parser("research", help="anonymised extracts for research (匿名加工)")
    research_sub = research.add_subparsers(dest="research_command", required=True)
    extract = research_sub.add_parser("extract", help="a k-anonymous extract of the latest night")
    extract.add_argument("--home", default="./data")
    extract.add_argument("--k", type=int, default=5)
    extract.add_argument("--out", required=True)
    extract.set_defaults(func=cmd_research_extract)

    audit = sub.add_parser("audit", help="the hash-chained audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    audit_verify = audit_sub.add_parser("verify", help="check the chain; name the first entry that was tampered")
    audit_verify.add_argument("--home", default="./data")
    audit_verify.set_defaults(func=cmd_audit_verify)

    spark = sub.add_parser("spark", help="the same dbt models on Spark (a consortium's engine)")
    spark_sub = spark.add_subparsers(dest="spark_command", required=True)
    spark_export = spark_sub.add_parser("export", help="the store's raw tables as Parquet folders (audited)")
    spark_export.add_argument("--home", default="./data")
    spark_export.add_argument("--out", required=True)
    spark_export.set_defaults(func=cmd_spark_export)
    spark_build = spark_sub.add_parser("build", help="dbt build --target spark over the Parquet folders")
    spark_build.add_argument("--parquet", required=True, help="the folders mimamori spark export wrote")
    spark_build.add_argument("--warehouse", required=True, help="where Spark writes the models' tables")
    spark_build.add_argument("--as-of", type=_date, required=True, help="the night's date T")
    spark_build.set_defaults(func=cmd_spark_build)

    back = sub.add_parser("backup", help="a consistent, dated backup of the home (under the night lock)")
    back.add_argument("--home", default="./data")
    back.add_argument("--to", required=True, help="the folder to write mimamori-backup-<date>/ in")
    back.add_argument("--with-keys", default=None, metavar="KEYDIR",
                      help="also copy the keys, to this other place (never beside the backup)")
    back.add_argument("--wait", type=float, default=0.0, metavar="SECONDS", help="wait this long for a running night")
    back.set_defaults(func=cmd_backup)

    rest = sub.add_parser("restore", help="a backup into a new home, checked against its manifest first")
    rest.add_argument("--from", dest="from_", required=True, metavar="BACKUP", help="the mimamori-backup-<date> folder")
    rest.add_argument("--home", required=True, help="a new or empty folder")
    rest.add_argument("--keys", default=None, metavar="KEYDIR", help="where `backup --with-keys` copied the keys")
    rest.set_defaults(func=cmd_restore)

    keys = sub.add_parser("keys", help="the home's keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    rotate = keys_sub.add_parser("rotate", help="re-encrypt the restricted store under a new key (audited)")
    rotate.add_argument("--home", default="./data")
    rotate.add_argument("--pseudonym", action="store_true", help="(refused, with the reason: README, Keys)")
    rotate.add_argument("--wait", type=float, default=0.0, metavar="SECONDS", help="wait this long for a running night")
    rotate.set_defaults(func=cmd_keys_rotate)

    stat = sub.add_parser("status", help="exit 0 if the last night succeeded within 26 hours, else 1 and why")
    stat.add_argument("--home", default="./data")
    stat.add_argument("--json", action="store_true", help="one JSON object for a monitoring system")
    stat.set_defaults(func=cmd_status)

    parse = sub.add_parser("dbt-parse", help="write the dbt manifest that the Dagster definitions load")
    parse.set_defaults(func=cmd_dbt_parse)

    args = parser.parse_args(argv)
    if getattr(args, "as_of", None) is None and args.command == "generate":
        args.as_of = today_in_tokyo()
    return args.func(args)


def run() -> None:
    """The console script: ``main``, then an exit without the interpreter's teardown."""
    collect_cycles_less_often()
    exit_without_teardown(main())


if __name__ == "__main__":
    run()
