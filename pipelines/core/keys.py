"""Secrets of one installation (governance.md rules 2 and 5), kept in HOME/keys/ with owner-only
permissions, or given through the environment. Never in the repo, a store for analysts, or a log.

- ``restricted_db``: the encryption key of warehouse/restricted.duckdb (or MIMAMORI_DB_KEY)
- ``pseudonym_<purpose>``: the HMAC key that makes the tokens of one purpose (analysis, research, …);
  a second purpose gets a different key, so its tokens cannot be joined with the first's.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pipelines.core.home import Home

ENV = {"restricted_db": "MIMAMORI_DB_KEY"}


def key_path(home: Path, name: str) -> Path:
    return Home(home).key(name)


def secret(home: Path, name: str, create: bool = True) -> str:
    """The named secret: from its environment variable, else HOME/keys/<name>.key, created on first use."""
    env = ENV.get(name)
    if env and os.environ.get(env):
        return os.environ[env]
    path = key_path(home, name)
    if not path.exists():
        if not create:
            raise FileNotFoundError(f"no key {name}: expected {path}" + (f" or ${env}" if env else ""))
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # owner-only from the first byte
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
    return path.read_text().strip()
