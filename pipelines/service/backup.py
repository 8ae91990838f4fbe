"""Backup and restore of a home (governance.md: the reviews, the residents' requests, the list history and
the audit log exist only in HOME; the departments' files cannot rebuild them).

A backup is a dated folder ``mimamori-backup-<YYYYMMDDTHHMMSS>/`` taken under the night lock, holding the
home as it is between nights: the stores still encrypted, the audit log, the exports, reports and
quarantine, the Dagster instance (SQLite copied through SQLite's backup API; for PostgreSQL a ``pg_dump``),
and ``MANIFEST.json`` with each file's sha256 (also as ``SHA256SUMS`` for ``sha256sum -c``). The keys are never
in it: ``--with-keys KEYDIR`` copies them to ``KEYDIR/<backup name>/``, which must be another place.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pipelines.core.audit import AuditLog
from pipelines.core.clock import TOKYO
from pipelines.core.home import Home, private_home
from pipelines.core.instance import PG_URL_ENV, storage_kind
from pipelines.core.keys import ENV as KEY_ENV
from pipelines.core.lock import night_lock

MANIFEST, SUMS = "MANIFEST.json", "SHA256SUMS"
PG_DUMP = "dagster-instance.pgdump"


class BackupError(Exception):
    """A backup or a restore refused, with the sentence saying why and what to do."""


def fingerprint(key: str) -> str:
    """Which key a store needs, without the key: a hash of it (a 256-bit random key cannot be found from it)."""
    return hashlib.sha256(f"mimamori key fingerprint:{key.strip()}".encode()).hexdigest()[:16]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _kept(home: Home) -> list[Path]:
    """The home's files a backup keeps: all but the keys, DuckDB's spill, the lock, dbt's artifacts."""
    skipped = [home.keys, home.spill, home.lock, home.dbt_target.parent]
    files = []
    for path in sorted(home.root.rglob("*")):
        if path.is_file() and not path.is_symlink() and not any(path == s or s in path.parents for s in skipped):
            files.append(path)
    return files


def _inside(inner: Path, outer: Path) -> bool:
    inner, outer = inner.resolve(), outer.resolve()
    return inner == outer or outer in inner.parents


@dataclass
class Backup:
    folder: Path
    files: int
    bytes: int
    keys_folder: Path | None
    pg_dump: str | None  # how the PostgreSQL instance was saved, or the command to run


def backup(root: Path, to: Path, with_keys: Path | None = None, user: str = "", wait: float = 0.0) -> Backup:
    home = Home(root)
    if not home.restricted_store.exists():
        raise BackupError(f"no home to back up at {home.root} (no {home.restricted_store.name}): give the --home "
                          "where the nights run")
    if with_keys is not None and (_inside(with_keys, to) or _inside(to, with_keys) or _inside(with_keys, home.root)):
        raise BackupError(f"--with-keys {with_keys} must be another place than the backup ({to}) and the home: "
                          "a key beside the stores it opens would make their encryption worthless")
    with night_lock(home.root, as_of="backup", wait=wait):
        name = f"mimamori-backup-{datetime.now(TOKYO):%Y%m%dT%H%M%S}"
        to.mkdir(parents=True, exist_ok=True, mode=0o700)
        folder = to / name
        folder.mkdir(mode=0o700)
        AuditLog(home.audit_log).append("backup", backup=name, user=user, with_keys=with_keys is not None)
        for path in _kept(home):
            target = folder / path.relative_to(home.root)
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if path.suffix == ".db" and home.dagster in path.parents:
                _copy_sqlite(path, target)  # consistent even if the daemon writes a tick meanwhile
            else:
                shutil.copy2(path, target)
        pg = _dump_postgres(folder) if storage_kind() == "postgres" else None
        keys = _copy_keys(home, with_keys / name) if with_keys is not None else None
        files = _write_manifest(folder, home, keys_used=_key_fingerprints(home))
    return Backup(folder, len(files), sum(f["size"] for f in files.values()), keys, pg)


def _copy_sqlite(source: Path, target: Path) -> None:
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def _dump_postgres(folder: Path) -> str:
    """The PostgreSQL instance's dump, by pg_dump when it is here; otherwise the command, written down."""
    url = os.environ[PG_URL_ENV].replace("postgresql+psycopg2://", "postgresql://", 1)
    command = ["pg_dump", "--format=custom", f"--file={folder / PG_DUMP}", url]
    if shutil.which("pg_dump"):
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode == 0:
            return f"pg_dump → {PG_DUMP}"
        problem = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
    else:
        problem = "pg_dump is not installed here"
    (folder / "dagster-instance.pg_dump.txt").write_text(
        f"The Dagster instance is in PostgreSQL and was not dumped ({problem}). Run, as the database's owner:\n"
        f"  pg_dump --format=custom --file={folder / PG_DUMP} <the database of {PG_URL_ENV}>\n")
    return f"not dumped ({problem}): the command to run is in dagster-instance.pg_dump.txt"


