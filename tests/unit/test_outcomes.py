"""効果検証's statistics against the generator's truth (../shared/spec/outcomes.md).

A school year of the kaga municipality drawn with a planted effect of support and pupils' passing bad spells,
its nights simulated without the pipeline (a list of S1 alone; seeds/history.py SchoolYearHistory.simulate),
then the estimator the `mimamori outcomes evaluate` command uses. The whole replay through the real nights
is bench/outcomes.py (its figures in bench/README.md); here, the statistics on three seeds in seconds.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import date
from functools import cache
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from pipelines.analysis.judged import share_judged
from pipelines.core import config
from pipelines.outcomes.estimate import Design, Estimate, Panel, design, estimate, strata
from seeds.history import SchoolYearHistory, month_nights

AS_OF = date(2026, 12, 5)
WINDOW = 3


@cache
def simulated(seed: int, effect: float) -> tuple[dict, Design]:
    """The truth and the matching design of one simulated year (answers written to a temporary folder)."""
    history = SchoolYearHistory("kaga", seed, AS_OF, Path(tempfile.mkdtemp(prefix="mimamori-outcomes-")), effect)
    children, months = history.simulate(config.rules()["signals"]["S1"]["min_days"])
    truth = history.truth(WINDOW)
    shutil.rmtree(history.out)
    panel = Panel(strata(children), months, WINDOW, date(AS_OF.year, AS_OF.month, 1))
    return truth, design(panel, "attendance_rate", panel.children.filter(pl.col("support_start").is_not_null()))


def evaluated(seed: int, effect: float) -> tuple[dict, Estimate]:
    truth, d = simulated(seed, effect)
    return truth, estimate(d, 5)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_interval_holds_the_planted_effect_and_zero_when_there_is_none(seed):
    truth, supported = evaluated(seed, 0.3)
    assert truth["attendance_rate_effect"] > 0.02 and supported.n_supported >= 50 and supported.n_comparison >= 50
    assert supported.ci_low <= truth["attendance_rate_effect"] <= supported.ci_high, (truth, supported)
    none, nothing = evaluated(seed, 0.0)
    assert none["attendance_rate_effect"] == 0
    assert nothing.ci_low <= 0 <= nothing.ci_high, nothing
    # children flagged at their worst improve anyway: the supported children's own before/after says there was
    # an effect where none was planted, and overstates the planted one
    assert nothing.naive_ci_low > 0 and nothing.naive > nothing.ci_high
    assert supported.naive > truth["attendance_rate_effect"] + 0.05


def test_the_nights_are_the_first_of_each_month_then_the_as_of_date():
    nights = month_nights(date(2026, 4, 1), date(2026, 12, 5))
    assert nights[0] == date(2026, 5, 1) and nights[-2] == date(2026, 12, 1) and nights[-1] == AS_OF
    assert [n.month for n in nights[:-1]] == [5, 6, 7, 8, 9, 10, 11, 12] and all(n.day == 1 for n in nights[:-1])


def test_support_takes_away_the_share_d_of_a_supported_pupils_absences_after_its_start_only(tmp_path):
    history = SchoolYearHistory("tiny", 12, AS_OF, tmp_path, 0.5)
    days = history.world.attendance
    heavy = days.group_by("pupil").agg((pl.col("status") == 1).sum().alias("absent")).sort("absent").row(-1, named=True)
    code = next(c for c, p in history.pupil_of.items() if p == heavy["pupil"])
    start = int(days["day"].min()) + 60
    history.support_start[code] = start
    after = history.with_support(days.filter(pl.col("pupil") == heavy["pupil"]))
    before = days.filter(pl.col("pupil") == heavy["pupil"])
    unchanged = after.filter(pl.col("day") <= start)
    assert unchanged.equals(before.filter(pl.col("day") <= start))
    later = before.filter(pl.col("day") > start)
    expected = int(((later["status"] == 1) & (later["draw"] < later["p_absent"] * 0.5)).sum())
    assert int((after.filter(pl.col("day") > start)["status"] == 1).sum()) == expected < int((later["status"] == 1).sum())


@pytest.mark.slow
def test_groups_under_five_are_not_estimated():
    _, d = simulated(1, 0.3)
    assert not estimate(d, 5, subset=range(5)).suppressed
    few = estimate(d, 5, subset=[0, 1, 2, 3])
    assert few.suppressed and few.estimate is None and few.ci_low is None and few.n_supported == 4


def test_the_share_judged_per_signal_has_a_wilson_interval_and_hides_small_cells():
    reviews = pl.DataFrame({
        "child_token": [f"t{i}" for i in range(34)],
        "reviewed_on": [date(2026, 11, 1)] * 34,
        "result": ["要支援"] * 6 + ["見守り"] * 14 + ["要支援"] * 4 + ["要支援"] * 2 + ["見守り"] * 8,
        "listed_signals": [["S1", "E3"]] * 20 + [["C2"]] * 4 + [["H1"]] * 10})
    table = {r["signal"]: r for r in share_judged(reviews, 5).to_dicts()}
    assert table["S1"]["reviewed"] == 20 and table["S1"]["judged"] == 6 and table["S1"]["share"] == pytest.approx(0.3)
    # Wilson's interval for 6 of 20, by its formula
    z, p, n = 1.959964, 0.3, 20
    centre, half = (p + z * z / (2 * n)) / (1 + z * z / n), z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert table["S1"]["ci_low"] == pytest.approx(centre - half, abs=1e-4)
    assert table["S1"]["ci_high"] == pytest.approx(centre + half, abs=1e-4)
    assert table["C2"]["reviewed"] is None and table["C2"]["share"] is None  # 4 children: not shown
    assert table["H1"]["reviewed"] == 10 and table["H1"]["judged"] is None and table["H1"]["share"] is None  # 2 judged
