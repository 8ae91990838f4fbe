"""The linkage's definitions: the dbt models, their tests as checks."""

import dagster as dg

from pipelines.linkage.assets import mimamori_dbt_models

defs = dg.Definitions(assets=[mimamori_dbt_models])