def _key_fingerprints(home: Home) -> dict[str, str]:
    found = {p.stem: fingerprint(p.read_text()) for p in sorted(home.keys.glob("*.key"))}
    if os.environ.get(KEY_ENV["restricted_db"]):
        found["restricted_db"] = fingerprint(os.environ[KEY_ENV["restricted_db"]])
    return found


def _copy_keys(home: Home, folder: Path) -> Path:
    folder.mkdir(parents=True, mode=0o700)
    os.chmod(folder.parent, 0o700)
    for key in sorted(home.keys.glob("*.key")):
        fd = os.open(folder / key.name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key.read_text())
    return folder


def _write_manifest(folder: Path, home: Home, keys_used: dict[str, str]) -> dict[str, dict]:
    files = {str(p.relative_to(folder)): {"sha256": sha256(p), "size": p.stat().st_size}
             for p in sorted(folder.rglob("*")) if p.is_file()}
    manifest = {"backup": folder.name, "home": str(home.root), "created": datetime.now(TOKYO).isoformat(),
                "keys_needed": keys_used, "files": files}
    (folder / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n")
    (folder / SUMS).write_text("".join(f"{f['sha256']}  {name}\n" for name, f in files.items()))
    return files


# ------------------------------------------------------------------------------------------------- restore


def verify_backup(folder: Path) -> dict:
    """The manifest, once every file is as it was written; else BackupError naming the first that is not."""
    manifest_path = folder / MANIFEST
    if not manifest_path.exists():
        raise BackupError(f"{folder} is not a mimamori backup (no {MANIFEST}); nothing was restored")
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as e:
        raise BackupError(f"{manifest_path} is damaged ({e}); nothing was restored") from None
    for name, expected in manifest["files"].items():
        path = folder / name
        if not path.is_file():
            raise BackupError(f"the backup is damaged: {name} is missing; nothing was restored")
        if path.stat().st_size != expected["size"] or sha256(path) != expected["sha256"]:
            raise BackupError(f"the backup is damaged: {name} is not the file that was backed up (its sha256 "
                              f"differs from {MANIFEST}); nothing was restored. Use another backup.")
    extra = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()
                   and str(p.relative_to(folder)) not in manifest["files"] and p.name not in (MANIFEST, SUMS))
    if extra:
        raise BackupError(f"the backup holds a file it did not write: {extra[0]}; nothing was restored")
    return manifest


def _keys_for(manifest: dict, folder: Path, keys: Path | None) -> dict[str, str]:
    """Each key the backup's stores need, found in KEYDIR (or KEYDIR/<backup name>) or the environment."""
    found: dict[str, str] = {}
    places = [keys / manifest["backup"], keys] if keys is not None else []
    # the store's key first: without it nothing opens
    for name, wanted in sorted(manifest["keys_needed"].items(), key=lambda item: item[0] != "restricted_db"):
        candidates = [p / f"{name}.key" for p in places if (p / f"{name}.key").is_file()]
        texts = [c.read_text().strip() for c in candidates]
        env = KEY_ENV.get(name)
        if env and os.environ.get(env):
            texts.append(os.environ[env])
        match = next((t for t in texts if fingerprint(t) == wanted), None)
        if match is None:
            what = ("the restricted store could not be opened" if name == "restricted_db"
                    else "the analysts' tokens would all change")
            raise BackupError(f"no key {name} for this backup ({what} without it): give --keys with the folder "
                              f"`mimamori backup --with-keys` wrote ({manifest['backup']}/{name}.key)"
                              + (f" or set {env}" if env else "") + "; nothing was restored")
        found[name] = match
    return found


def restore(folder: Path, root: Path, keys: Path | None = None, user: str = "") -> int:
    """The backup into an empty (or new) HOME, after checking every file and every key; audited."""
    folder = folder.resolve()
    manifest = verify_backup(folder)
    needed = _keys_for(manifest, folder, keys)
    target = Home(root)
    if target.root.exists() and any(target.root.iterdir()):
        raise BackupError(f"{target.root} is not empty: restore into a new or empty folder (a restore never "
                          "overwrites a home); nothing was restored")
    _check_store_opens(folder / target.restricted_store.relative_to(target.root), needed.get("restricted_db"))
    private_home(target.root)
    for name in manifest["files"]:
        path = target.root / name
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.copy2(folder / name, path)
    target.keys.mkdir(mode=0o700, exist_ok=True)
    for name, key in needed.items():
        if name == "restricted_db" and os.environ.get(KEY_ENV[name]) == key:
            continue  # the operator keeps it in the environment
        fd = os.open(target.key(name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key + "\n")
    AuditLog(target.audit_log).append("restored", backup=manifest["backup"], user=user,
                                      manifest_sha256=sha256(folder / MANIFEST))
    return len(manifest["files"])


def _check_store_opens(store: Path, key: str | None) -> None:
    """The restricted store of the backup opens with the key (read-only, in place)."""
    if key is None or not store.exists():
        return
    import duckdb

    from pipelines.core.store import open_encrypted

    try:
        con = open_encrypted(store, key, "restored")
    except duckdb.Error as e:
        raise BackupError(f"the backup's restricted store does not open with the key given ({e}); nothing was "
                          "restored") from None
    con.close()
