"""Going live: a home lost after two nights with reviews and a suspension, restored from its backup, makes the
same list the next night as the home never lost; a damaged backup, or one without its keys, is refused; a
rotated key opens the store and the old one does not; `mimamori status` answers a monitor; a home others can
read is refused."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import openpyxl
import pytest

from pipelines import cli
from pipelines.core.audit import verify
from pipelines.core.home import Home
from pipelines.nightly import run_nightly
from pipelines.service.backup import BackupError, backup, restore
from pipelines.service.rotation import opens
from pipelines.service.status import night_status
from tests.helpers import AS_OF, MIMAMORI, fill, first_night, restricted, rows_of

YESTERDAY, TOMORROW = AS_OF - timedelta(days=1), AS_OF + timedelta(days=1)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lived(clean_municipality, clean_first_night, tmp_path_factory):
    """Two nights: after the first, two children reviewed (要支援, 見守り) and a third's data suspended (利用停止);
    then a backup, its keys elsewhere."""
    folder = tmp_path_factory.mktemp("service")
    landing, home = first_night(clean_municipality, clean_first_night, folder)
    [xlsx] = Home(home).exports(YESTERDAY).glob("*.xlsx")
    listed = rows_of(xlsx)
    workbook = openpyxl.load_workbook(xlsx)
    fill(workbook["見守りリスト"], 2, YESTERDAY, "要支援", "K0123")
    fill(workbook["見守りリスト"], 3, YESTERDAY, "見守り", "K0123")
    (landing / "returns").mkdir()
    workbook.save(landing / "returns" / xlsx.name)
    suspended = listed[2]["宛名番号"]
    (landing / "teishi_20261130.csv").write_bytes(
        f"受付番号,宛名番号,開始日,終了日,理由区分\r\nR8-T01,{suspended},2026-11-30,,利用停止請求\r\n".encode())
    assert run_nightly(home, landing, AS_OF, quiet=True).result.success
    done = backup(home, folder / "backups", with_keys=folder / "vault", user="test")
    return {"home": home, "landing": landing, "backup": done, "vault": folder / "vault", "folder": folder,
            "reviewed": [listed[0]["宛名番号"], listed[1]["宛名番号"]], "suspended": suspended}


def lists_of(home: Path, as_of) -> dict:
    folder = Home(home).exports(as_of)
    return {p.name: (p.read_bytes() if p.suffix == ".csv" else rows_of(p)) for p in sorted(folder.iterdir())}


def test_a_lost_home_restored_makes_the_same_list_as_the_home_never_lost(lived, tmp_path):
    home, done = lived["home"], lived["backup"]
    assert not list(done.folder.rglob("*.key")) and {p.name for p in done.keys_folder.iterdir()} == {
        "restricted_db.key", "pseudonym_analysis.key"}
    kept = tmp_path / "kept"
    shutil.copytree(home, kept)  # the home as if never lost
    restored = tmp_path / "restored"
    restore(done.folder, restored, keys=lived["vault"], user="test")
    assert restored.stat().st_mode & 0o777 == 0o700
    assert run_nightly(kept, lived["landing"], TOMORROW, quiet=True).result.success
    assert run_nightly(restored, lived["landing"], TOMORROW, quiet=True).result.success
    after = lists_of(restored, TOMORROW)
    assert after == lists_of(kept, TOMORROW) and after
    rows = [r for name, value in after.items() if name.endswith(".xlsx") for r in value]
    assert lived["suspended"] not in {r["宛名番号"] for r in rows}  # the suspension held
    with restricted(restored) as con:  # the reviews came back with the store
        reviewed = {c for (c,) in con.execute("select address_code from raw.reviews").fetchall()}
    assert set(lived["reviewed"]) <= reviewed
    assert verify(Home(restored).audit_log).ok
    assert [e for e in Home(restored).audit_log.read_text().splitlines() if '"restored"' in e]


def test_a_damaged_backup_or_one_without_its_keys_is_refused_and_nothing_restored(lived, tmp_path):
    copy = tmp_path / lived["backup"].folder.name
    shutil.copytree(lived["backup"].folder, copy)
    with pytest.raises(BackupError, match="no key restricted_db for this backup"):
        restore(copy, tmp_path / "a")
    other_keys = tmp_path / "other"  # keys of another home do not open this one
    other_keys.mkdir()
    (other_keys / "restricted_db.key").write_text("0" * 64 + "\n")
    with pytest.raises(BackupError, match="no key restricted_db"):
        restore(copy, tmp_path / "a", keys=other_keys)
    store = copy / "warehouse" / "analysis.duckdb"
    data = bytearray(store.read_bytes())
    data[len(data) // 2] ^= 0xFF
    store.write_bytes(bytes(data))
    with pytest.raises(BackupError, match=r"damaged: warehouse/analysis\.duckdb is not the file"):
        restore(copy, tmp_path / "a", keys=lived["vault"])
    assert not (tmp_path / "a").exists()
    # the same refusal from the command line, with its exit code
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert cli.main(["restore", "--from", str(copy), "--home", str(tmp_path / "b"), "--keys",
                         str(lived["vault"])]) == 2
    assert "warehouse/analysis.duckdb" in err.getvalue() and not (tmp_path / "b").exists()


def test_keys_beside_the_backup_are_refused(lived):
    with pytest.raises(BackupError, match="must be another place"):
        backup(lived["home"], lived["folder"] / "backups", with_keys=lived["folder"] / "backups" / "keys")


def test_a_rotated_key_opens_the_store_and_the_old_one_no_longer_does(lived, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(lived["home"], home)
    layout = Home(home)
    old = layout.key("restricted_db").read_text().strip()
    with restricted(home) as con:
        before = con.execute("select count(*) from raw.jumin").fetchone()[0]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["keys", "rotate", "--home", str(home)]) == 0
    new = layout.key("restricted_db").read_text().strip()
    assert new != old and opens(layout.restricted_store, new) and not opens(layout.restricted_store, old)
    with restricted(home) as con:  # the store as every part of mimamori opens it
        assert con.execute("select count(*) from raw.jumin").fetchone()[0] == before
    [retired] = (layout.keys / "retired").iterdir()
    assert retired.read_text().strip() == old and retired.stat().st_mode & 0o777 == 0o600
    # the retired key still opens the backups taken before
    assert opens(lived["backup"].folder / "warehouse" / "restricted.duckdb", old)
    [entry] = [json.loads(e) for e in layout.audit_log.read_text().splitlines() if '"key_rotated"' in e]
    assert old not in json.dumps(entry) and new not in json.dumps(entry) and verify(layout.audit_log).ok
    assert not list(layout.warehouse.glob("*.rotating")) and not list(layout.keys.glob("*.rotating"))


def test_status_exit_codes_for_a_good_a_failed_a_stale_and_a_missing_night(lived, clean_municipality, tmp_path):
    good = subprocess.run([MIMAMORI, "status", "--home", str(lived["home"]), "--json"], capture_output=True,
                          text=True, timeout=120)
    assert good.returncode == 0, good.stderr
    answer = json.loads(good.stdout)
    assert answer["state"] == "succeeded" and answer["as_of"] == str(AS_OF) and Path(answer["log"]).exists()

    stale = night_status(lived["home"], now=datetime.now(timezone.utc) + timedelta(hours=27))
    assert not stale.ok and stale.state == "stale" and "more than 26" in stale.sentence

    landing = tmp_path / "landing"  # the registry never came: the night stops before dbt
    landing.mkdir()
    for name in ("zei", "fukushi", "kenshin"):
        shutil.copy(clean_municipality / "landing" / f"{name}_20261130.csv", landing)
    failed_home = tmp_path / "failed"
    assert not run_nightly(failed_home, landing, AS_OF, quiet=True).result.success
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert cli.main(["status", "--home", str(failed_home)]) == 1
    sentence = err.getvalue().strip()
    assert re.match(rf"The night of {AS_OF} failed at step raw__(jumin|gakureibo): [^:]*(住民記録|学齢簿)", sentence)
    assert str(failed_home / "logs") in sentence and len(sentence.splitlines()) == 1

    with contextlib.redirect_stderr(io.StringIO()) as missing:
        assert cli.main(["status", "--home", str(tmp_path / "never")]) == 1
    assert "No night has run" in missing.getvalue()


def test_a_home_others_can_read_is_refused_with_the_chmod_to_run(clean_municipality, tmp_path):
    home = tmp_path / "open"
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert cli.main(["nightly", "--landing", str(clean_municipality / "landing"), "--home", str(home),
                         "--as-of", str(AS_OF)]) == 2
    assert f"chmod 700 {home}" in err.getvalue() and list(home.iterdir()) == []
