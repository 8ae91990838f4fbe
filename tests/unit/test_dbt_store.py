"""The dbt-duckdb plugin that attaches the restricted store runs inside dbt's own process, every night: it
attaches the store with its key, and imports nothing of the ingest (polars, pandera: ≈ 0.9 s before dbt's
first query when it did)."""

import subprocess
import sys

import duckdb
import pytest

SCRIPT = r"""
import os, sys
from pathlib import Path
import duckdb
from pipelines.linkage.dbt_store import Plugin
from pipelines.core.duckdb_env import extension_directory
from pipelines.core.keys import secret

home = Path(sys.argv[1])
(home / "warehouse").mkdir(parents=True)
secret(home, "restricted_db", create=True)
os.environ["MIMAMORI_HOME"] = str(home)
con = duckdb.connect(config={"extension_directory": extension_directory(), "autoinstall_known_extensions": False})
con.execute("LOAD httpfs")
Plugin("pipelines.linkage.dbt_store", {}).configure_connection(con)
con.execute("CREATE TABLE restricted.main.t AS SELECT 42 AS x")
print(con.execute("SELECT x FROM restricted.main.t").fetchone()[0],
      sorted(m for m in ("polars", "pandera", "pipelines.ingest.extracts", "pipelines.core.store", "pandas")
             if m in sys.modules))
"""


def test_the_plugin_attaches_the_encrypted_store_without_importing_the_ingest_or_pandas(tmp_path):
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "home")], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["42", "[]"]
    with pytest.raises(duckdb.Error, match="encrypted|key"):  # and the store it wrote is encrypted
        duckdb.connect().execute(f"ATTACH '{tmp_path / 'home' / 'warehouse' / 'restricted.duckdb'}' AS r (READ_ONLY)")


def test_a_wrong_key_is_named_as_such_and_never_shown(tmp_path):
    from pipelines.core.duckdb_env import extension_directory
    from pipelines.linkage.dbt_store import attach_encrypted

    path = tmp_path / "store.duckdb"
    con = duckdb.connect(config={"extension_directory": extension_directory(), "autoinstall_known_extensions": False})
    con.execute("LOAD httpfs")
    attach_encrypted(con, path, "s", "the right key, with a quote: '")
    con.execute("CREATE TABLE s.t AS SELECT 1 AS x")
    con.execute("DETACH s")
    with pytest.raises(RuntimeError, match="could not attach .*Wrong encryption key") as failed:
        attach_encrypted(con, path, "s", "a wrong key 0123456789")
    assert "0123456789" not in str(failed.value)
    attach_encrypted(con, path, "s", "the right key, with a quote: '")
    assert con.execute("SELECT x FROM s.t").fetchone() == (1,)
