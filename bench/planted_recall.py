"""How much of what the generator planted does the nightly list find, and how much of the list was planted?

    .venv/bin/python bench/planted_recall.py --preset toda --seed 1 --as-of 2026-11-30

Generates the municipality, runs the whole nightly in process, and compares marts.flagged_children
with answers/planted_children.csv. Prints figures; asserts nothing (the rules are not tuned to them).
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import date
from pathlib import Path

import polars as pl

from pipelines.core.store import connect
from pipelines.nightly import run_nightly
from seeds.generator import generate


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="toda")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 11, 30))
    p.add_argument("--workdir", default=None, help="keep the files here instead of a temporary folder")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.workdir or tmp)
        generated = generate(args.preset, args.seed, args.as_of, work / "municipality", days=0)
        run = run_nightly(work / "home", Path(generated.landing), args.as_of, quiet=True)
        planted = pl.read_csv(Path(generated.answers) / "planted_children.csv", schema_overrides={"宛名番号": pl.String})
        with connect(work / "home", read_only=True) as con:
            flagged = con.execute("select address_code, domains from marts.flagged_children").pl()
            children = con.execute("select count(*) from marts.child_signals").fetchone()[0]
    found = planted.join(flagged, left_on="宛名番号", right_on="address_code", how="inner")
    print(f"{args.preset} (seed {args.seed}, as of {args.as_of}); nightly {'ok' if run.result.success else 'FAILED'} "
          f"in {run.seconds:.0f} s")
    print(f"  children in the population        {children:>8,}")
    print(f"  planted multi-domain children     {planted.height:>8,}")
    print(f"  flagged children (the list)       {flagged.height:>8,}  ({flagged.height / children:.2%} of children)")
    print(f"  planted and flagged               {found.height:>8,}")
    print(f"  share of planted the list finds   {found.height / max(planted.height, 1):>8.1%}")
    print(f"  share of the list that was planted {found.height / max(flagged.height, 1):>7.1%}")
    missed = planted.join(flagged, left_on="宛名番号", right_on="address_code", how="anti")
    if missed.height:
        print("  planted but not flagged, by planted domains:",
              dict(missed.group_by("planted_domains").len().sort("len", descending=True).iter_rows()))


if __name__ == "__main__":
    main()
