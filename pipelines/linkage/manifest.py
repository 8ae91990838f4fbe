"""The dbt manifest that dagster-dbt loads when the definitions are imported: parsed when missing or stale."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pipelines.core.config import CONFIG_DIR, PROJECT_ROOT
from pipelines.core.duckdb_env import extension_directory
from pipelines.core.process import TELEMETRY_OFF
from pipelines.linkage.vars import dbt_vars


def ensure_dbt_manifest(force: bool = False) -> Path:
    """dagster-dbt loads the manifest at import time: (re)parse when it is missing or older than the project."""
    project = PROJECT_ROOT / "dbt_project"
    manifest = project / "target" / "manifest.json"
    sources = [p for folder in ("models", "macros", "tests") for p in (project / folder).rglob("*")
               if p.suffix in {".sql", ".yml"}] + list(project.glob("*.yml"))
    sources += list(CONFIG_DIR.glob("*.yml"))
    if force or not manifest.exists() or max(p.stat().st_mtime for p in sources) > manifest.stat().st_mtime:
        dbt = Path(sys.executable).with_name("dbt")
        # the profile rendered as on every night (dbt re-parses whatever changes the profile)
        env = {**os.environ, **TELEMETRY_OFF, "MIMAMORI_DUCKDB_EXTENSIONS": extension_directory()}
        env.setdefault("MIMAMORI_HOME", str(PROJECT_ROOT / "data"))
        subprocess.run([str(dbt), "parse", "--quiet", "--project-dir", str(project), "--profiles-dir",
                        str(project), "--vars", dbt_vars()],
                       check=True, env=env)
    return manifest
