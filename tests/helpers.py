"""What several test modules share: the fixed dates and seed, small builders, and readers of a night's results.
Tests import from here only; fixtures live in conftest.py and are never imported."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

AS_OF = date(2026, 11, 30)
SEED = 12  # a tiny municipality with planted multi-domain children in school and care
MIMAMORI = str(Path(sys.executable).with_name("mimamori"))


def restricted(home: Path):
    """A read-only connection to the restricted store of a home."""
    from pipelines.core.store import connect

    return connect(home, read_only=True)


def check_evaluations(result) -> dict:
    """Every asset check evaluation of a run, keyed "asset/key:check_name"."""
    return {f"{e.asset_check_evaluation_data.asset_key.to_user_string()}:{e.asset_check_evaluation_data.check_name}":
            e.asset_check_evaluation_data
            for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}


def materialization(result, key: str) -> dict:
    """The metadata of one asset's materialisation in a run."""
    for e in result.all_events:
        if e.event_type_value == "ASSET_MATERIALIZATION" and \
                e.event_specific_data.materialization.asset_key.to_user_string() == key:
            return {k: v.value for k, v in e.event_specific_data.materialization.metadata.items()}
    raise KeyError(key)


def rerun_tonight(nightly_home: dict, folder: Path, change_landing) -> tuple[Path, Path, object]:
    """Night T again, on copies of the home and of the landing folder after ``change_landing(landing)``."""
    from pipelines.nightly import run_nightly

    landing, home = folder / "landing", folder / "home"
    shutil.copytree(nightly_home["landing"], landing)
    change_landing(landing)
    shutil.copytree(nightly_home["home"], home, ignore=shutil.ignore_patterns(".dagster"))
    return home, landing, run_nightly(home, landing, AS_OF, quiet=True)


def first_night(clean_municipality: Path, clean_first_night: dict, folder: Path) -> tuple[Path, Path]:
    """(landing, home) in ``folder``: a copy of the clean municipality's landing and of the home after its night
    of T − 1 (the clean_first_night fixture), the same as running that night here, in the time of a copy."""
    landing, home = folder / "landing", folder / "home"
    shutil.copytree(clean_municipality / "landing", landing)
    shutil.copytree(clean_first_night["home"], home, ignore=shutil.ignore_patterns("nightly.lock"))
    return landing, home


