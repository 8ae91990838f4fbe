"""A dbt-duckdb plugin that attaches the home's encrypted restricted store to dbt's connection.

The store's path and key come from the environment (MIMAMORI_HOME, MIMAMORI_DB_KEY) when dbt connects,
not from the profile: so the rendered profile is the same for every home (dbt re-parses the whole
project when it changes: 3 s on each home's first night), and the key is in no rendered profile at all.
"""

from __future__ import annotations

import os
from pathlib import Path

from dbt.adapters.duckdb.plugins import BasePlugin


class Plugin(BasePlugin):
    def configure_connection(self, conn) -> None:
        store = Path(os.environ["MIMAMORI_HOME"]) / "warehouse" / "restricted.duckdb"
        conn.execute(f"ATTACH '{store}' AS restricted (ENCRYPTION_KEY $key)",
                     {"key": os.environ.get("MIMAMORI_DB_KEY", "")})
