"""How dbt's nodes appear in Dagster: keys, groups and kinds, in one place."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

FOLDER_GROUPS = {"staging": "staging", "intermediate": "linkage", "marts": "linkage"}


class MimamoriTranslator(DagsterDbtTranslator):
    """Models keyed by their schema (staging/…, intermediate/…, marts/…); sources by their meta asset key,
    so the lineage runs from each department's raw asset through dbt to the list."""

    def __init__(self) -> None:
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: Any) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] != "model":
            return spec
        folder = props["fqn"][1] if len(props["fqn"]) > 2 else "marts"
        return spec.replace_attributes(
            key=dg.AssetKey([folder, props["name"]]),
            group_name=FOLDER_GROUPS.get(folder, "linkage"),
            owners=["team:mimamori-data"],
        ).merge_attributes(tags={"role": "linkage"}, kinds={"sql"})
