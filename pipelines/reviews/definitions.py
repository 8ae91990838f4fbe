"""The reviews' definitions: the caseworkers' returned lists."""

import dagster as dg

from pipelines.reviews.assets import caseworker_reviews

defs = dg.Definitions(assets=[caseworker_reviews])
