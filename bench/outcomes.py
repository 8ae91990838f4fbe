"""効果検証 against the generator's truth (../shared/spec/outcomes.md): a school year replayed night by night.

    .venv/bin/python bench/outcomes.py --seed 1 --effect 0.3 [--preset kaga] [--as-of 2026-12-05] [--window 3] [--out DIR]

(`--support-effect` is the same as `--effect`, as outcomes.md names it.)

Draws the municipality with a planted support effect D (a supported child's daily absence probability × (1 − D)
after the start) and pupils' passing bad spells, then for each night (the first of each month, then T): the departments deliver, the night
runs, the caseworkers return their reviews of its list (seeds/history.py). Then `mimamori outcomes evaluate`'s
own function on the home, and the truth (answers/outcomes_truth.json). Prints the naive before/after of the
supported children beside the estimate, and last:

    outcomes: estimate E ci [L, H] truth T n_supported A n_comparison B
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from pipelines.core.store import connect  # noqa: E402
from pipelines.nightly import run_nightly  # noqa: E402
from pipelines.outcomes.evaluate import HEADLINE, evaluate_outcomes  # noqa: E402
from seeds.history import SchoolYearHistory, replay  # noqa: E402


def listed_on(home: Path):
    def listed(night: date) -> list[str]:
        with connect(home, read_only=True) as con:
            return [r[0] for r in con.execute("select address_code from marts.flag_list_history where as_of = ?",
                                              [night]).fetchall()]
    return listed


def run(preset: str, seed: int, effect: float, as_of: date, window: int, out: Path) -> dict:
    started = time.perf_counter()
    history = SchoolYearHistory(preset, seed, as_of, out / "municipality", effect)
    home = out / "home"
    home.mkdir(mode=0o700, parents=True, exist_ok=True)

    def night(day: date):
        result = run_nightly(home, history.landing, day, quiet=True)
        if not result.result.success:
            raise SystemExit(f"the night of {day} failed: {result.error}")
        print(f"  night {day}: {result.seconds:.1f} s, supported so far {len(history.support_start)}", flush=True)
        return result

    replay(history, night, listed_on(home))
    truth = history.truth(window)
    evaluation = evaluate_outcomes(home, window)
    h = evaluation.summary["outcomes"][HEADLINE]
    print(f"{preset} seed {seed} D {effect}: {len(history.nights)} nights in {time.perf_counter() - started:.0f} s; "
          f"listed {evaluation.summary['children_listed']}, supported {evaluation.summary['children_supported']}, "
          f"unmatched {h['unmatched']}")
    if h["estimate"] is None:
        print(f"outcomes: too few children (n_supported {h['n_supported']} n_comparison {h['n_comparison']})")
        return h
    print(f"naive before/after of the supported alone: {h['naive']:+.4f} [{h['naive_ci_low']:+.4f}, "
          f"{h['naive_ci_high']:+.4f}] (truth {truth['attendance_rate_effect']:+.4f})")
    print(f"report: {evaluation.folder / 'evaluation.html'}")
    print(f"outcomes: estimate {h['estimate']:+.4f} ci [{h['ci_low']:+.4f}, {h['ci_high']:+.4f}] truth "
          f"{truth['attendance_rate_effect']:+.4f} n_supported {h['n_supported']} n_comparison {h['n_comparison']}")
    return {**h, "truth": truth["attendance_rate_effect"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--effect", "--support-effect", dest="effect", type=float, default=0.3,
                        help="D: a supported child's daily absence probability × (1 − D) after the start")
    parser.add_argument("--preset", default="kaga")
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 12, 5))
    parser.add_argument("--window", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="keep the municipality and the home here")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="mimamori-outcomes-"))
    try:
        run(args.preset, args.seed, args.effect, args.as_of, args.window, out)
    finally:
        if args.out is None:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
