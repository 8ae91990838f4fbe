"""The synthetic municipality's sizes (residents per preset, ../shared/spec/population.md).

A module of its own so that the command line can offer the presets without importing the generator
(numpy, polars and faker: 0.3 s of every ``mimamori`` command, the nightly's too)."""

PRESETS: dict[str, int] = {
    "tiny": 2_000,
    "kaga": 60_000,
    "toda": 140_000,
    "amagasaki": 460_000,
    "fukuoka": 1_600_000,
    "yokohama": 3_750_000,
}
