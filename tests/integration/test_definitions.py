"""The code location loads, the lineage runs from every department file to the list, and the dbt unit
tests (signals at their boundaries) pass against a real DuckDB file."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from pipelines.linkage.vars import as_of_env, dbt_vars
from pipelines.nightly import dbt_environment
from schemas.contract import EXTRACTS
from tests.helpers import AS_OF


def test_definitions_load_with_one_job_and_every_extract_asset():
    from pipelines.definitions import defs

    job = defs.resolve_job_def("nightly")
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {f"raw/{name}" for name in EXTRACTS} <= keys
    assert {"marts/flagged_children", "marts/child_signals", "staging/stg_school__attendance"} <= keys
    assert job.executor_def.name == "in_process"  # DuckDB has one writer


def test_lineage_from_each_department_file_to_the_flag_list():
    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    upstream = graph.get_ancestor_asset_keys(dg.AssetKey(["marts", "flagged_children"]))
    for name in EXTRACTS:
        assert dg.AssetKey(["raw", name]) in upstream, name


def test_dbt_tests_are_asset_checks():
    from pipelines.definitions import defs

    checks = {f"{k.asset_key.to_user_string()}:{k.name}" for k in defs.resolve_asset_graph().asset_check_keys}
    assert "staging/stg_registry__residents:unique_stg_registry__residents_address_code" in checks
    assert "raw/jumin:file_accepted" in checks


def test_dbt_unit_tests_pass_on_the_nightly_warehouse(nightly_home, tmp_path):
    project = Path(__file__).resolve().parents[2] / "dbt_project"
    dbt = Path(sys.executable).with_name("dbt")
    env = {**os.environ, "MIMAMORI_HOME": str(nightly_home["home"]), **dbt_environment(nightly_home["home"]),
           **as_of_env(AS_OF)}
    out = subprocess.run([str(dbt), "test", "--select", "test_type:unit", "--project-dir", str(project),
                          "--profiles-dir", str(project), "--vars", dbt_vars(),
                          "--target-path", str(tmp_path / "target")],  # the project's target is shared by workers
                         env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:]
    assert "PASS=" in out.stdout and "ERROR=0" in out.stdout
