"""What dbt runs with: the rule set and the offices as vars (the only place thresholds come from), and
the run's as-of date T in the environment.

T changes every night, and dbt re-parses the whole project whenever ``--vars`` change (3 s). So T
travels as MIMAMORI_AS_OF, which the ``as_of()`` macro reads only when executing: parsing never sees
it, and the partial parse of the previous night stays valid.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from pipelines.core import config

AS_OF_ENV = "MIMAMORI_AS_OF"


def dbt_vars() -> str:
    """``--vars`` as JSON: the same every night unless config/rules.yml, offices.yml or the lawful basis
    in governance.yml change."""
    return json.dumps({"rules": config.rules(), "offices": config.offices(),
                       "governance": {"lawful_basis": config.governance()["lawful_basis"]}}, ensure_ascii=False)


def as_of_env(as_of: date) -> dict[str, str]:
    return {AS_OF_ENV: as_of.isoformat()}


@contextmanager
def as_of_in_environment(as_of: date) -> Iterator[None]:
    """T in this process's environment while dagster-dbt starts dbt (it hands dbt ``os.environ``)."""
    before = os.environ.get(AS_OF_ENV)
    os.environ[AS_OF_ENV] = as_of.isoformat()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(AS_OF_ENV, None)
        else:
            os.environ[AS_OF_ENV] = before
