"""The code location loads, and the lineage runs from every department file to the list (the dbt unit tests:
tests/unit/test_dbt_unit_tests.py)."""

import dagster as dg

from schemas.contract import EXTRACTS


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


def test_every_check_that_can_warn_says_what_to_look_at():
    from pipelines.definitions import defs
    from pipelines.quality.advice import GENERIC, advice

    checks = [f"{k.asset_key.to_user_string()}:{k.name}" for k in defs.resolve_asset_graph().asset_check_keys]
    assert len(checks) > 20
    unexplained = [c for c in checks if advice(c) == GENERIC]
    assert not unexplained, unexplained
