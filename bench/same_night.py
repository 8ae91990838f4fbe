"""The same nights, before and after a change of the code's shape: a digest of everything a night leaves.

    .venv/bin/python bench/same_night.py --out /tmp/after.json [--code DIR]
    .venv/bin/python bench/same_night.py --compare /tmp/before.json /tmp/after.json

Runs, with the code of DIR (default: this checkout) through its command line only, so that any commit can be
measured by the same script:

- a dirty tiny municipality (seed 12), two nights (T − 1, T): quarantine, the registry's diff, deltas;
- a clean tiny municipality, night T − 1, then the caseworkers' return (three reviews filled in the list's
  xlsx), a suspension and a correction (one good, one bad row), and night T.

and writes one digest per output, with what changes from run to run taken out (times, run ids, the home's
path, the hash chain): the caseworkers' lists (CSV bytes, xlsx cell values), the quarantine files, every
table of the restricted and the analysts' stores (rows sorted, hashed), the summary, the audit entries, the
report's text. ``--compare`` prints each output that differs and exits 1 if any does.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
AS_OF = date(2026, 11, 30)
YESTERDAY = AS_OF - timedelta(days=1)
# what differs between two runs of the same code on the same inputs
# what differs between two runs of the same code on the same inputs (the line index's signature is the reading
# code's version: a change of the code's files changes it by design, and the next night re-reads the files whole)
VOLATILE_COLUMNS = re.compile(r"(^|_)(run_id|logged_at|loaded_at|published_at|created_at|at|ts|seconds|"
                              r"requested_at|received_at|written_at|file_fingerprint|signature)$")
# the keys of an installation, the same for both runs so that the analysts' tokens can be compared
KEYS = {"restricted_db": "5a" * 32, "pseudonym_analysis": "a5" * 32}
VOLATILE_KEYS = {"at", "ts", "time", "hash", "prev", "run_id", "seconds", "pid", "host", "user", "log", "started",
                 "finished", "elapsed", "duration", "landing", "home", "path", "folder", "file_fingerprint"}


def mimamori(code: Path, *args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(code), "TZ": "Asia/Tokyo"}
    out = subprocess.run([sys.executable, "-m", "pipelines.cli", *args], cwd=code, env=env,
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"mimamori {' '.join(args)} failed ({out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")


def nights(code: Path, work: Path) -> dict[str, Path]:
    import openpyxl

    dirty, clean = work / "dirty", work / "clean"
    mimamori(code, "generate", "--preset", "tiny", "--seed", "12", "--as-of", AS_OF.isoformat(), "--out",
             str(dirty), "--dirty", "--days", "2")
    mimamori(code, "generate", "--preset", "tiny", "--seed", "12", "--as-of", AS_OF.isoformat(), "--out",
             str(clean), "--days", "1")
    homes = {"dirty": work / "home-dirty", "loop": work / "home-loop"}
    for home in homes.values():
        (home / "keys").mkdir(parents=True, mode=0o700)
        for name, value in KEYS.items():
            (home / "keys" / f"{name}.key").write_text(value + "\n")
            (home / "keys" / f"{name}.key").chmod(0o600)
    for day in (YESTERDAY, AS_OF):
        mimamori(code, "nightly", "--landing", str(dirty / "landing"), "--home", str(homes["dirty"]),
                 "--as-of", day.isoformat())
    landing = clean / "landing"
    mimamori(code, "nightly", "--landing", str(landing), "--home", str(homes["loop"]), "--as-of",
             YESTERDAY.isoformat())
    [xlsx] = sorted((homes["loop"] / "exports" / YESTERDAY.isoformat()).glob("*.xlsx"))
    wb = openpyxl.load_workbook(xlsx)
    ws = wb["見守りリスト"]
    header = [c.value for c in ws[1]]
    codes = [ws.cell(r, header.index("宛名番号") + 1).value for r in range(2, ws.max_row + 1)]
    for row, result in ((2, "要支援"), (3, "見守り"), (4, "支援不要")):
        for name, value in (("確認日", date(2026, 11, 29)), ("確認結果", result), ("確認者", "K0123")):
            ws.cell(row, header.index(name) + 1).value = value
    (landing / "returns").mkdir()
    wb.save(landing / "returns" / xlsx.name)
    same_bytes_every_run(landing / "returns" / xlsx.name)
    (landing / "teishi_20261130.csv").write_bytes(
        ("受付番号,宛名番号,開始日,終了日,理由区分\r\n"
         f"R8-T01,{codes[-1]},2026-11-30,,利用停止請求\r\n").encode("utf-8"))
    (landing / "teisei_20261130.csv").write_bytes(
        ("受付番号,抽出,行の鍵,項目,訂正後の値,理由\r\n"
         f"R8-C01,jumin,宛名番号={codes[-2]},氏名,見守 花子,誤記\r\n"
         f"R8-C02,fukushi,宛名番号={codes[-2]},血液型,A,誤り\r\n").encode("utf-8"))
    mimamori(code, "nightly", "--landing", str(landing), "--home", str(homes["loop"]), "--as-of", AS_OF.isoformat())
    return homes


def same_bytes_every_run(xlsx: Path) -> None:
    """The caseworker's saved workbook without the moment it was saved (openpyxl writes the time into the
    document's properties and the zip's entries), so that its sha256 is the same in every run."""
    import zipfile

    with zipfile.ZipFile(xlsx) as z:
        parts = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    with zipfile.ZipFile(xlsx, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts:
            if name == "docProps/core.xml":
                data = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"2026-11-29T09:00:00Z", data)
            z.writestr(zipfile.ZipInfo(name, date_time=(2026, 11, 29, 9, 0, 0)), data, zipfile.ZIP_DEFLATED)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def scrub(value, home: Path):
    """A JSON value with what changes from run to run taken out."""
    if isinstance(value, dict):
        return {k: scrub(v, home) for k, v in sorted(value.items()) if k not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [scrub(v, home) for v in value]
    if isinstance(value, str):
        value = value.replace(str(home), "HOME")
        return re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "RUN", value)
    if isinstance(value, float):
        return None  # seconds, rates of time
    return value


def stores(home: Path) -> dict[str, str]:
    import duckdb
    import duckdb_ext

    extensions = os.path.join(list(duckdb_ext.__path__)[0], "extensions")
    con = duckdb.connect(config={"extension_directory": extensions, "allow_unsigned_extensions": True,
                                 "autoinstall_known_extensions": False, "autoload_known_extensions": False})
    con.execute("LOAD httpfs")
    key = (home / "keys" / "restricted_db.key").read_text().strip()
    con.execute(f"ATTACH '{home / 'warehouse' / 'restricted.duckdb'}' AS restricted (ENCRYPTION_KEY $k, READ_ONLY)",
                {"k": key})
    con.execute(f"ATTACH '{home / 'warehouse' / 'analysis.duckdb'}' AS analysis (READ_ONLY)")
    digests = {}
    tables = con.execute("select database_name, schema_name, table_name from duckdb_tables() "
                         "where database_name in ('restricted', 'analysis') order by all").fetchall()
    for db, schema, table in tables:
        columns = [c for (c,) in con.execute(
            "select column_name from duckdb_columns() where database_name = ? and schema_name = ? and table_name = ? "
            "order by column_index", [db, schema, table]).fetchall() if not VOLATILE_COLUMNS.search(c)]
        rows = con.execute(f'select {", ".join(chr(34) + c + chr(34) for c in columns)} '
                           f'from "{db}"."{schema}"."{table}"').fetchall()
        text = "\n".join(sorted(repr(r) for r in rows))
        digests[f"{db}.{schema}.{table}"] = f"{len(rows)} rows {sha(text.encode())} cols {','.join(columns)}"
    con.close()
    return digests


def files(home: Path) -> dict[str, str]:
    import openpyxl

    digests = {}
    for folder in ("exports", "quarantine", "disclosures"):
        for path in sorted((home / folder).rglob("*")):
            if not path.is_file():
                continue
            name = str(path.relative_to(home))
            if path.suffix == ".xlsx":
                wb = openpyxl.load_workbook(path)
                cells = [(ws.title, [[c for c in row] for row in ws.iter_rows(values_only=True)]) for ws in wb]
                digests[name] = "cells " + sha(repr(cells).encode())
            elif path.suffix == ".json":
                digests[name] = "json " + sha(json.dumps(scrub(json.loads(path.read_text()), home)).encode())
            else:
                digests[name] = "bytes " + sha(path.read_bytes())
    for summary in sorted((home / "reports").glob("*/summary.json")):
        digests[str(summary.relative_to(home))] = json.dumps(scrub(json.loads(summary.read_text()), home),
                                                             ensure_ascii=False)
    for report in sorted((home / "reports").glob("*/report.html")):
        text = re.sub(r"<[^>]+>", " ", report.read_text().replace(str(home), "HOME"))
        # seconds, clock times, run ids, and the moment matplotlib drew each chart (its SVG's metadata)
        text = re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+|\d+\.\d+ ?s\b|\d{2}:\d{2}(:\d{2})?|[0-9a-f]{8}-[0-9a-f-]{27}", "",
                      text)
        digests[str(report.relative_to(home))] = "text " + sha(" ".join(text.split()).encode())
    entries = [scrub(json.loads(line), home) for line in (home / "audit" / "audit.log").read_text().splitlines()]
    digests["audit/audit.log"] = json.dumps(entries, ensure_ascii=False)
    return digests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--code", default=str(PROJECT), help="the checkout whose code runs the nights")
    parser.add_argument("--out", help="where to write the digest (JSON)")
    parser.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    parser.add_argument("--keep", help="keep the municipalities and homes in this folder (default: a temporary one)")
    args = parser.parse_args()
    if args.compare:
        before, after = (json.loads(Path(p).read_text()) for p in args.compare)
        differ = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        for key in differ:
            print(f"DIFFERS {key}\n  before {str(before.get(key))[:300]}\n  after  {str(after.get(key))[:300]}")
        print(f"same night: {len(before.keys() & after.keys()) - len(set(differ) & before.keys() & after.keys())} "
              f"of {len(before.keys() | after.keys())} outputs identical, {len(differ)} differ")
        return 1 if differ else 0
    with tempfile.TemporaryDirectory(prefix="same-night-") as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        homes = nights(Path(args.code).resolve(), work)
        digest = {f"{name}:{k}": v for name, home in homes.items()
                  for k, v in {**stores(home), **files(home)}.items()}
    Path(args.out).write_text(json.dumps(digest, indent=1, ensure_ascii=False, sort_keys=True))
    print(f"{len(digest)} outputs digested into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
