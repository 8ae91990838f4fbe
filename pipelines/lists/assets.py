"""The caseworkers' lists per support office (活用主体), from tonight's flag list, and the work queue of
reviews they owe (../shared/spec/reviews.md)."""

import dagster as dg

from pipelines.core import config
from pipelines.core.resources import MimamoriHome, NightLock, run_as_of
from pipelines.core.store import connect
from pipelines.lists.export import offices, review_counts, write_exports

LISTS = dg.AssetKey(["exports", "caseworker_lists"])


@dg.asset(
    key=LISTS,
    group_name="caseworker_exports",
    deps=[dg.AssetKey(["marts", "flagged_children"]), dg.AssetKey(["marts", "flag_list_runs"]),
          dg.AssetKey(["marts", "review_queue"]), dg.AssetKey(["marts", "reviews_left_off"])],
    kinds={"csv", "xlsx"},
    owners=["team:mimamori-data"],
    retry_policy=dg.RetryPolicy(max_retries=2, delay=5),
    tags={"role": "export"},
    description="One CSV (UTF-8 with BOM) and one .xlsx per support office in exports/<as-of>/, with exactly "
                "the columns of flag-rules.md (the last three for the caseworkers' review) and a 判定情報 sheet; "
                "written aside and swapped in whole.",
    check_specs=[dg.AssetCheckSpec("reviews_overdue", asset=LISTS, description=(
        "No listed child awaits a caseworker's review longer than review.due_days (the work queue, per office)."))],
)
def caseworker_lists(context: dg.AssetExecutionContext, home: MimamoriHome,
                     night_lock: NightLock) -> dg.MaterializeResult:
    as_of = run_as_of(context)
    rules = config.rules()
    with connect(home.root, read_only=True) as con:
        files = write_exports(con, home.layout.exports(as_of), home.landing_dir, as_of, rules, config.offices(),
                              context.run_id)
        queue = {f"{o.code} {o.name}": review_counts(con, as_of, o) for o in offices(config.offices())}
    for f in files:
        home.audit.append("export_written", office=f.office.code, file=f.path.name, rows=f.rows, sha256=f.sha256,
                          run_id=context.run_id)
    per_office = {f"{f.office.code} {f.office.name}": f.rows for f in files if f.path.suffix == ".csv"}
    overdue = {office: c.overdue for office, c in queue.items() if c.overdue}
    return dg.MaterializeResult(
        metadata={
            "as_of": as_of.isoformat(),
            "folder": dg.MetadataValue.path(str(home.layout.exports(as_of))),
            "rows_by_office": dg.MetadataValue.json(per_office),
            "children_listed": sum(per_office.values()),
            "left_off_by_review": sum(c.left_off for c in queue.values()),
            "awaiting_review": sum(c.awaiting for c in queue.values()),
            "overdue_by_office": dg.MetadataValue.json(overdue),
            "rule_version": rules["version"],
            "files": dg.MetadataValue.json([{"file": f.path.name, "rows": f.rows, "sha256": f.sha256} for f in files]),
        },
        check_results=[dg.AssetCheckResult(
            check_name="reviews_overdue", passed=not overdue, severity=dg.AssetCheckSeverity.WARN,
            description=None if not overdue else "overdue reviews (listed, not reviewed within "
            f"{rules['review']['due_days']} days): " + ", ".join(f"{o}: {n}" for o, n in overdue.items()),
            metadata={"overdue_by_office": dg.MetadataValue.json(overdue)})])
