"""Retention purge on the nightly schedule (governance.md rule 7)."""

import dagster as dg

from pipelines.core import config
from pipelines.core.resources import MimamoriHome, NightLock, run_as_of
from pipelines.core.store import connect
from pipelines.governance.retention import purge_old_folders, purge_removed_persons
from pipelines.rights.requests import access_alerts


@dg.asset(
    key=["governance", "retention_purge"],
    group_name="governance",
    deps=[dg.AssetKey(["exports", "caseworker_lists"]), dg.AssetKey(["analysis", "child_indicators"])],
    kinds={"duckdb"},
    tags={"role": "governance"},
    description="Purges the data of people removed from the registry more than removed_person_days ago, and "
                "exports and quarantine files older than export_days (config/governance.yml); audited. Its "
                "check watches the re-identifications and disclosure reports per user and day.",
    check_specs=[dg.AssetCheckSpec("access_within_limits", asset=["governance", "retention_purge"], description=(
        "No OS user made more re-identifications and disclosure reports in a day than "
        "access_alert.per_user_per_day (governance.yml), since the previous night."))],
)
def retention_purge(context: dg.AssetExecutionContext, home: MimamoriHome,
                    night_lock: NightLock) -> dg.MaterializeResult:
    as_of = run_as_of(context)
    gov = config.governance()
    with connect(home.root) as con:
        report = purge_removed_persons(con, as_of, gov["removed_person_days"])
    folders = purge_old_folders(home.layout.exports_root, as_of, gov["export_days"]) + \
        purge_old_folders(home.layout.quarantine_root, as_of, gov["export_days"])
    home.audit.append("purge", as_of=as_of.isoformat(), persons=report.persons, rows=report.rows,
                      folders=[f.rsplit("/", 2)[-2] + "/" + f.rsplit("/", 1)[-1] for f in folders],
                      removed_person_days=gov["removed_person_days"], export_days=gov["export_days"],
                      run_id=context.run_id)
    alerts = access_alerts(home.audit.entries(), gov["access_alert_per_user_per_day"])
    return dg.MaterializeResult(check_results=[dg.AssetCheckResult(
        check_name="access_within_limits", passed=not alerts, severity=dg.AssetCheckSeverity.WARN,
        description=None if not alerts else "; ".join(
            f"{a['user']}: {a['requests']} requests on {a['day']} (limit {a['limit']})" for a in alerts),
        metadata={"alerts": dg.MetadataValue.json(alerts)})], metadata={
        "persons_purged": report.persons, "rows_deleted": dg.MetadataValue.json(report.rows),
        "folders_deleted": dg.MetadataValue.json(folders), "removed_person_days": gov["removed_person_days"],
        "export_days": gov["export_days"]})
