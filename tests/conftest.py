"""Shared fixtures: a generated tiny municipality (clean and dirty) and a home where the nightly ran.

Everything is real: the generator's files, the pandera schemas, the Dagster job, dbt on DuckDB files.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from pipelines.core.process import TELEMETRY_OFF

os.environ.update(TELEMETRY_OFF)

AS_OF = date(2026, 11, 30)
SEED = 12  # a tiny municipality with planted multi-domain children in school and care


@pytest.fixture(scope="session", autouse=True)
def dbt_manifest() -> Path:
    """dagster-dbt reads the manifest at import: parse before any test imports the definitions."""
    from pipelines.linkage.manifest import ensure_dbt_manifest

    return ensure_dbt_manifest()


@pytest.fixture(scope="session")
def clean_municipality(tmp_path_factory) -> Path:
    from seeds.generator import generate

    out = tmp_path_factory.mktemp("clean")
    generate("tiny", SEED, AS_OF, out, dirty=False, days=1)
    return out


@pytest.fixture(scope="session")
def dirty_municipality(tmp_path_factory) -> Path:
    from seeds.generator import generate

    out = tmp_path_factory.mktemp("dirty")
    generate("tiny", SEED, AS_OF, out, dirty=True, days=2)
    return out


@pytest.fixture(scope="session")
def nightly_home(dirty_municipality, tmp_path_factory):
    """The dirty municipality run through two consecutive nights (T − 1, then T)."""
    from datetime import timedelta

    from pipelines.nightly import run_nightly

    home = tmp_path_factory.mktemp("home")
    landing = dirty_municipality / "landing"
    first = run_nightly(home, landing, AS_OF - timedelta(days=1), quiet=True)
    second = run_nightly(home, landing, AS_OF, quiet=True)
    return {"home": home, "landing": landing, "first": first, "second": second}


def restricted(home: Path):
    """A read-only connection to the restricted store of a home."""
    from pipelines.core.store import connect

    return connect(home, read_only=True)


def check_evaluations(result) -> dict:
    """Every asset check evaluation of a run, keyed "asset/key:check_name"."""
    return {f"{e.asset_check_evaluation_data.asset_key.to_user_string()}:{e.asset_check_evaluation_data.check_name}":
            e.asset_check_evaluation_data
            for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}


def rerun_tonight(nightly_home: dict, folder: Path, change_landing) -> tuple[Path, Path, object]:
    """Night T again, on copies of the home and of the landing folder after ``change_landing(landing)``."""
    import shutil

    from pipelines.nightly import run_nightly

    landing, home = folder / "landing", folder / "home"
    shutil.copytree(nightly_home["landing"], landing)
    change_landing(landing)
    shutil.copytree(nightly_home["home"], home, ignore=shutil.ignore_patterns(".dagster"))
    return home, landing, run_nightly(home, landing, AS_OF, quiet=True)

