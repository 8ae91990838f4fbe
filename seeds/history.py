"""A school year as it unfolds, for 効果検証 (../shared/spec/outcomes.md).

The municipality is drawn once for the whole year (with some pupils' passing bad spells, seeds/generator.py);
then, night by night on the first of each month, this writes what the departments would have delivered by then — the
snapshots of that day and that month's attendance — and, after the night has made its list, the caseworkers'
returns: most newly listed children are reviewed within three weeks, some judged 要支援 (support starts on the
review's 確認日), some 見守り, some never returned. From a supported child's start on, each school day's
absence probability is multiplied by 1 − D (``effect``): the planted effect of support. The truth, the effect
that implies on the supported children's monthly attendance rate, goes to ``answers/outcomes_truth.json``.

Who is supported is drawn at random among the reviewed (so that a comparison of children listed in the same
weeks can find the effect); children flagged during a passing spell improve on their own, so that the
supported children's before/after alone overstates the effect.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from seeds.generator import EPOCH, ExtractWriter, MunicipalityGenerator, Rates, _days, school_year_start, write_csv

RETURNED = 0.8  # of newly listed children, the share whose review comes back
SUPPORTED = 0.45  # of the returned reviews, the share judged 要支援 (the rest 見守り)
STAFF_CODES = ("CW01", "CW02", "CW03")
RETURNS_HEADER = ("宛名番号", "判定基準日", "確認日", "確認結果", "確認者")


def month_nights(first: date, last: date) -> list[date]:
    """The first day of each month after ``first``'s, up to ``last``, then ``last``: S1 counts the last complete
    calendar month, so the night of the 1st is the first to see a month's absences."""
    nights, d = [], date(first.year, first.month, 1)
    while True:
        d = date(d.year + d.month // 12, d.month % 12 + 1, 1)
        if d > last:
            break
        nights.append(d)
    return nights if nights and nights[-1] == last else [*nights, last]


def month_of(day: int) -> date:
    d = EPOCH + timedelta(days=int(day))
    return date(d.year, d.month, 1)


@dataclass
class SchoolYearHistory:
    preset: str
    seed: int
    as_of: date
    out: Path
    effect: float = 0.0  # D: after the start, a supported child's daily absence probability × (1 − D)
    rates: Rates = field(default_factory=Rates)

    def __post_init__(self) -> None:
        if not 0 <= self.effect < 1:
            raise ValueError(f"the support effect D must be in [0, 1), not {self.effect}")
        self.out = Path(self.out)
        self.landing, self.answers = self.out / "landing", self.out / "answers"
        (self.landing / "returns").mkdir(parents=True, exist_ok=True)
        self.answers.mkdir(parents=True, exist_ok=True)
        self.world = MunicipalityGenerator(self.preset, self.seed, self.as_of, self.rates, history=True).build()
        self.writer = ExtractWriter(self.world, np.random.default_rng([self.seed, 1]), dirty=False)
        self.rng = np.random.default_rng([self.seed, 9])
        self.nights = month_nights(school_year_start(self.as_of), self.as_of)
        pupils = self.world.attendance_pupils.join(
            self.world.gakureibo.select("pupil_id", "address_code"), on="pupil_id", how="left")
        self.pupil_of = dict(zip(pupils["address_code"].cast(pl.String).str.zfill(15), pupils["pupil"]))
        self.decided: set[str] = set()  # 宛名番号 reviewed, or left unreturned for good
        self.support_start: dict[str, int] = {}  # 宛名番号 → the 確認日 of its 要支援 (days since 1970)
        self.written_until = -(1 << 40)

    # ------------------------------------------------------------------------------------ the departments

    def deliver(self, night: date) -> None:
        """What the departments hand over for the night of ``night``: the snapshots of that day, and the
        attendance since the last night, with support's effect on the days after each start."""
        day, stamp = _days(night), night.strftime("%Y%m%d")
        for name, frame in self.writer.frames(day).items():
            write_csv(frame, self.landing / f"{name}_{stamp}.csv")
        days = self.with_support(self.writer.attendance_days(self.written_until + 1, day))
        write_csv(days.select("pupil", "day", "status", "reason", "nurse"), self.landing / f"shukketsu_{stamp}.csv",
                  as_text=self.writer.attendance_text)
        self.written_until = day

    def started(self) -> pl.DataFrame:
        """pupil → its support's start day."""
        pairs = [(self.pupil_of[a], s) for a, s in self.support_start.items() if a in self.pupil_of]
        return pl.DataFrame(pairs, schema={"pupil": pl.UInt32, "start": pl.Int32}, orient="row")

    def with_support(self, days: pl.DataFrame) -> pl.DataFrame:
        """A supported pupil's day after its start is absent only if its draw < p × (1 − D)."""
        if self.effect == 0 or not self.support_start:
            return days
        treated = days.join(self.started(), on="pupil", how="left", maintain_order="left").with_columns(
            spared=(pl.col("day") > pl.col("start")) & (pl.col("status") == 1)
            & (pl.col("draw") >= pl.col("p_absent") * (1 - self.effect)))
        return treated.with_columns(
            status=pl.when("spared").then(pl.lit(0, pl.UInt8)).otherwise("status"),
            reason=pl.when("spared").then(pl.lit(0, pl.UInt8)).otherwise("reason")).drop("start", "spared")

    # ------------------------------------------------------------------------------------ the caseworkers

    def review(self, night: date, listed: list[str], write: bool = True) -> int:
        """The caseworkers' returns of the night's list (宛名番号 of the children on it), for the next night to
        read: each child newly listed is reviewed once, within three weeks and before the next night, or never.
        Returns the number of reviews written."""
        later = [n for n in self.nights if n > night]
        if not later:
            return 0
        rows = []
        for code in sorted(set(listed) - self.decided):
            self.decided.add(code)
            if self.rng.random() >= RETURNED:
                continue
            reviewed = night + timedelta(days=int(self.rng.integers(1, min(21, (later[0] - night).days) + 1)))
            result = "要支援" if self.rng.random() < SUPPORTED else "見守り"
            if result == "要支援":
                self.support_start[code] = _days(reviewed)
            rows.append((code, night.isoformat(), reviewed.isoformat(), result,
                         STAFF_CODES[int(self.rng.integers(len(STAFF_CODES)))]))
        if rows and write:
            frame = pl.DataFrame(rows, schema=list(RETURNS_HEADER), orient="row")
            write_csv(frame, self.landing / "returns" / f"確認結果_{night.strftime('%Y%m%d')}.csv")
        return len(rows)

    # ------------------------------------------------------------------------------------ without the pipeline

    def simulate(self, min_days: int) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The year without the nights, for the estimator's own tests: each night lists the pupils absent on
        ``min_days`` or more school days of the last complete month (S1 alone), the caseworkers review as in a
        replay, support changes the days after. Returns what the analysts' store would hold — children
        (token = 宛名番号, first night listed, support start, age, the flag's domains) and their months."""
        first_listed: dict[str, date] = {}
        code_of = {pupil: code for code, pupil in self.pupil_of.items()}
        for night in self.nights:
            this_month = _days(date(night.year, night.month, 1))
            last_month = _days(month_of(this_month - 1))
            days = self.with_support(self.writer.attendance_days(last_month, this_month - 1))
            absent = days.group_by("pupil").agg(absent=(pl.col("status") == 1).sum()).filter(pl.col("absent") >= min_days)
            listed = [code_of[p] for p in absent["pupil"].to_list() if p in code_of]
            for code in listed:
                first_listed.setdefault(code, night)
            self.review(night, listed, write=False)
        months = self.with_support(self.writer.attendance_days(-(1 << 40), _days(self.as_of))).join(
            pl.DataFrame({"pupil": list(code_of), "child_token": list(code_of.values())},
                         schema={"pupil": pl.UInt32, "child_token": pl.String}), on="pupil").group_by(
            "child_token", month=pl.col("day").cast(pl.Date).dt.strftime("%Y-%m")).agg(
            school_days=pl.len(), days_absent=(pl.col("status") == 1).sum())
        months = months.with_columns(attendance_rate=1 - pl.col("days_absent") / pl.col("school_days"))
        ages = self.world.gakureibo.select(child_token=pl.col("address_code").cast(pl.String).str.zfill(15), age="age")
        children = pl.DataFrame({
            "child_token": list(first_listed), "first_listed": list(first_listed.values()),
            "support_start": [(EPOCH + timedelta(days=self.support_start[c])) if c in self.support_start else None
                              for c in first_listed]}, schema={"child_token": pl.String, "first_listed": pl.Date,
                                                               "support_start": pl.Date})
        children = children.join(ages, on="child_token", how="left").with_columns(
            domain_economic=pl.lit(False), domain_care=pl.lit(False), domain_school=pl.lit(True),
            domain_health=pl.lit(False))
        return children, months

    # ------------------------------------------------------------------------------------ the truth

    def truth(self, window_months: int) -> dict:
        """The effect support had, as the evaluation measures it: per supported pupil, the mean over the months
        after its start's month (up to ``window_months``, complete months before T) of the month's mean of
        p × D (the absences support took away, as a share of school days); then the mean over pupils with at
        least one such month and one school month before the start. Written to answers/outcomes_truth.json."""
        started = self.started()
        days = self.world.attendance.join(started, on="pupil", how="inner").with_columns(
            month=pl.col("day").cast(pl.Date).dt.truncate("1mo"), start_month=pl.col("start").cast(pl.Date).dt.truncate("1mo"))
        days = days.with_columns(offset=(pl.col("month").dt.year() - pl.col("start_month").dt.year()) * 12
                                 + pl.col("month").dt.month() - pl.col("start_month").dt.month())
        last_complete = date(self.as_of.year, self.as_of.month, 1)
        months = days.filter(pl.col("month") < last_complete).group_by("pupil", "offset").agg(
            effect=(pl.col("p_absent") * self.effect).mean())
        before = months.filter(pl.col("offset").is_between(-window_months, -1)).select("pupil").unique()
        after = months.filter(pl.col("offset").is_between(1, window_months)).join(before, on="pupil")
        per_pupil = after.group_by("pupil").agg(pl.col("effect").mean())
        truth = {
            "support_effect": self.effect,
            "window_months": window_months,
            "attendance_rate_effect": round(float(per_pupil["effect"].mean() or 0.0), 6),
            "n_supported": len(self.support_start),
            "n_supported_pupils_in_window": per_pupil.height,
            "meaning": "the rise in the supported pupils' monthly attendance rate that D implies (mean over "
                       "pupils of the mean over the months after the start's month, up to window_months)",
        }
        (self.answers / "outcomes_truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=2) + "\n")
        return truth


def replay(history: SchoolYearHistory, run_night, listed_on) -> list:
    """The year night by night: the departments deliver, the night runs (``run_night(night)``, its result
    kept), the caseworkers return their reviews of its list (``listed_on(night)``: the 宛名番号 on it)."""
    results = []
    for night in history.nights:
        history.deliver(night)
        results.append(run_night(night))
        history.review(night, listed_on(night))
    return results
