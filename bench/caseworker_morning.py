"""A caseworker's morning, measured: the first list, a round of reviews of about half of it, the list
after, and the work queue two weeks on. Real nights on a generated municipality (kaga by default).

    .venv/bin/python bench/caseworker_morning.py [--preset kaga] [--seed 20261130] [--share 0.5]

The reviews are drawn at random (seeded) in these proportions: 要支援 15 %, 見守り 35 %, 支援不要 40 %,
支援中 5 %, 対象外 5 %; the reviewed rows are written back into the office's own xlsx with openpyxl, as a
caseworker would in Excel.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import openpyxl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipelines.nightly import run_nightly  # noqa: E402
from seeds.generator import generate  # noqa: E402

RESULTS = {"要支援": 0.15, "見守り": 0.35, "支援不要": 0.40, "支援中": 0.05, "対象外": 0.05}


def listed(home: Path, as_of: date) -> list[dict]:
    rows = []
    for xlsx in sorted((home / "exports" / as_of.isoformat()).glob("*.xlsx")):
        ws = openpyxl.load_workbook(xlsx, read_only=True)["見守りリスト"]
        it = ws.iter_rows(values_only=True)
        header = next(it)
        rows += [dict(zip(header, r)) for r in it]
    return rows


def review_half(home: Path, landing: Path, as_of: date, share: float, rng: random.Random) -> dict[str, int]:
    (landing / "returns").mkdir(exist_ok=True)
    drawn = {k: 0 for k in RESULTS}
    for xlsx in sorted((home / "exports" / as_of.isoformat()).glob("*.xlsx")):
        wb = openpyxl.load_workbook(xlsx)
        ws = wb["見守りリスト"]
        header = [c.value for c in ws[1]]
        col = {h: header.index(h) + 1 for h in ("確認日", "確認結果", "確認者")}
        for row in range(2, ws.max_row + 1):
            if rng.random() >= share:
                continue
            result = rng.choices(list(RESULTS), weights=list(RESULTS.values()))[0]
            drawn[result] += 1
            ws.cell(row, col["確認日"]).value = as_of
            ws.cell(row, col["確認結果"]).value = result
            ws.cell(row, col["確認者"]).value = f"K{rng.randint(1, 12):03d}"
        wb.save(landing / "returns" / xlsx.name)
    return drawn


def counts(night) -> dict:
    s = night.summary
    flagged, reviews = s.get("flagged", {}), s.get("reviews", {})
    queue = reviews.get("queue_by_office", {})
    return {"listed": sum(flagged.values()), "新規": flagged.get("新規", 0), "継続": flagged.get("継続", 0),
            "再掲": flagged.get("再掲", 0), "left off by a review": reviews.get("left_off", 0),
            "awaiting review": sum(q["awaiting"] for q in queue.values()),
            "overdue": sum(q["overdue"] for q in queue.values()), "children": s.get("children", 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="kaga")
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--share", type=float, default=0.5, help="share of each office's list reviewed")
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 11, 30))
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        out, home = Path(tmp) / "m", Path(tmp) / "home"
        generate(args.preset, args.seed, args.as_of, out, days=1)
        landing = out / "landing"
        first_day, second_day, later = args.as_of - timedelta(days=1), args.as_of, args.as_of + timedelta(days=15)
        started = time.perf_counter()
        first = run_nightly(home, landing, first_day, quiet=True)
        first_rows = listed(home, first_day)
        drawn = review_half(home, landing, first_day, args.share, rng)
        second = run_nightly(home, landing, second_day, quiet=True)
        second_rows = listed(home, second_day)
        supported = sum(1 for r in second_rows if r["前回確認結果"] in ("要支援", "支援中"))
        third = run_nightly(home, landing, later, quiet=True)
        seconds = time.perf_counter() - started
        assert first.result.success and second.result.success and third.result.success
    print(f"{args.preset} (seed {args.seed}): a caseworker's morning, {args.share:.0%} of the first list reviewed "
          f"({seconds:.0f} s for three nights)\n")
    print(f"  reviews written back: {sum(drawn.values())} of {len(first_rows)} listed — "
          + ", ".join(f"{k} {v}" for k, v in drawn.items()))
    rows = [("first list", first_day, counts(first)), ("after one round of reviews", second_day, counts(second)),
            ("15 days later, no new review", later, counts(third))]
    keys = ["listed", "新規", "継続", "再掲", "left off by a review", "awaiting review", "overdue"]
    print(f"\n  {'night':<30} {'as of':<11} " + " ".join(f"{k:>20}" for k in keys))
    for label, day, c in rows:
        print(f"  {label:<30} {day!s:<11} " + " ".join(f"{c[k]:>20,}" for k in keys))
    print(f"\n  on the second list, shown as 支援中 because of a 要支援/支援中 review: {supported}")
    print(f"  children in the population: {counts(second)['children']:,}")


if __name__ == "__main__":
    main()
