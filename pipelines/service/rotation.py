"""Key rotation of the restricted store (governance.md rule 5): the store re-encrypted under a new key, the
old key retired to HOME/keys/retired/ (it still opens the backups taken before), audited.

Done under the night lock, in steps that a crash cannot leave half-done: the new store and key are written
beside the old as ``*.rotating``, checked (same tables, same rows), then swapped in; a rotation found
interrupted is finished (the new store opens with the new key) or undone (it does not) by running it again.

The pseudonym key is not rotated here (README, "Keys"): the analysts' tokens are the way they follow a child
night after night and the outcome evaluation joins months by them; a new key would make every child a new
child in the analysts' store. Were it ever exposed, the remedy is a new purpose (a new key, a new store for
analysts, the analysts told), not a rotation.
"""

from __future__ import annotations

import os
import secrets
from datetime import datetime
from pathlib import Path

import duckdb

from pipelines.core.audit import AuditLog
from pipelines.core.clock import TOKYO
from pipelines.core.home import Home
from pipelines.core.keys import ENV as KEY_ENV
from pipelines.core.lock import night_lock
from pipelines.core.store import attach_encrypted, open_encrypted
from pipelines.service.backup import BackupError, fingerprint

NAME = "restricted_db"


class RotationError(BackupError):
    """A key rotation refused, with the reason."""


def _row_counts(con: duckdb.DuckDBPyConnection, alias: str) -> dict[str, int]:
    tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ?",
                         [alias]).fetchall()
    return {f"{s}.{t}": con.execute(f'SELECT count(*) FROM {alias}."{s}"."{t}"').fetchone()[0] for s, t in tables}


def opens(store: Path, key: str) -> bool:
    try:
        open_encrypted(store, key, "probe").close()
        return True
    except duckdb.Error:
        return False


def rotate_store_key(root: Path, user: str = "", wait: float = 0.0) -> dict:
    home = Home(root)
    if os.environ.get(KEY_ENV[NAME]):
        raise RotationError(f"the store's key comes from {KEY_ENV[NAME]}: mimamori cannot change it there. "
                            f"Unset it to keep the key in {home.key(NAME)}, or rotate it in your secret store")
    store, key_file = home.restricted_store, home.key(NAME)
    if not store.exists() or not key_file.exists():
        raise RotationError(f"no restricted store and key under {home.root}: nothing to rotate")
    new_store, new_key_file = store.with_suffix(".duckdb.rotating"), key_file.with_suffix(".key.rotating")
    with night_lock(home.root, as_of="key rotation", wait=wait):
        _finish_or_undo(store, key_file, new_store, new_key_file)
        old_key = key_file.read_text().strip()
        new_key = secrets.token_hex(32)
        fd = os.open(new_key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(new_key + "\n")
            f.flush()
            os.fsync(f.fileno())
        new_store.unlink(missing_ok=True)
        con = open_encrypted(store, old_key, "old")
        try:
            attach_encrypted(con, new_store, "new", new_key)
            con.execute("COPY FROM DATABASE old TO new")
            before, after = _row_counts(con, "old"), _row_counts(con, "new")
        finally:
            con.close()
        if before != after:
            new_store.unlink()
            new_key_file.unlink()
            raise RotationError(f"the re-encrypted copy differs from the store ({len(before)} tables before, "
                                f"{len(after)} after); nothing was changed")
        retired = _swap(store, key_file, new_store, new_key_file, old_key)
        AuditLog(home.audit_log).append("key_rotated", key=NAME, user=user, old=fingerprint(old_key),
                                        new=fingerprint(new_key), tables=len(after), retired=retired.name)
    return {"tables": len(after), "rows": sum(after.values()), "retired": retired,
            "old": fingerprint(old_key), "new": fingerprint(new_key)}


def _swap(store: Path, key_file: Path, new_store: Path, new_key_file: Path, old_key: str) -> Path:
    """The new store in, then the new key in, the old key to keys/retired/ (each step a rename)."""
    retired_dir = key_file.parent / "retired"
    retired_dir.mkdir(mode=0o700, exist_ok=True)
    retired = retired_dir / f"{NAME}.{datetime.now(TOKYO):%Y%m%dT%H%M%S}.key"
    fd = os.open(retired, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(old_key + "\n")
    store.with_suffix(".duckdb.wal").unlink(missing_ok=True)  # (none after a clean close; the copy is whole)
    os.replace(new_store, store)
    os.replace(new_key_file, key_file)
    return retired


def _finish_or_undo(store: Path, key_file: Path, new_store: Path, new_key_file: Path) -> None:
    """A rotation stopped half-way: the store already swapped in opens with the new key (finish), else undo."""
    if not new_key_file.exists():
        new_store.unlink(missing_ok=True)
        return
    new_key = new_key_file.read_text().strip()
    if not new_store.exists() and opens(store, new_key):
        os.replace(new_key_file, key_file)  # stopped between the two renames
    else:
        new_store.unlink(missing_ok=True)
        new_key_file.unlink()
