"""A dbt-duckdb plugin that attaches the home's encrypted restricted store to dbt's connection.

The store's path comes from MIMAMORI_HOME and its key from HOME/keys/ (or MIMAMORI_DB_KEY) when dbt
connects, not from the profile: so the rendered profile is the same for every home (dbt re-parses the
whole project when it changes: 3 s on each home's first night), and the key is in no rendered profile.
"""

from __future__ import annotations

import os
from pathlib import Path

from dbt.adapters.duckdb.plugins import BasePlugin

from pipelines.core.duckdb_env import limit_memory
from pipelines.core.home import Home
from pipelines.core.keys import secret


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict) -> None:
        self.store = plugin_config.get("store", "restricted")

    def configure_connection(self, conn) -> None:
        home = Path(os.environ["MIMAMORI_HOME"])
        limit_memory(conn, Home(home).spill)
        if self.store == "analysis":  # the lab reads the analysts' store, never writes it
            conn.execute(f"ATTACH '{Home(home).analysis_store}' AS analysis (READ_ONLY)")
            return
        attach_encrypted(conn, Home(home).restricted_store, "restricted",
                         secret(home, "restricted_db", create=False))


def attach_encrypted(conn, path: Path, alias: str, key: str) -> None:
    """ATTACH with the key written into the statement, not bound as a parameter: DuckDB's Python client
    imports pandas for any bound parameter (0.3 s of dbt's start, every other thread waiting on this
    connection). The statement is fixed and the key quoted, and an error never repeats the key."""
    quoted = key.replace("'", "''")
    try:
        conn.execute(f"ATTACH '{path}' AS {alias} (ENCRYPTION_KEY '{quoted}')")
    except Exception as e:  # noqa: BLE001 — re-raised, without the key
        message = str(e).replace(quoted, "***").replace(key, "***")
        raise RuntimeError(f"could not attach {path} as {alias}: {message}") from None
