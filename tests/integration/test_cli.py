"""The two commands as `make run` uses them: generate, then the nightly, in a fresh process."""

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import AS_OF

MIMAMORI = str(Path(sys.executable).with_name("mimamori"))


def test_generate_then_nightly_prints_where_every_output_is(tmp_path):
    gen = subprocess.run([MIMAMORI, "generate", "--preset", "tiny", "--seed", "3", "--as-of", str(AS_OF),
                          "--out", str(tmp_path / "m")], capture_output=True, text=True)
    assert gen.returncode == 0, gen.stderr
    assert "landing" in gen.stdout and "answers" in gen.stdout
    home = tmp_path / "home"
    run = subprocess.run([MIMAMORI, "nightly", "--landing", str(tmp_path / "m" / "landing"), "--home", str(home),
                          "--as-of", str(AS_OF)], capture_output=True, text=True, env={**os.environ})
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    out = run.stdout
    assert "succeeded" in out and "Children in the population" in out
    for path in [home / "warehouse" / "restricted.duckdb", home / "exports" / AS_OF.isoformat(),
                 home / "warehouse" / "analysis.duckdb", home / "reports" / AS_OF.isoformat() / "report.html",
                 home / "reports" / AS_OF.isoformat() / "summary.txt", home / "audit" / "audit.log",
                 home / ".dagster"]:
        assert str(path) in out and path.exists(), path
    assert (home / "reports" / AS_OF.isoformat() / "summary.txt").read_text(encoding="utf-8").strip() in out
    assert (home / ".dagster" / "dagster.yaml").read_text().count("enabled: false") == 1  # telemetry off


def test_nightly_refuses_a_missing_landing_folder(tmp_path):
    run = subprocess.run([MIMAMORI, "nightly", "--landing", str(tmp_path / "nowhere"), "--home", str(tmp_path)],
                         capture_output=True, text=True)
    assert run.returncode == 2 and "no landing folder" in run.stderr
