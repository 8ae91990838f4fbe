"""deploy/: the systemd units of a municipality's server pass `systemd-analyze verify` (with the programs they
start taken from this checkout), the UI is read-only on loopback, and no setting holds a secret."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
DEPLOY = PROJECT / "deploy"
UNITS = sorted(DEPLOY.glob("mimamori-*.service")) + sorted(DEPLOY.glob("mimamori-*.timer"))


def test_the_units_pass_systemd_analyze_verify(tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    assert {u.name for u in UNITS} >= {"mimamori-dagster-daemon.service", "mimamori-webserver.service",
                                       "mimamori-status.service", "mimamori-status.timer"}
    for unit in UNITS:  # the checkout stands in for /opt/mimamori, where the README installs it
        (tmp_path / unit.name).write_text(unit.read_text().replace("/opt/mimamori", str(PROJECT)))
    done = subprocess.run(["systemd-analyze", "verify", *sorted(str(p) for p in tmp_path.iterdir())],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    # a unit naming a program that is not there fails: the check can fail
    broken = tmp_path / "mimamori-webserver.service"
    broken.write_text(broken.read_text().replace("dagster-webserver", "dagster-webserverX"))
    assert subprocess.run(["systemd-analyze", "verify", str(broken)], capture_output=True).returncode != 0


def test_the_ui_is_read_only_on_loopback_and_the_settings_hold_no_secret():
    ui = (DEPLOY / "mimamori-webserver.service").read_text()
    [start] = [line for line in ui.splitlines() if line.startswith("ExecStart=")]
    assert "--read-only" in start and "-h 127.0.0.1" in start
    for unit in UNITS:
        text = unit.read_text()
        assert not re.search(r"(?i)password|MIMAMORI_DB_KEY=\S", text), unit.name
        if unit.suffix == ".service":
            assert "User=mimamori" in text and "EnvironmentFile=/etc/mimamori/mimamori.env" in text
    example = (DEPLOY / "mimamori.env.example").read_text()
    assert "postgresql+psycopg2://" in example and not re.search(r"://[^@/\s]*:[^@\s]*@", example)  # no user:pass@
