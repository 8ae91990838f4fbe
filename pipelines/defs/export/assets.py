"""The caseworkers' lists per support office (活用主体), from tonight's flag list."""

import dagster as dg

from pipelines import config
from pipelines.export import write_exports
from pipelines.resources import MimamoriHome, NightLock, run_as_of
from pipelines.warehouse import connect


@dg.asset(
    key=["exports", "caseworker_lists"],
    group_name="caseworker_exports",
    deps=[dg.AssetKey(["marts", "flagged_children"]), dg.AssetKey(["marts", "flag_list_runs"])],
    kinds={"csv", "xlsx"},
    owners=["team:mimamori-data"],
    retry_policy=dg.RetryPolicy(max_retries=2, delay=5),
    tags={"role": "export"},
    description="One CSV (UTF-8 with BOM) and one .xlsx per support office in exports/<as-of>/, with exactly "
                "the columns of flag-rules.md and a 判定情報 sheet; written aside and swapped in whole.",
)
def caseworker_lists(context: dg.AssetExecutionContext, home: MimamoriHome,
                     night_lock: NightLock) -> dg.MaterializeResult:
    as_of = run_as_of(context)
    with connect(home.root, read_only=True) as con:
        files = write_exports(con, home.root / "exports", home.landing_dir, as_of, config.rules(),
                              config.offices(), context.run_id)
    for f in files:
        home.audit.append("export_written", office=f.office.code, file=f.path.name, rows=f.rows, sha256=f.sha256,
                          run_id=context.run_id)
    per_office = {f"{f.office.code} {f.office.name}": f.rows for f in files if f.path.suffix == ".csv"}
    return dg.MaterializeResult(metadata={
        "as_of": as_of.isoformat(),
        "folder": dg.MetadataValue.path(str(home.exports_dir(as_of))),
        "rows_by_office": dg.MetadataValue.json(per_office),
        "children_listed": sum(per_office.values()),
        "rule_version": config.rules()["version"],
        "files": dg.MetadataValue.json([{"file": f.path.name, "rows": f.rows, "sha256": f.sha256} for f in files]),
    })
