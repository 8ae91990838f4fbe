"""dbt's command line for the nightly (console script ``mimamori-dbt``), exiting without the teardown.

The same command as ``dbt`` (``dbt.cli.main.cli``), but once dbt is done its DuckDB database is closed
(the restricted store checkpointed and detached, as at any exit) and the process ends without freeing
dbt's modules one by one: 0.5 s of the dbt step that the night waited for (dagster-dbt waits for the
process to end), after the last model was written.
"""

from __future__ import annotations


def main() -> None:
    from pipelines.cli import collect_cycles_less_often, exit_without_teardown

    collect_cycles_less_often()
    from dbt.cli.main import cli

    try:
        cli()  # click in standalone mode: always ends in SystemExit
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    close_duckdb()
    exit_without_teardown(code)


def close_duckdb() -> None:
    """dbt-duckdb's database closed, as the interpreter's teardown would have closed it."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # another adapter (spark): nothing of ours to close
        return
    with DuckDBConnectionManager._LOCK:
        env, DuckDBConnectionManager._ENV = DuckDBConnectionManager._ENV, None
    if env is not None:
        env.close()


if __name__ == "__main__":
    main()
