"""The exports' definitions: the caseworkers' lists."""

import dagster as dg

from pipelines.exports.assets import caseworker_lists

defs = dg.Definitions(assets=[caseworker_lists])
