"""The rights' definitions: residents' requests read, then applied to the store."""

import dagster as dg

from pipelines.rights.assets import residents_requests, rights_applied

defs = dg.Definitions(assets=[residents_requests, rights_applied])
