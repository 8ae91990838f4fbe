"""Shared fixtures: a generated tiny municipality (clean and dirty) and a home where the nightly ran.

Everything is real: the generator's files, the pandera schemas, the Dagster job, dbt on DuckDB files.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipelines.core.process import TELEMETRY_OFF
from tests.helpers import AS_OF, SEED

os.environ.update(TELEMETRY_OFF)



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
def clean_first_night(clean_municipality, tmp_path_factory):
    """The clean municipality's night of T − 1 in a home of its own: the start of every module that runs its
    own second night (reviews, rights, the 児童相談所 list, backups), which copies it (tests.helpers.first_night)
    rather than run the same night again."""
    from datetime import timedelta

    from pipelines.nightly import run_nightly

    home = tmp_path_factory.mktemp("first-night") / "home"
    run = run_nightly(home, clean_municipality / "landing", AS_OF - timedelta(days=1), quiet=True)
    assert run.result.success
    return {"home": home, "run": run}


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



# The files that take longest start first, so that neither worker is left with one of them at the end while
# the other is idle (with --dist loadfile a file runs whole on one worker, its module fixtures once).
LONGEST_FIRST = ["test_spark.py", "test_postgres.py", "test_reliability.py", "test_lab.py", "test_memory.py", "test_rights.py",
                 "test_concurrency.py", "test_reviews.py", "test_service.py", "test_governance.py", "test_webserver.py"]


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order
