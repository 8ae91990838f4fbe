"""Linking the records that carry no 宛名番号 — the prefecture's 児童相談所 list — to the registry's children,
probabilistically with Splink on DuckDB (../shared/spec/linkage.md)."""
