"""The lists' definitions: the caseworkers' lists as one asset."""

import dagster as dg

from pipelines.lists.assets import caseworker_lists

defs = dg.Definitions(assets=[caseworker_lists])
