"""The core every capability stands on, importing none of them: configuration, the home's layout, the
restricted store's connection and DuckDB settings, audit, keys, the night lock, failpoints, the console, and the
Dagster resources every asset shares."""
