"""The two commands as `make run` uses them: generate, then the nightly, in a fresh process."""

import os
import re
import subprocess
import sys
from pathlib import Path

from schemas.contract import EXTRACTS
from tests.helpers import AS_OF

MIMAMORI = str(Path(sys.executable).with_name("mimamori"))


def test_generate_then_nightly_prints_a_line_per_step_then_where_every_output_is(tmp_path):
    """What a newcomer reads: short, in order, the paths at the end; Dagster's and dbt's logs in a file."""
    gen = subprocess.run([MIMAMORI, "generate", "--preset", "tiny", "--seed", "3", "--as-of", str(AS_OF),
                          "--out", str(tmp_path / "m")], capture_output=True, text=True)
    assert gen.returncode == 0, gen.stderr
    assert "landing" in gen.stdout and "answers" in gen.stdout
    home = tmp_path / "home"
    run = subprocess.run([MIMAMORI, "nightly", "--landing", str(tmp_path / "m" / "landing"), "--home", str(home),
                          "--as-of", str(AS_OF)], capture_output=True, text=True, env={**os.environ})
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    out, lines = run.stdout, run.stdout.splitlines()
    assert "succeeded" in out and "Children in the population" in out
    for path in [home / "warehouse" / "restricted.duckdb", home / "exports" / AS_OF.isoformat(),
                 home / "warehouse" / "analysis.duckdb", home / "reports" / AS_OF.isoformat() / "report.html",
                 home / "reports" / AS_OF.isoformat() / "summary.txt", home / "audit" / "audit.log",
                 home / ".dagster"]:
        assert str(path) in out and path.exists(), path
    assert (home / "reports" / AS_OF.isoformat() / "summary.txt").read_text(encoding="utf-8").strip() in out
    assert (home / ".dagster" / "dagster.yaml").read_text().count("telemetry:\n  enabled: false") == 1

    assert len(gen.stdout.splitlines()) + len(lines) < 60 and run.stderr == ""
    steps = [line.split()[2] for line in lines if re.match(r"^ +\d+\.\d s  ", line)]
    # the linkage of the 児童相談所 list runs once the extracts are in, before dbt, beside the rights' steps
    assert steps.index("raw/jumin") < steps.index("matching/jisou_links") < steps.index("dbt:")
    steps.remove("matching/jisou_links")
    assert steps == sorted([*(f"raw/{n}" for n in EXTRACTS), "raw/reviews"]) + [
        "rights/requests", "rights/applied", "dbt:", "analysis", "exports/caseworker_lists", "quality/nightly_report",
        "governance/retention_purge"]
    assert re.search(r"raw/jumin +[\d,]+ rows loaded", out)
    assert not [line for line in lines if " - dagster - " in line or "START sql" in line]
    log = Path(lines[-1].split()[-1])
    assert lines[-1].startswith("  full log of this run") and log.parent == home / "logs"
    text = log.read_text(encoding="utf-8")
    assert "STEP_SUCCESS" in text and "OK created sql table model restricted.marts.flagged_children" in text


def test_nightly_refuses_a_missing_landing_folder(tmp_path):
    run = subprocess.run([MIMAMORI, "nightly", "--landing", str(tmp_path / "nowhere"), "--home", str(tmp_path)],
                         capture_output=True, text=True)
    assert run.returncode == 2 and "no landing folder" in run.stderr
