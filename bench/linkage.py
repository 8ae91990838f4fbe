"""How well the 児童相談所 list links, against the generator's truth (../shared/spec/linkage.md, "Measured").

    .venv/bin/python bench/linkage.py --preset toda [--seed 7] [--as-of 2026-11-30] [--out DIR]

Generates the municipality (or reuses DIR when it holds one for the same preset, seed and date), reads
jisou and jumin through the ingest's own reading and pandera validation, then times the linkage step alone
(prepare, Splink's training and scoring, the bands) and measures it: precision and recall of the automatic
links, the share sent to review and how many of those are the true person, records with no link, twins
merged, and per kind of mess how its records ended. The same for the exact-match baseline (kana + birth
date). Memory is the process's resident set, sampled while the step runs. Last line:

    linkage: precision P recall R review S% twins_merged T seconds X
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

import polars as pl  # noqa: E402

from pipelines.core import config  # noqa: E402
from pipelines.ingest.extracts import landing_files, read_extract, validate  # noqa: E402
from pipelines.matching.link import run_linkage  # noqa: E402
from pipelines.matching.model import Thresholds, prepare_residents  # noqa: E402
from seeds.generator import generate  # noqa: E402


def municipality(preset: str, seed: int, as_of: date, out: Path) -> Path:
    stamp = out / "answers" / "generation.json"
    if stamp.exists():
        g = json.loads(stamp.read_text())
        if (g["preset"], g["seed"], g["as_of"]) == (preset, seed, as_of.isoformat()):
            return out
    generate(preset, seed, as_of, out)
    return out


def typed(landing: Path, name: str, as_of: date) -> pl.DataFrame:
    file = landing_files(landing, as_of)[name][-1]
    v = validate(read_extract(file), as_of)
    if v.rows_quarantined:
        print(f"  {file.name}: {v.rows_quarantined} rows quarantined ({v.reasons})")
    return v.valid


def score(links: pl.DataFrame, truth: pl.DataFrame) -> dict:
    """links: case_number, band, address_code. Precision/recall of the band 'link' against the truth."""
    m = links.join(truth, on="case_number", suffix="_true")
    linked = m.filter(pl.col("band") == "link")
    correct = linked.filter(pl.col("address_code") == pl.col("address_code_true")).height
    findable = m.filter(pl.col("address_code_true").is_not_null()).height
    review = m.filter(pl.col("band") == "review")
    twins = m.filter(pl.col("messes").str.contains("twin") & (pl.col("band") == "link"))
    merged = twins.group_by("address_code").agg(pl.col("address_code_true").n_unique().alias("n")).filter(
        pl.col("n") > 1).height
    return {
        "records": m.height, "linked": linked.height, "correct": correct, "findable": findable,
        "precision": correct / linked.height if linked.height else 1.0,
        "recall": correct / findable if findable else 1.0,
        "review": review.height, "review_share": review.height / max(m.height, 1),
        "review_true": review.filter(pl.col("address_code") == pl.col("address_code_true")).height,
        "none": m.filter(pl.col("band") == "none").height, "twins_merged": merged,
    }


def exact_baseline(jisou: pl.DataFrame, jumin: pl.DataFrame, as_of: date, max_age: int) -> pl.DataFrame:
    """Exact match on kana (NFKC, spaces removed only) and birth date; a record with more than one match
    is left unlinked."""
    def key(frame: pl.DataFrame, kana_column: str) -> pl.Expr:
        return frame[kana_column].str.normalize("NFKC").str.replace_all(r"\s+", "")
    cases = jisou.select("case_number", "birth_date", k=key(jisou, "full_name_kana"))
    people = prepare_residents(jumin, as_of, max_age).select(address_code="unique_id", birth_date="birth_date")
    people = people.join(jumin.select("address_code", k=key(jumin, "full_name_kana")), on="address_code")
    hits = cases.join(people, on=["k", "birth_date"]).filter(pl.len().over("case_number") == 1)
    return cases.select("case_number").join(hits.select("case_number", "address_code"), on="case_number",
                                            how="left").with_columns(
        band=pl.when(pl.col("address_code").is_not_null()).then(pl.lit("link")).otherwise(pl.lit("none")))


def by_mess(links: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    m = links.join(truth, on="case_number", suffix="_true").with_columns(
        outcome=pl.when(pl.col("band") == "link").then(
            pl.when(pl.col("address_code") == pl.col("address_code_true")).then(pl.lit("linked right"))
            .otherwise(pl.lit("linked WRONG"))).otherwise(pl.col("band")),
        mess=pl.col("messes").str.split(";"))
    return m.explode("mess").with_columns(pl.col("mess").replace("", "(none)")).pivot(
        on="outcome", index="mess", values="case_number", aggregate_function="len").fill_null(0).sort("mess")


class PeakRss:
    """The process's resident memory, sampled every 20 ms while a step runs: the step's own peak, apart
    from the generation and reading before it (ru_maxrss keeps the whole process's)."""

    def __init__(self):
        import threading
        self.before = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._rss())

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="toda")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 11, 30))
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    out = municipality(args.preset, args.seed, args.as_of, args.out or Path(f"/tmp/mimamori-bench-linkage-{args.preset}"))
    landing = out / "landing"
    jisou, jumin = typed(landing, "jisou", args.as_of), typed(landing, "jumin", args.as_of)
    truth = pl.read_csv(out / "answers" / "jisou_truth.csv", schema_overrides={"address_code": pl.String})
    thresholds = Thresholds.from_rules(config.rules())

    with PeakRss() as rss:
        started = time.perf_counter()
        result = run_linkage(jisou, jumin, args.as_of, thresholds)
        seconds = time.perf_counter() - started

    s = score(result.decisions, truth)
    base = score(exact_baseline(jisou, jumin, args.as_of, thresholds.candidates_max_age), truth)
    print(f"linkage bench — {args.preset} seed {args.seed}, T={args.as_of}: {s['records']:,} records of the centre, "
          f"{result.residents_compared:,} registry persons compared, {result.pairs.height:,} candidate pairs scored")
    for name, r in (("splink", s), ("exact kana+birth", base)):
        print(f"  {name:<17} precision {r['precision']:.2%} ({r['correct']}/{r['linked']})  recall "
              f"{r['recall']:.2%} (of {r['findable']} in the registry)  review {r['review']} "
              f"({r['review_share']:.1%}, {r['review_true']} of them the true person)  none {r['none']}  "
              f"twins merged {r['twins_merged']}")
    print(f"  linkage step {seconds:.1f} s; memory: {rss.before / 2**20:,.0f} MB held before it (the extracts "
          f"read), {rss.peak / 2**20:,.0f} MB at its peak (+{(rss.peak - rss.before) / 2**20:,.0f} MB)")
    with pl.Config(tbl_rows=30, tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True):
        print(by_mess(result.decisions, truth))
    print(f"linkage: precision {s['precision']:.4f} recall {s['recall']:.4f} review {s['review_share']:.1%} "
          f"twins_merged {s['twins_merged']} seconds {seconds:.1f}")


if __name__ == "__main__":
    main()
