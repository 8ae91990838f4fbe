"""The floor for bench/nightly.py: DuckDB alone loads the same CSV files and computes the same flag list.

    .venv/bin/python bench/floor.py LANDING AS_OF WORKDIR [--single-buffer | --utf8]

No validation, no normalisation beyond what the clean generated files need (padding the tax system's
unpadded 宛名番号), no orchestration, no exports: read_csv (Shift_JIS via the encodings extension) into
raw tables, then the dbt models' own SQL, compiled by dbt for the same vars, run in dependency order.
Prints FLOOR_SECONDS (load + models, without the dbt compile that prepares the SQL).

DuckDB 1.4.4's encodings extension garbles a Shift_JIS character that straddles two read buffers (seen
at toda: a comma became "?"), which can break a row. By default the floor reads as DuckDB reads best,
in parallel buffers, not strict, skips the rows it cannot parse and prints how many (FLOOR_ROWS_LOST), and casts
with try_cast (a garbled digit becomes null): the floor is a speed reference, not a correct load.
--single-buffer reads each file in one buffer instead: correct, but serial (1.6 x slower at fukuoka).

The extension decodes Shift_JIS slowly (fukuoka's 580 MB attendance file: 62 s, against 1.2 s for the
same file in UTF-8). --utf8 gives the stricter floor: the files transcoded to UTF-8 before the clock
starts, as if the departments sent UTF-8.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

import duckdb  # noqa: E402

from pipelines.core.duckdb_env import extension_directory  # noqa: E402
from pipelines.core.process import TELEMETRY_OFF  # noqa: E402
from pipelines.ingest.extracts import decode, landing_files  # noqa: E402
from pipelines.linkage.vars import as_of_env, dbt_vars  # noqa: E402
from pipelines.matching.review import ensure_links_table  # noqa: E402
from pipelines.reviews import returns as reviews  # noqa: E402
from pipelines.rights import requests as rights  # noqa: E402
from schemas.contract import EXTRACTS  # noqa: E402


def compiled_models(as_of: date, work: Path) -> list[tuple[str, str, str, str]]:
    """(schema, name, materialization, sql) of every model of the nightly in dependency order, compiled by dbt
    for these vars (an incremental model as its first night builds it: a table)."""
    home = work / "compile-home"
    (home / "warehouse").mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **TELEMETRY_OFF, "MIMAMORI_HOME": str(home), "MIMAMORI_DB_KEY": "floor-compile-only",
           "MIMAMORI_DUCKDB_EXTENSIONS": extension_directory(), **as_of_env(as_of)}
    target = work / "target"
    subprocess.run([str(Path(sys.executable).with_name("dbt")), "compile", "--quiet", "--project-dir",
                    str(PROJECT / "dbt_project"), "--profiles-dir", str(PROJECT / "dbt_project"), "--target-path",
                    str(target), "--vars", dbt_vars()], env=env, check=True)
    nodes = json.loads((target / "manifest.json").read_text())["nodes"]
    models = {k: n for k, n in nodes.items() if n["resource_type"] == "model"
              and n["config"]["materialized"] in {"table", "view", "incremental"} and "lab" not in n["tags"]}
    order, done = [], set()

    def visit(key: str) -> None:
        if key in done or key not in models:
            return
        for dep in models[key]["depends_on"]["nodes"]:
            visit(dep)
        done.add(key)
        materialized = {"incremental": "table"}.get(models[key]["config"]["materialized"],  # a first night's build
                                                    models[key]["config"]["materialized"])
        order.append((models[key]["schema"], models[key]["name"], materialized,
                      models[key]["compiled_code"]))

    for key in sorted(models):
        visit(key)
    return order


def column_sql(extract: str) -> str:
    parts = []
    for c in EXTRACTS[extract].columns:
        q = f'"{c.japanese}"'
        if c.kind == "id15":
            parts.append(f"lpad({q}, 15, '0') as {c.name}")
        elif c.kind == "date":
            parts.append(f"try_cast({q} as date) as {c.name}")
        elif c.kind == "int":
            parts.append(f"try_cast({q} as integer) as {c.name}")
        elif c.kind == "decimal":
            parts.append(f"try_cast({q} as double) as {c.name}")
        elif c.name == "nurse_visit":
            parts.append(f"coalesce({q}, '0') as {c.name}")
        else:
            parts.append(f"{q} as {c.name}")
    return ", ".join(parts)


def _read_options(path: Path, mode: str) -> str:
    if mode == "utf8":
        return "encoding = 'utf-8'"
    if mode == "single-buffer":  # a buffer larger than the file: no character straddles two buffers
        return f"encoding = 'shift_jis', buffer_size = {max(path.stat().st_size + (1 << 20), 32 << 20)}"
    return "encoding = 'shift_jis', ignore_errors = true, strict_mode = false"


def input_files(landing: Path, as_of: date) -> dict[str, list]:
    """What a night on ``as_of`` reads: every attendance file, the newest snapshot of the others."""
    return {name: (group if name == "shukketsu" else group[-1:])
            for name, group in landing_files(landing, as_of).items()}


def data_rows(path: Path) -> int:
    """Lines after the header."""
    with open(path, "rb") as f:
        return sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 24), b"")) - 1


def _utf8_copy(path: Path, folder: Path) -> Path:
    """The file in UTF-8, decoded as the pipeline decodes it (outside the floor's clock)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / path.name).write_bytes(decode(path, path.read_bytes())[1])
    return folder / path.name


def main(landing: str, as_of_text: str, workdir: str, mode: str = "parallel") -> None:
    as_of = date.fromisoformat(as_of_text)
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    models = compiled_models(as_of, work)
    files = input_files(Path(landing), as_of)
    sources = {f.path: (_utf8_copy(f.path, work / "utf8") if mode == "utf8" else f.path)
               for group in files.values() for f in group}
    db = work / "floor.duckdb"
    db.unlink(missing_ok=True)
    started = time.perf_counter()
    con = duckdb.connect(config={"extension_directory": extension_directory(), "autoinstall_known_extensions": False})
    con.execute("LOAD encodings")
    con.execute(f"ATTACH '{db}' AS restricted")
    con.execute("USE restricted")
    for schema in ("raw", "staging", "intermediate", "marts"):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    rights.ensure_tables(con)  # no request, no review: the empty tables a first night has
    reviews.ensure_table(con)
    ensure_links_table(con)  # the floor links no 児童相談所 list (Splink is the night's): C4 finds no case
    for name, chosen in files.items():
        reads = " union all ".join(
            f"select {column_sql(name)}, '{f.name}' as _source_file, date '{f.extracted_on}' as _extracted_on, "
            f"0 as _source_line, cast(null as varchar[]) as _corrections from read_csv('{sources[f.path]}', header = true, all_varchar = true, "
            f"{_read_options(f.path, mode)})" for f in chosen)
        dedupe = " qualify row_number() over (partition by pupil_id, school_day order by _extracted_on desc) = 1" \
            if name == "shukketsu" else ""
        con.execute(f"create or replace table raw.{name} as select * from ({reads}){dedupe}")
    loaded = time.perf_counter()
    for schema, name, materialized, sql in models:  # views stay views, as dbt builds them
        con.execute(f'create or replace {materialized} "{schema}"."{name}" as {sql}')
    flagged = con.execute("select count(*) from marts.flagged_children").fetchone()[0]
    done = time.perf_counter()
    rows_in_files = sum(data_rows(f.path) for group in files.values() for f in group)
    rows_read = sum(con.execute(f"select count(*) from raw.{name}").fetchone()[0] for name in files)
    con.close()
    print(f"load {loaded - started:.1f} s, models {done - loaded:.1f} s ({len(models)} models), "
          f"flagged {flagged:,}")
    print(f"FLOOR_SECONDS {done - started:.2f}")
    print(f"FLOOR_ROWS_LOST {rows_in_files - rows_read}")


if __name__ == "__main__":
    flags = sys.argv[4:]
    main(*sys.argv[1:4], mode="single-buffer" if "--single-buffer" in flags else "utf8" if "--utf8" in flags
         else "parallel")
