"""The matching package's definitions: the 児童相談所 list linked to the registry."""

import dagster as dg

from pipelines.matching.assets import jisou_links

defs = dg.Definitions(assets=[jisou_links])