def nightly(landing: Path, home: Path, *args: str, env: dict | None = None, timeout: float = 600,
            **popen) -> subprocess.CompletedProcess:
    """`mimamori nightly` in its own process group (a failpoint kills the group: the night, dbt, all)."""
    return subprocess.run([MIMAMORI, "nightly", "--landing", str(landing), "--home", str(home),
                           "--as-of", str(AS_OF), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, start_new_session=True, **popen)


# The registry's header, and one person's line of it (the streaming and snapshot-diff tests build files so)
JUMIN = "宛名番号,世帯番号,氏名,氏名カナ,生年月日,性別,続柄,住所,町丁目コード,住民状態,異動事由,異動日"


def person(code: int, birth: str = "2015-04-02", name: str = "見守　花子") -> str:
    return f"{code},77,{name},ミマモリ ハナコ,{birth},2,子,みまもり市桜町1丁目2番3号,101001,住民,,"


def tiny_dbt_project(root: Path, model_sql: str) -> None:
    """A dbt project of one table model on its own DuckDB file."""
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text("name: tiny\nversion: '1.0.0'\nconfig-version: 2\nprofile: tiny\n"
                                          "flags: {send_anonymous_usage_stats: false}\n")
    (root / "profiles.yml").write_text(f"tiny:\n  target: t\n  outputs:\n    t:\n      type: duckdb\n"
                                       f"      path: {root / 'tiny.duckdb'}\n      threads: 1\n")
    (root / "models" / "answer.sql").write_text("{{ config(materialized='table') }}\n" + model_sql)


def identifiers(landing: Path, as_of: date) -> set[str]:
    """Every name, kana, address, 宛名番号, 世帯番号, 児童生徒番号 and birth date in the inputs: as written,
    normalised (padded), unpadded, and hashed without a key (md5, sha1, sha256)."""
    from pipelines.ingest.extracts import landing_files, read_extract, validate

    values: set[str] = set()
    for name, files in landing_files(landing, as_of).items():
        for f in files:
            v = validate(read_extract(f), as_of)
            for col in ["address_code", "household_code", "pupil_id", "full_name", "full_name_kana", "address",
                        "birth_date"]:
                if col in v.valid.columns:
                    values |= {str(x) for x in v.valid[col].drop_nulls().unique()}
            for col in ["宛名番号", "世帯番号", "児童生徒番号", "氏名", "氏名カナ", "住所", "生年月日"]:
                if col in v.read.raw.columns:
                    values |= {x.strip(" \u3000") for x in v.read.raw[col].drop_nulls().unique() if x.strip()}
    values |= {v.lstrip("0") for v in values if v.isdigit()}
    # the run dates themselves say nothing about a person, even where a baby was born that day
    values -= {str(as_of - timedelta(days=d)) for d in range(3)}
    hashed = {getattr(hashlib, algo)(v.encode()).hexdigest() for v in values for algo in ("md5", "sha1", "sha256")}
    return {v for v in values if len(v) >= 3} | hashed


def postgres_program(name: str) -> str | None:
    """A program of Debian's PostgreSQL server (initdb, pg_ctl are not on PATH there), the newest version."""
    import glob

    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    return found[-1] if found else shutil.which(name)


class PostgresServer:
    """A throwaway PostgreSQL server for the tests: initdb in a temporary folder, listening on a unix socket
    only, stopped and deleted at the end. PostgreSQL refuses to run as root: as root it runs as ``nobody``."""

    def __init__(self) -> None:
        import tempfile

        self.initdb, self.pg_ctl = postgres_program("initdb"), postgres_program("pg_ctl")
        self.root = Path(tempfile.mkdtemp(prefix="mimamori-pg-"))
        self.as_user = ["runuser", "-u", "nobody", "--"] if os.getuid() == 0 else []
        if self.as_user:
            shutil.chown(self.root, "nobody")

    @property
    def available(self) -> bool:
        return bool(self.initdb and self.pg_ctl)

    def start(self) -> "PostgresServer":
        data = self.root / "data"
        subprocess.run([*self.as_user, self.initdb, "-D", str(data), "-U", "mimamori", "--auth=trust", "-E", "UTF8",
                        "--locale=C.UTF-8"], check=True, capture_output=True)
        subprocess.run([*self.as_user, self.pg_ctl, "-D", str(data), "-l", str(self.root / "server.log"), "-w",
                        "-o", f"-k {self.root} -c listen_addresses=''", "start"], check=True, capture_output=True)
        self.psql("postgres", "CREATE DATABASE dagster")
        return self

    def url(self, database: str = "dagster") -> str:
        return f"postgresql+psycopg2://mimamori@/{database}?host={self.root}"

    def psql(self, database: str, sql: str) -> list[list[str]]:
        out = subprocess.run(["psql", "-h", str(self.root), "-U", "mimamori", "-d", database, "-At", "-F", "\t",
                              "-v", "ON_ERROR_STOP=1", "-c", sql], check=True, capture_output=True, text=True)
        return [line.split("\t") for line in out.stdout.splitlines() if line]

    def stop(self) -> None:
        subprocess.run([*self.as_user, self.pg_ctl, "-D", str(self.root / "data"), "-m", "fast", "-w", "stop"],
                       capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


def rows_of(path: Path) -> list[dict]:
    """The rows of a caseworkers' list (.xlsx), by column name."""
    import openpyxl

    ws = openpyxl.load_workbook(path)["見守りリスト"]
    header = [c.value for c in ws[1]]
    return [dict(zip(header, r)) for r in ws.iter_rows(min_row=2, values_only=True)]


def fill(ws, row: int, reviewed_on, result, reviewer) -> None:
    """A caseworker's review of one row of the list, as typed in Excel."""
    header = [c.value for c in ws[1]]
    for name, value in (("確認日", reviewed_on), ("確認結果", result), ("確認者", reviewer)):
        ws.cell(row, header.index(name) + 1).value = value
