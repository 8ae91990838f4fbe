"""What every DuckDB connection of mimamori shares: the extensions' folder, the memory limit, the spill folder.

Kept apart from ``pipelines.core.store`` because dbt's own process imports it too (the plugin in
``pipelines/linkage/dbt_store.py``): the warehouse module brings polars, pandera and the ingest with it, which cost
dbt ≈ 0.9 s of importing before its first query, every night.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import duckdb
import duckdb_ext

from pipelines.core.config import operations


def extension_directory() -> str:
    """The DuckDB extensions shipped by the duckdb-ext-* packages (nothing is downloaded at run time)."""
    return os.path.join(list(duckdb_ext.__path__)[0], "extensions")


def connection_config() -> dict:
    """The configuration of a DuckDB connection that opens the encrypted store: the packaged extensions
    only, none downloaded or loaded implicitly.

    DuckDB checks an extension's signature at every LOAD by hashing the file: httpfs is 25 MB, 35–40 ms
    a connection, and a night opens the store some fifteen times in its own process. The first connection
    of a process checks it (``verify_extensions``, which raises if the file fails); later connections load
    the same checked file without hashing it again.
    """
    directory = extension_directory()
    verify_extensions(directory)
    return {"extension_directory": directory, "autoinstall_known_extensions": False,
            "autoload_known_extensions": False, "allow_unsigned_extensions": True}


@functools.cache
def verify_extensions(directory: str) -> None:
    """LOAD httpfs from ``directory`` with DuckDB's signature check (once per process: cached)."""
    con = duckdb.connect(config={"extension_directory": directory, "autoinstall_known_extensions": False,
                                 "autoload_known_extensions": False})
    try:
        con.execute("LOAD httpfs")
    finally:
        con.close()


def limit_memory(con: duckdb.DuckDBPyConnection, spill: Path) -> None:
    """DuckDB's memory limit from config/operations.yml (its default is 80 % of the machine), spilling
    beyond it to ``spill`` (owner-only: the rows there are the store's)."""
    spill.mkdir(mode=0o700, parents=True, exist_ok=True)
    con.execute(f"SET memory_limit = '{operations().get('duckdb_memory_limit', '1GB')}'")
    con.execute(f"SET temp_directory = '{spill}'")
