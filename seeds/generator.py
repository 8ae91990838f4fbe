"""The synthetic municipality (架空の市「みまもり市」): six department extracts and an answer file.

Everything is drawn with numpy from one seeded generator, per table and vectorised; faker (ja_JP) only
fills small pools of names and town names. A hidden per-household risk level makes hardship, missed
check-ups, consultations and absences cluster, and households of the highest level are *planted*: each of
their children is given signals in two or three domains. Which children were planted goes to
``answers/planted_children.csv``, never into ``landing/``.

See ../shared/spec/population.md for the presets, rates and the ``--dirty`` messiness.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
from faker import Faker

from schemas.contract import ERAS
from seeds.jisou import JisouPlanter, add_twins, jisou_frame
from seeds.presets import PRESETS

CITY = "みまもり市"  # fictional: no real municipality has this name
EPOCH = date(1970, 1, 1)
NO_DAY = -(10**9)  # "no date" in the integer day columns (days since 1970 may be negative)
PROGRAMME_RECORD = {"address_code": pl.Int64, "programme": pl.String, "start": pl.Int64, "end": pl.Int64,
                    "household_code": pl.Int64}


@dataclass(frozen=True)
class Rates:
    """Base rates of population.md: parameters, not constants of the pipeline."""

    seikatsu_hogo_children: float = 0.01  # children in households on 生活保護
    jido_fuyo_households: float = 0.06  # households with children receiving 児童扶養手当
    shugaku_enjo_pupils: float = 0.14  # pupils on 就学援助
    hikazei_households: float = 0.09  # households with children exempt from resident tax
    futoko_elementary: float = 0.02  # 30+ days absent in a year
    futoko_junior_high: float = 0.07
    infant_checkup_missed: float = 0.04  # per check-up
    abuse_reports_per_year: float = 0.012  # of children
    supported_children: float = 0.006  # 要保護児童等支援
    family_consultations_per_year: float = 0.015
    elevated_risk_households: float = 0.06  # hidden risk level 1
    planted_households: float = 0.004  # hidden risk level 2 (of households with children)


SPELL_SHARE = 0.2  # of pupils in a history, a passing bad spell of absence some time in the year

# Household types: (probability, heads, kids range or 0, grandparents, adult children)
HOUSEHOLD_TYPES = {
    "single": 0.34,
    "couple": 0.22,
    "family": 0.13,
    "single_parent": 0.025,
    "three_generation": 0.02,
    "adult_family": 0.265,
}


def _days(d: date) -> int:
    return (d - EPOCH).days


def _date_strings(days: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(days.astype("datetime64[D]"), unit="D")


def school_year_start(as_of: date) -> date:
    return date(as_of.year if as_of.month >= 4 else as_of.year - 1, 4, 1)


def school_days(first: date, last: date) -> list[date]:
    """Weekdays between two dates, less national holidays and the school holidays (approximate, synthetic)."""

    def nth_monday(year: int, month: int, n: int) -> date:
        d = date(year, month, 1)
        d += timedelta(days=(7 - d.weekday()) % 7)
        return d + timedelta(weeks=n - 1)

    holidays: set[date] = set()
    for y in range(first.year, last.year + 1):
        holidays |= {date(y, m, d) for m, d in [(1, 1), (1, 2), (1, 3), (2, 11), (2, 23), (3, 20), (4, 29),
                                                 (5, 3), (5, 4), (5, 5), (5, 6), (8, 11), (9, 23), (11, 3),
                                                 (11, 23)]}
        holidays |= {nth_monday(y, 1, 2), nth_monday(y, 7, 3), nth_monday(y, 9, 3), nth_monday(y, 10, 2)}
    out, d = [], first
    while d <= last:
        md = (d.month, d.day)
        vacation = (7, 21) <= md <= (8, 31) or md >= (12, 25) or md <= (1, 7) or (3, 25) <= md <= (4, 5)
        if d.weekday() < 5 and d not in holidays and not vacation:
            out.append(d)
        d += timedelta(days=1)
    return out


# ---------------------------------------------------------------------------------------------- people


def _has_domain(planted: pl.Series, domain: str) -> pl.Series:
    return planted.list.contains(domain).fill_null(False)


@dataclass
class World:
    """Every table of the municipality on the as-of date, as polars frames with typed columns."""

    persons: pl.DataFrame
    zei: pl.DataFrame
    fukushi: pl.DataFrame
    gakureibo: pl.DataFrame
    attendance: pl.DataFrame  # pupil (index into attendance_pupils), day (int days), status, reason, nurse
    kenshin: pl.DataFrame
    planted: pl.DataFrame
    attendance_pupils: pl.DataFrame  # pupil, pupil_id, school_code: 11 bytes a school day, not 40 (yokohama: 30 M)
    jisou: pl.DataFrame  # the 児童相談所's cases as its records (seeds/jisou.py)
    jisou_truth: pl.DataFrame  # case number → 宛名番号 (or none) and the messes planted


class MunicipalityGenerator:
    def __init__(self, preset: str, seed: int, as_of: date, rates: Rates = Rates(), history: bool = False):
        """``history``: keep each school day's absence probability and draw (seeds/history.py replays the year
        and changes supported children's days), and give some pupils a passing bad spell (regression to the mean)."""
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}: choose one of {', '.join(PRESETS)}")
        self.preset, self.seed, self.as_of, self.rates, self.history = preset, seed, as_of, rates, history
        self.rng = np.random.default_rng(seed)
        self.t = _days(as_of)
        self._pools()
        # The planted domains that the data really carries, per child (a 2-year-old has no attendance).
        self.realised: dict[str, set[int]] = {"economic": set(), "care": set(), "school": set(), "health": set()}

    # Pools of names and towns from faker: the only per-item faker calls, a few hundred in all.
    def _pools(self) -> None:
        fake = Faker("ja_JP")
        fake.seed_instance(self.seed)
        last = {fake.last_name_pair()[:2] for _ in range(400)}
        male = {fake.first_name_male_pair()[:2] for _ in range(300)}
        female = {fake.first_name_female_pair()[:2] for _ in range(300)}
        self.last_names = sorted(last)
        self.male_names = sorted(male)
        self.female_names = sorted(female)
        towns: list[str] = []
        while len(towns) < 60:
            town = fake.town()
            if town not in towns:
                towns.append(town)
        self.towns = towns

    def build(self) -> World:
        persons, households = self._persons()
        pupils = self._pupils(persons)
        fukushi = self._fukushi(persons, households, pupils)
        zei = self._zei(persons, households)
        attendance, attendance_pupils = self._attendance(pupils, persons)
        kenshin = self._kenshin(persons, pupils)
        planted = self._planted_answer(persons)
        persons = add_twins(persons, np.random.default_rng([self.seed, 3]), self.male_names, self.female_names)
        persons, jisou, jisou_truth = JisouPlanter(
            persons, np.random.default_rng([self.seed, 2]), self.t, CITY, self.last_names, self.male_names,
            self.female_names, self.towns).plant()
        return World(persons, zei, fukushi, pupils, attendance, kenshin, planted, attendance_pupils, jisou,
                     jisou_truth)

    def _persons(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        rng, r = self.rng, self.rates
        target = PRESETS[self.preset]
        n_households = int(target / 2.3)  # mean household size of the types below
        kinds = np.array(list(HOUSEHOLD_TYPES))
        kind = rng.choice(len(kinds), n_households, p=np.array(list(HOUSEHOLD_TYPES.values())))
        kind_name = kinds[kind]
        has_kids = np.isin(kind_name, ["family", "single_parent", "three_generation"])
        kids = np.where(has_kids, rng.choice([1, 2, 3], n_households, p=[0.4, 0.43, 0.17]), 0)
        kids = np.where(kind_name == "single_parent", rng.choice([1, 2, 3], n_households, p=[.55, .35, .1]), kids)
        heads = np.select([kind_name == "single", kind_name == "single_parent"], [1, 1], 2)
        grand = np.where(kind_name == "three_generation", 2, 0)
        adult_children = np.where(kind_name == "adult_family", rng.choice([1, 2], n_households, p=[.7, .3]), 0)

        # Hidden risk per household: 0 ordinary, 1 elevated, 2 planted (only households with children).
        risk = np.where(rng.random(n_households) < r.elevated_risk_households, 1, 0)
        risk = np.where(has_kids & (rng.random(n_households) < r.planted_households), 2, risk)

        n_areas = max(6, target // 1500)
        area = rng.integers(0, n_areas, n_households)
        household_code = 500_000_000 + rng.choice(n_households * 4, n_households, replace=False)

        # Youngest child's age and the parents' ages follow from it.
        youngest = rng.integers(0, 18, n_households)
        parent_age = np.where(has_kids, youngest + rng.integers(24, 38, n_households),
                              rng.integers(20, 92, n_households))
        parent_age = np.where(kind_name == "adult_family", rng.integers(48, 85, n_households), parent_age)
        parent_age = np.clip(parent_age, 18, 99)

        size = heads + kids + grand + adult_children
        hh = np.repeat(np.arange(n_households), size)
        pos = np.arange(hh.size) - np.repeat(np.cumsum(size) - size, size)  # position within household
        h_heads, h_kids, h_grand = heads[hh], kids[hh], grand[hh]
        role = np.select(
            [pos < h_heads, pos < h_heads + h_kids, pos < h_heads + h_kids + h_grand],
            [0, 1, 2], 3)  # 0 head/spouse, 1 child, 2 grandparent, 3 adult child
        n = hh.size
        single_parent = kind_name[hh] == "single_parent"
        spouse = (role == 0) & (pos == 1)
        sex = np.where(role == 0, np.where(spouse, 2, np.where(single_parent, np.where(rng.random(n) < .88, 2, 1), 1)),
                       rng.integers(1, 3, n))
        sex = np.where((role == 0) & (kind_name[hh] == "single"), rng.integers(1, 3, n), sex)
        sex = np.where(role == 2, np.where(pos % 2 == 0, 1, 2), sex)
        kid_index = pos - h_heads
        age = np.select(
            [role == 0, role == 1, role == 2, role == 3],
            [parent_age[hh] + np.where(spouse, rng.integers(-4, 2, n), 0),
             youngest[hh] + 3 * kid_index - rng.integers(0, 2, n),
             parent_age[hh] + rng.integers(25, 33, n),
             parent_age[hh] - rng.integers(22, 32, n)])
        age = np.where(role == 1, np.clip(age, 0, 17), np.clip(age, 18, 104))
        # Day T itself has its births, removals and moves too, so consecutive snapshots differ as a day's do.
        birth = self.t - (age * 365.25).astype(int) - rng.integers(0, 365, n)
        relation = np.select(
            [(role == 0) & ~spouse, spouse, role == 1, role == 2, role == 3],
            ["世帯主", "妻", "子", np.where(sex == 1, "父", "母"), "子"], "その他")
        relation = np.where((role == 0) & spouse & (sex == 1), "夫", relation)
        relation = np.where((role == 0) & spouse & (kind_name[hh] == "family") & (rng.random(n) < .01), "妻(未届)",
                            relation)
        address_code = 100_000_000 + rng.choice(n * 3, n, replace=False)

        # Registry status: a few removed (転出, 死亡) within the last 180 days; births and moves otherwise.
        removed = rng.random(n) < 0.015
        moved_out = removed & ((age < 70) | (rng.random(n) < .5))
        status = np.where(removed, "消除", "住民")
        change_reason = np.where(removed, np.where(moved_out, "転出", "死亡"), "")
        change_day = np.where(removed, self.t - rng.integers(0, 180, n), NO_DAY)
        newborn = (~removed) & (self.t - birth < 365)
        change_reason = np.where(newborn, "出生", change_reason)
        change_day = np.where(newborn, birth, change_day)
        moved_in = (~removed) & (~newborn) & (rng.random(n) < 0.04)
        change_reason = np.where(moved_in, np.where(rng.random(n) < .5, "転入", "転居"), change_reason)
        change_day = np.where(moved_in, self.t - rng.integers(0, 1500, n), change_day)

        # Names: family name per household, given names by sex, from the faker pools.
        ln = rng.integers(0, len(self.last_names), n_households)[hh]
        mi = rng.integers(0, len(self.male_names), n)
        fi = rng.integers(0, len(self.female_names), n)
        last_k = np.array([p[0] for p in self.last_names])[ln]
        last_kana = np.array([p[1] for p in self.last_names])[ln]
        first_k = np.where(sex == 1, np.array([p[0] for p in self.male_names])[mi],
                           np.array([p[0] for p in self.female_names])[fi])
        first_kana = np.where(sex == 1, np.array([p[1] for p in self.male_names])[mi],
                              np.array([p[1] for p in self.female_names])[fi])

        town_of_area = np.array(self.towns)[np.arange(n_areas) % len(self.towns)]
        chome_of_area = np.arange(n_areas) // len(self.towns) + 1
        banchi = rng.integers(1, 40, n_households)
        go = rng.integers(1, 30, n_households)
        households = pl.DataFrame({
            "household": np.arange(n_households), "household_code": household_code, "kind": kind_name,
            "risk": risk, "area": area, "kids": kids,
        })
        persons = pl.DataFrame({
            "household": hh, "address_code": address_code, "household_code": household_code[hh],
            "last": last_k, "first": first_k, "last_kana": last_kana, "first_kana": first_kana,
            "birth": birth, "age": age, "sex": sex, "role": role, "relation": relation,
            "area": area[hh], "town": town_of_area[area[hh]], "chome": chome_of_area[area[hh]],
            "banchi": banchi[hh], "go": go[hh], "status": status, "change_reason": change_reason,
            "change_day": change_day, "risk": risk[hh], "kind": kind_name[hh], "kids": kids[hh],
            "body_size": rng.normal(1, 0.07, n),  # a child is consistently larger or smaller than the curve
        }).with_columns(
            child=(pl.col("age") < 18) & (pl.col("status") == "住民"),
            # 町丁目コード: town (3 digits) and 丁目 (3 digits), as the address reads
            area_code=pl.format("{}{}", (pl.col("area") % len(self.towns) + 101).cast(pl.String),
                                pl.col("chome").cast(pl.String).str.zfill(3)),
        )
        persons = self._plant_domains(persons, households)
        return persons, households

    def _plant_domains(self, persons: pl.DataFrame, households: pl.DataFrame) -> pl.DataFrame:
        """Choose 2–3 domains per planted household; every child of it carries those signals."""
        rng = self.rng
        planted = households.filter(pl.col("risk") == 2)
        k = rng.choice([2, 3], planted.height, p=[.6, .4])
        domains = ["economic", "care", "school", "health"]
        picks = [sorted(rng.choice(4, kk, replace=False)) for kk in k]
        chosen = pl.DataFrame({"household": planted["household"],
                               "planted": [[domains[i] for i in p] for p in picks]},
                              schema={"household": pl.Int64, "planted": pl.List(pl.String)})
        return persons.join(chosen, on="household", how="left", maintain_order="left").with_columns(
            planted=pl.when(pl.col("child")).then(pl.col("planted")))

    # ------------------------------------------------------------------------------------ school

    def _pupils(self, persons: pl.DataFrame) -> pl.DataFrame:
        rng = self.rng
        sy = school_year_start(self.as_of)
        april1 = _days(sy)
        # Age on 1 April of the school year decides the grade (born 2 April … 1 April is one cohort).
        births = persons["birth"].to_numpy()
        bd = births.astype("datetime64[D]")
        by = bd.astype("datetime64[Y]").astype(int) + 1970
        md = (bd - bd.astype("datetime64[Y]")).astype(int)  # day of year
        april2_doy = (np.array([f"{y}-04-02" for y in range(1900, 2100)], dtype="datetime64[D]")
                      - np.array([f"{y}-01-01" for y in range(1900, 2100)], dtype="datetime64[D]")).astype(int)
        after_april1 = md >= april2_doy[by - 1900]
        age_april1 = sy.year - by - after_april1.astype(int)
        p = persons.with_columns(age_april1=pl.Series(age_april1)).filter(
            pl.col("age_april1").is_between(6, 14) & (pl.col("birth") < april1)
            & ((pl.col("status") == "住民") | (pl.col("change_reason") == "転出")))
        # About 3 % attend private or national schools outside the register.
        p = p.filter(pl.Series(rng.random(p.height) >= 0.03))
        n = p.height
        junior = p["age_april1"].to_numpy() >= 12
        grade = np.where(junior, p["age_april1"].to_numpy() - 11, p["age_april1"].to_numpy() - 5)
        areas = p["area"].to_numpy()
        n_areas = int(persons["area"].max()) + 1
        n_elem = max(2, n_areas // 3)
        n_junior = max(1, n_elem // 2)
        school_no = np.where(junior, areas % n_junior, areas % n_elem)
        school_code = np.where(junior, np.char.add("C1992", np.char.zfill((school_no + 1).astype(str), 8)),
                               np.char.add("B1992", np.char.zfill((school_no + 1).astype(str), 8)))
        town = np.array(self.towns)[school_no % len(self.towns)]
        suffix = np.where(school_no >= len(self.towns), "第二", "")
        school_name = np.char.add(np.char.add(np.char.add(f"{CITY}立", town), suffix),
                                  np.where(junior, "中学校", "小学校"))
        pupil_id = 2_000_000_000 + rng.choice(n * 4, n, replace=False)
        status = np.where(p["change_reason"].to_numpy() == "転出", "転出", "在籍")
        return p.select("address_code", "household", "area", "risk", "planted", "age", "sex", "birth",
                        "body_size").with_columns(
            pupil_id=pl.Series(pupil_id.astype(str)), school_code=pl.Series(school_code),
            school_name=pl.Series(school_name), grade=pl.Series(grade), junior=pl.Series(junior),
            class_name=pl.Series(np.char.add(rng.integers(1, 4, n).astype(str), "組")),
            enrolment_status=pl.Series(status))

    def _attendance(self, pupils: pl.DataFrame, persons: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        rng, r = self.rng, self.rates
        days = np.array([_days(d) for d in school_days(school_year_start(self.as_of), self.as_of)])
        enrolled = pupils.filter(pl.col("enrolment_status") == "在籍")
        n, d = enrolled.height, days.size
        who = pl.DataFrame({"pupil": np.arange(n, dtype=np.uint32), "pupil_id": enrolled["pupil_id"],
                            "school_code": enrolled["school_code"]})
        if n == 0 or d == 0:
            return pl.DataFrame(schema={"pupil": pl.UInt32, "day": pl.Int32, "status": pl.UInt8, "reason": pl.UInt8,
                                        "nurse": pl.UInt8}), who
        junior = enrolled["junior"].to_numpy()
        risk = enrolled["risk"].to_numpy()
        planted = enrolled["planted"].to_list()
        school_planted = np.array([bool(x) and "school" in x for x in planted])
        # Per pupil absence rate; 不登校 pupils get a high rate from an onset day on.
        base = rng.lognormal(np.log(0.02), 0.6, n) * np.where(risk == 1, 2.0, 1.0)
        futoko = rng.random(n) < np.where(junior, r.futoko_junior_high, r.futoko_elementary) * np.where(risk == 1, 2, 1)
        futoko |= school_planted
        onset = np.where(futoko, rng.integers(0, max(1, d - 25), n), d)
        heavy = rng.uniform(0.45, 0.9, n)
        # Planted: absent most days since at least two months, so that both S1 and S2 carry it.
        onset = np.where(school_planted, rng.integers(0, max(1, d - 60), n), onset)
        heavy = np.where(school_planted, rng.uniform(0.6, 0.95, n), heavy)
        if d > 60:
            self.realised["school"] |= set(enrolled.filter(pl.Series(school_planted))["address_code"].to_list())
        surge = school_planted & (rng.random(n) < 0.5)
        spell_start, spell_end, spell_p = self._spells(n, d)
        tardy = rng.lognormal(np.log(0.012), 0.5, n)
        nurse_rate = rng.lognormal(np.log(0.01), 0.8, n)
        frames = []
        chunk = max(1, 4_000_000 // d)
        for lo in range(0, n, chunk):
            hi = min(n, lo + chunk)
            m = hi - lo
            day_ix = np.arange(d)[None, :]
            recent = (days[None, :] > self.t - 30)
            p_abs = np.where(day_ix >= onset[lo:hi, None], heavy[lo:hi, None], base[lo:hi, None])
            in_spell = (day_ix >= spell_start[lo:hi, None]) & (day_ix < spell_end[lo:hi, None])
            p_abs = np.where(in_spell, np.maximum(p_abs, spell_p[lo:hi, None]), p_abs)
            u = rng.random((m, d), dtype=np.float32)
            # status codes: index into ATTENDANCE_STATUSES (0 出席 1 欠席 2 遅刻 3 早退 4 出席停止 5 忌引)
            p_late = np.where(surge[lo:hi, None] & recent, 0.3, tardy[lo:hi, None])
            status = np.zeros((m, d), dtype=np.uint8)
            status[u < p_abs + p_late + 0.006 + 0.0025 + 0.0005] = 5
            status[u < p_abs + p_late + 0.006 + 0.0025] = 4
            status[u < p_abs + p_late + 0.006] = 3
            status[u < p_abs + p_late] = 2
            status[u < p_abs] = 1
            reason_u = rng.random((m, d), dtype=np.float32)
            reason = np.where(status == 1, np.where(reason_u < .72, 1, np.where(reason_u < .95, 3, 2)), 0)
            p_nurse = np.where(surge[lo:hi, None] & recent, 0.3, nurse_rate[lo:hi, None])
            nurse = (rng.random((m, d), dtype=np.float32) < p_nurse) & (status != 1)
            frame = {"pupil": np.repeat(np.arange(lo, hi, dtype=np.uint32), d), "day": np.tile(days.astype(np.int32), m),
                     "status": status.ravel(), "reason": reason.astype(np.uint8).ravel(),
                     "nurse": nurse.astype(np.uint8).ravel()}
            if self.history:  # absent ⇔ draw < probability: what a planted effect of support changes
                frame |= {"p_absent": p_abs.astype(np.float32).ravel(), "draw": u.ravel()}
            frames.append(pl.DataFrame(frame))
        return pl.concat(frames), who

    def _spells(self, n: int, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A passing bad spell of absence (illness, a family crisis) for some pupils in a history: 3–8 weeks of
        school days at 50–85 %. Flagged at their worst, they improve with or without support (outcomes.md).
        Drawn from a stream of their own: the other tables do not move. No spell outside a history."""
        if not self.history or d == 0:
            return np.full(n, d), np.full(n, d), np.zeros(n)
        rng = np.random.default_rng([self.seed, 8])
        has = rng.random(n) < SPELL_SHARE
        start = np.where(has, rng.integers(0, d, n), d)
        return start, start + rng.integers(15, 40, n), rng.uniform(0.5, 0.85, n)

    # ------------------------------------------------------------------------------------ welfare

    def _fukushi(self, persons: pl.DataFrame, households: pl.DataFrame, pupils: pl.DataFrame) -> pl.DataFrame:
        rng, r, t = self.rng, self.rates, self.t
        hh = households.join(
            persons.group_by("household", maintain_order=True).agg(
                head=pl.col("address_code").first(),
                planted=pl.col("planted").drop_nulls().first()), on="household", maintain_order="left")
        with_kids = hh.filter(pl.col("kids") > 0)
        rows: list[pl.DataFrame] = []

        def records(who: pl.DataFrame, programme: str, start: np.ndarray, end: np.ndarray) -> None:
            # typed explicitly: a programme nobody receives (tiny towns) is an empty frame of the same types,
            # not one of type Null that no other frame can be stacked onto
            rows.append(pl.DataFrame({"address_code": who["address_code"], "programme": [programme] * who.height,
                                      "start": start, "end": end, "household_code": who["household_code"]},
                                     schema=PROGRAMME_RECORD))

        def ongoing_or_ended(m: int, ended_share: float) -> tuple[np.ndarray, np.ndarray]:
            start = t - rng.integers(30, 2000, m)
            end = np.where(rng.random(m) < ended_share, t - rng.integers(1, 29, m), -1)
            return start, np.where(end > start, end, -1)

        econ_planted = _has_domain(with_kids["planted"], "economic")
        risk = with_kids["risk"].to_numpy()
        boost = np.where(risk == 1, 6.0, 1.0)
        # 生活保護 on the head of household; some elderly households too.
        p_hogo = r.seikatsu_hogo_children * boost
        hogo = with_kids.filter(pl.Series(rng.random(with_kids.height) < p_hogo)
                                | (econ_planted & pl.Series(rng.random(with_kids.height) < .5)))
        elderly = hh.filter((pl.col("kids") == 0) & pl.Series(rng.random(hh.height) < 0.015))
        for who in (hogo, elderly):
            who = who.rename({"head": "address_code"})
            records(who, "生活保護", *ongoing_or_ended(who.height, 0.15))
        # 児童扶養手当: mostly single-parent households.
        single = with_kids["kind"].to_numpy() == "single_parent"
        p_fuyo = np.where(single, 0.45, 0.012) * np.where(risk == 1, 1.5, 1)
        fuyo = with_kids.filter(pl.Series(rng.random(with_kids.height) < p_fuyo) | (econ_planted & pl.Series(single)))
        records(fuyo.rename({"head": "address_code"}), "児童扶養手当", *ongoing_or_ended(fuyo.height, 0.1))
        # 特別児童扶養手当, a few.
        toku = with_kids.filter(pl.Series(rng.random(with_kids.height) < 0.008))
        records(toku.rename({"head": "address_code"}), "特別児童扶養手当", *ongoing_or_ended(toku.height, 0.05))

        # 就学援助: on the pupil, for the school year (this year's ongoing, some last year's ended).
        sy = _days(school_year_start(self.as_of))
        sy_end = _days(date(school_year_start(self.as_of).year + 1, 3, 31))
        pl_risk = pupils["risk"].to_numpy()
        p_enjo = r.shugaku_enjo_pupils * np.where(pl_risk == 1, 2.5, 0.92)
        econ_pupil = _has_domain(pupils["planted"], "economic")
        enjo = pupils.filter(pl.Series(rng.random(pupils.height) < p_enjo) | econ_pupil).join(
            persons.select("address_code", "household_code"), on="address_code", maintain_order="left")
        records(enjo, "就学援助", np.full(enjo.height, sy), np.full(enjo.height, sy_end))
        last_year = enjo.filter(pl.Series(rng.random(enjo.height) < 0.15))
        records(last_year, "就学援助", np.full(last_year.height, _days(date(school_year_start(self.as_of).year - 1, 4, 1))),
                np.full(last_year.height, sy - 1))

        # Children: consultations, abuse reports and support.
        kids = persons.filter(pl.col("child"))
        care = _has_domain(kids["planted"], "care").to_numpy()
        krisk = kids["risk"].to_numpy()
        m = kids.height
        kboost = np.where(krisk == 1, 4.0, 0.8)
        report = (rng.random(m) < r.abuse_reports_per_year * 2 * kboost)
        report_day = np.where(care & (rng.random(m) < .6), t - rng.integers(1, 300, m), t - rng.integers(1, 730, m))
        report |= care & (rng.random(m) < .6)
        consult = (rng.random(m) < r.family_consultations_per_year * 2 * kboost) | (care & ~report)
        consult_day = np.where(care, t - rng.integers(1, 300, m), t - rng.integers(1, 730, m))
        supported = (report & (rng.random(m) < 0.15)) | (rng.random(m) < r.supported_children * 0.4) \
            | (care & (rng.random(m) < .3))
        rep = kids.filter(pl.Series(report))
        records(rep, "児童虐待通告", report_day[report], np.full(rep.height, -1))
        con = kids.filter(pl.Series(consult))
        records(con, "家庭児童相談", consult_day[consult], consult_day[consult] + rng.integers(14, 120, con.height))
        sup = kids.filter(pl.Series(supported))
        records(sup, "要保護児童等支援", t - rng.integers(1, 900, sup.height), np.full(sup.height, -1))

        out = pl.concat(rows).with_columns(end=pl.when(pl.col("end") < 0).then(None).otherwise(pl.col("end")))
        # Consultation end dates may lie after T; they are not known yet.
        out = out.with_columns(end=pl.when(pl.col("end") > t).then(
            pl.when(pl.col("programme") == "就学援助").then(pl.col("end")).otherwise(None)).otherwise(pl.col("end")))
        return out.sort("address_code", "programme", "start")

    def _zei(self, persons: pl.DataFrame, households: pl.DataFrame) -> pl.DataFrame:
        rng, r = self.rng, self.rates
        fy = self.as_of.year if self.as_of.month >= 6 else self.as_of.year - 1  # notices go out in June
        # only the columns needed (every column of 3 M adults took 1.3 GB at yokohama)
        adults = persons.select("address_code", "household", "age", "status", "kind", "risk", "role", "relation",
                                "kids").filter((pl.col("age") >= 16) & (pl.col("status") == "住民"))
        adults = adults.filter(pl.Series(rng.random(adults.height) >= 0.03))  # no declaration
        n = adults.height
        with_kids = adults["kind"].is_in(["family", "single_parent", "three_generation"]).to_numpy()
        hh_planted = persons.group_by("household", maintain_order=True).agg(
            econ=pl.col("planted").drop_nulls().first().list.contains("economic").fill_null(False))
        econ = adults.join(hh_planted, on="household", how="left", maintain_order="left")["econ"].fill_null(False).to_numpy()
        risk = adults["risk"].to_numpy()
        # Exempt households: decided per household, so every adult of it is 非課税.
        hh_u = rng.random(int(persons["household"].max()) + 1)
        p_exempt_hh = np.where(with_kids, r.hikazei_households * np.where(risk == 1, 3, 0.8), 0.12)
        exempt_hh = (hh_u[adults["household"].to_numpy()] < p_exempt_hh) | econ  # planted: always exempt
        age = adults["age"].to_numpy()
        status = np.where(exempt_hh, 2, np.where(rng.random(n) < 0.05, 1, 0))
        status = np.where((age < 20) & (rng.random(n) < 0.9), 2, status)  # students
        status = np.where(with_kids & ~exempt_hh & (adults["role"].to_numpy() == 0) & (status == 2), 0, status)
        income = np.where(status == 2, rng.integers(0, 1_000_000, n),
                          rng.lognormal(np.log(3_800_000), 0.5, n).astype(np.int64))
        dependants = np.where((adults["role"].to_numpy() == 0) & (adults["relation"].to_numpy() == "世帯主"),
                              adults["kids"].to_numpy(), 0)
        cur = pl.DataFrame({"address_code": adults["address_code"], "fiscal_year": fy,
                            "tax_status": np.array(["課税", "均等割のみ課税", "非課税"])[status],
                            "income": income, "dependants": dependants})
        prev = cur.with_columns(fiscal_year=pl.lit(fy - 1),
                                income=(pl.col("income") * 0.97).cast(pl.Int64))
        return pl.concat([prev, cur]).sort("address_code", "fiscal_year")

    # ------------------------------------------------------------------------------------ health

    def _kenshin(self, persons: pl.DataFrame, pupils: pl.DataFrame) -> pl.DataFrame:
        rng, r, t = self.rng, self.rates, self.t
        kids = persons.filter(pl.col("child"))
        health = _has_domain(kids["planted"], "health").to_numpy()
        birth = kids["birth"].to_numpy()
        risk = kids["risk"].to_numpy()
        frames = []
        for kind, offset in (("4か月児", 125), ("1歳6か月児", 548), ("3歳児", 1126)):
            sched = birth + offset + rng.integers(0, 30, birth.size)
            keep = (sched <= t + 60) & (sched > t - 6 * 365)
            missed = rng.random(birth.size) < r.infant_checkup_missed * np.where(risk == 1, 3, 0.85)
            # Planted health, infant: a check-up within the year, attended and judged 要精密 (H1). A missed
            # check-up would be C3, which is the 養育 (care) domain.
            recent = (sched > t - 330) & (sched <= t - 35)
            findings = health & recent
            missed &= ~findings
            frames.append(self._checkups(kids, kind, sched, keep, missed, findings))
            self.realised["health"] |= set(kids.filter(pl.Series(findings & keep))["address_code"].to_list())
        # 学校定期 for pupils: this year's (April–June) and last year's.
        p = pupils.filter(pl.col("enrolment_status") == "在籍")
        sy = _days(school_year_start(self.as_of))
        ph = _has_domain(p["planted"], "health").to_numpy()
        for year_back in (1, 0):
            sched = sy - 365 * year_back + rng.integers(10, 80, p.height)
            keep = (sched <= t) & ((p["grade"].to_numpy() > 1) | p["junior"].to_numpy() | (year_back == 0))
            missed = rng.random(p.height) < 0.02
            findings = ph & (year_back == 0) & ~missed & (sched + 14 <= t)
            frames.append(self._checkups(p, "学校定期", sched, keep, missed, findings))
            self.realised["health"] |= set(p.filter(pl.Series(findings & keep))["address_code"].to_list())
        # 就学時: next year's first graders, in the autumn.
        upcoming = kids.filter(pl.Series((birth > _days(date(self.as_of.year - 6, 4, 1)))
                                         & (birth <= _days(date(self.as_of.year - 5, 4, 1)))))
        sched = np.full(upcoming.height, _days(date(self.as_of.year, 10, 20))) + rng.integers(0, 20, upcoming.height)
        frames.append(self._checkups(upcoming, "就学時", sched, sched <= t + 60, rng.random(upcoming.height) < .03,
                                     np.zeros(upcoming.height, bool)))
        return pl.concat(frames).sort("address_code", "scheduled")

    def _checkups(self, who: pl.DataFrame, kind: str, sched: np.ndarray, keep: np.ndarray,
                  missed: np.ndarray, planted_findings: np.ndarray) -> pl.DataFrame:
        rng, t = self.rng, self.t
        n = who.height
        attended = sched + rng.integers(0, 14, n)
        attended = np.where(missed | (attended > t), -1, attended)
        age_years = (np.where(attended > 0, attended, sched) - who["birth"].to_numpy()) / 365.25
        # Growth curve (roughly Japanese averages): height and weight by age, with spread.
        height = np.interp(age_years, [0.3, 1.5, 3, 6, 9, 12, 15, 18], [63, 80, 94, 114, 131, 148, 163, 167])
        size = who["body_size"].to_numpy()
        height = np.round(height * (1 + (size - 1) / 2) * rng.normal(1, 0.01, n), 1)
        weight = np.interp(age_years, [0.3, 1.5, 3, 6, 9, 12, 15, 18], [6.8, 10.3, 14.1, 20.5, 29, 40, 53, 58])
        weight = weight * size * rng.normal(1, 0.025, n)
        # Planted health findings at the newest school check-up: weight loss and 要精密.
        weight = np.round(np.where(planted_findings, weight * 0.72, weight), 1)
        u = rng.random(n)
        result = np.where(u < .88, "異常なし", np.where(u < .975, "要観察", np.where(u < .995, "要精密", "要医療")))
        result = np.where(planted_findings, "要精密", result)
        missing = pl.col("attended") < 0
        return pl.DataFrame({
            "address_code": who["address_code"], "kind": kind, "scheduled": sched, "attended": attended,
            "height": height, "weight": weight, "result": result,
        }).with_columns(pl.when(~missing).then(pl.col(c)).alias(c) for c in ("attended", "height", "weight", "result")
                        ).filter(pl.Series(keep))

    def _planted_answer(self, persons: pl.DataFrame) -> pl.DataFrame:
        """Children whose planted signals really are in the data in two domains or more."""
        planted = persons.filter(pl.col("planted").is_not_null())
        for domain in ("economic", "care"):  # household- and child-level records, always written
            self.realised[domain] |= set(planted.filter(pl.col("planted").list.contains(domain))["address_code"])
        rows = []
        for code, domains, age in planted.select("address_code", "planted", "age").iter_rows():
            kept = [d for d in domains if code in self.realised[d]]
            if len(kept) >= 2:
                rows.append((str(code).zfill(15), "|".join(kept), age))
        return pl.DataFrame(rows, schema={"宛名番号": pl.String, "planted_domains": pl.String, "age": pl.Int64},
                            orient="row")


# ---------------------------------------------------------------------------------------------- files

ERA_SYMBOLS = {e[0]: e for e in ERAS}


def to_era(days: np.ndarray, style: np.ndarray) -> np.ndarray:
    """Render dates as Japanese era strings in one of four styles (R5.4.1, R05.04.01, 令和5年4月1日, 令和元年…)."""
    out = []
    for d, s in zip(days.tolist(), style.tolist()):
        dt = EPOCH + timedelta(days=int(d))
        sym, kanji, start = next(e for e in reversed(ERAS) if dt >= e[2])
        y = dt.year - start.year + 1
        if s == 0:
            out.append(f"{sym}{y}.{dt.month}.{dt.day}")
        elif s == 1:
            out.append(f"{sym}{y:02d}.{dt.month:02d}.{dt.day:02d}")
        else:
            out.append(f"{kanji}{'元' if y == 1 else y}年{dt.month}月{dt.day}日")
    return np.array(out, dtype=object)


FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


class ExtractWriter:
    """Renders the World as the departments' CSV files for one extraction date."""

    def __init__(self, world: World, rng: np.random.Generator, dirty: bool):
        self.w, self.rng, self.dirty = world, rng, dirty

    @staticmethod
    def _dates(col: str) -> pl.Expr:
        return pl.when(pl.col(col).is_null() | (pl.col(col) == NO_DAY)).then(pl.lit("")).otherwise(
            pl.col(col).cast(pl.Date).cast(pl.String))

    def frames(self, as_of_day: int) -> dict[str, pl.LazyFrame]:
        """Each snapshot extract of that day as the department writes it: lazy, so that a large one is
        formatted a chunk at a time as it is written (write_csv)."""
        w, d = self.w, as_of_day
        # Not yet born, or moved in from elsewhere (転入) after this extraction date: not in the registry.
        arrived_later = (pl.col("change_reason") == "転入") & (pl.col("change_day") > d)
        p = w.persons.lazy().filter((pl.col("birth") <= d) & ~arrived_later).with_columns(
            # Removed after this extraction date: still resident then.
            status=pl.when(pl.col("change_day") > d).then(pl.lit("住民")).otherwise(pl.col("status")),
            change_reason=pl.when(pl.col("change_day") > d).then(pl.lit("")).otherwise(pl.col("change_reason")),
            change_day=pl.when(pl.col("change_day") > d).then(NO_DAY).otherwise(pl.col("change_day")))
        jumin = p.select(
            宛名番号=pl.col("address_code").cast(pl.String).str.zfill(15),
            世帯番号=pl.col("household_code").cast(pl.String).str.zfill(15),
            氏名=pl.format("{}\u3000{}", "last", "first"),
            氏名カナ=pl.format("{} {}", "last_kana", "first_kana"),
            生年月日=self._dates("birth"),
            性別=pl.col("sex").cast(pl.String),
            続柄=pl.col("relation"),
            住所=pl.format(CITY + "{}{}丁目{}番{}号", "town", "chome", "banchi", "go"),
            町丁目コード=pl.col("area_code"),
            住民状態=pl.col("status"),
            異動事由=pl.col("change_reason"),
            異動日=self._dates("change_day"),
        )
        zei = w.zei.lazy().select(
            宛名番号=pl.col("address_code").cast(pl.String),  # the tax system writes it unpadded
            課税年度=pl.col("fiscal_year").cast(pl.String),
            課税区分=pl.col("tax_status"),
            総所得金額=pl.col("income").cast(pl.String),
            扶養人数=pl.col("dependants").cast(pl.String),
        )
        f = w.fukushi.lazy().filter(pl.col("start") <= d)
        fukushi = f.select(
            宛名番号=pl.col("address_code").cast(pl.String).str.zfill(15),
            制度=pl.col("programme"),
            開始日=self._dates("start"),
            終了日=pl.when(pl.col("end") > d).then(
                pl.when(pl.col("programme") == "就学援助").then(self._dates("end")).otherwise(pl.lit("")))
            .otherwise(self._dates("end")),
            世帯番号=pl.col("household_code").cast(pl.String).str.zfill(15),
        )
        g = w.gakureibo.lazy()
        gakureibo = g.select(
            宛名番号=pl.col("address_code").cast(pl.String).str.zfill(15),
            児童生徒番号=pl.col("pupil_id"),
            学校コード=pl.col("school_code"),
            学校名=pl.col("school_name"),
            学年=pl.col("grade").cast(pl.String),
            組=pl.col("class_name"),
            在籍状況=pl.col("enrolment_status"),
        )
        k = w.kenshin.lazy().filter(pl.col("scheduled") <= d + 60).with_columns(
            unknown=pl.col("attended").is_null() | (pl.col("attended") > d))
        kenshin = k.select(
            宛名番号=pl.col("address_code").cast(pl.String).str.zfill(15),
            健診種別=pl.col("kind"),
            予定日=self._dates("scheduled"),
            受診日=pl.when(pl.col("unknown")).then(pl.lit("")).otherwise(self._dates("attended")),
            身長=pl.when(pl.col("unknown")).then(pl.lit("")).otherwise(pl.col("height").cast(pl.String)),
            体重=pl.when(pl.col("unknown")).then(pl.lit("")).otherwise(pl.col("weight").cast(pl.String)),
            判定=pl.when(pl.col("unknown")).then(pl.lit("")).otherwise(pl.col("result")),
        )
        frames = {"jumin": jumin, "zei": zei, "fukushi": fukushi, "gakureibo": gakureibo, "kenshin": kenshin,
                  "jisou": jisou_frame(w.jisou, d).lazy()}
        return {k: v.fill_null("") for k, v in frames.items()}

    def make_dirty(self, frames: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
        """The messiness of population.md: each kind a few times, at seeded places."""
        rng = self.rng

        def pick(df: pl.DataFrame, share: float, at_least: int = 1) -> np.ndarray:
            return rng.random(df.height) < max(share, at_least / max(df.height, 1))

        def edit(df: pl.DataFrame, column: str, mask: np.ndarray, fn) -> pl.DataFrame:
            values = df[column].to_numpy().astype(object)
            values[mask] = [fn(v, i) for i, v in enumerate(values[mask])]
            return df.with_columns(pl.Series(column, values, dtype=pl.String))

        out = dict(frames)
        j = out["jumin"]
        j = edit(j, "宛名番号", pick(j, .01), lambda v, i: v.lstrip("0").translate(FULL_WIDTH))
        j = edit(j, "町丁目コード", pick(j, .01), lambda v, i: v.translate(FULL_WIDTH))
        j = edit(j, "氏名", pick(j, .02), lambda v, i: ("\u3000" + v) if i % 2 else (v + "\u3000\u3000"))
        era = pick(j, .1)
        births = j["生年月日"].str.to_date().to_numpy().astype("datetime64[D]").astype(int)
        rendered = to_era(births[era], rng.integers(0, 3, int(era.sum())))
        j = edit(j, "生年月日", era, lambda v, i: rendered[i])
        j = edit(j, "生年月日", pick(j, 0, 2), lambda v, i: ["R5.13.1", "2023-02-30"][i % 2])
        j = edit(j, "生年月日", pick(j, .05), lambda v, i: v.replace("-", "/"))
        j = edit(j, "性別", pick(j, 0, 2), lambda v, i: "9")
        j = edit(j, "続柄", pick(j, .003), lambda v, i: {"子": "長男", "妻": "妻(未届)"}.get(v, v))
        dup = j.sample(1, seed=int(rng.integers(1 << 30)))
        out["jumin"] = pl.concat([j, dup])
        z = out["zei"]
        z = edit(z, "課税年度", pick(z, .05), lambda v, i: f"R{int(v) - 2018}")
        z = edit(z, "課税区分", pick(z, 0, 2), lambda v, i: "免除")
        out["zei"] = z
        f = out["fukushi"]
        era = pick(f, .1)
        starts = f["開始日"].str.to_date().to_numpy().astype("datetime64[D]").astype(int)
        rendered = to_era(starts[era], rng.integers(0, 3, int(era.sum())))
        f = edit(f, "開始日", era, lambda v, i: rendered[i])
        f = edit(f, "制度", pick(f, 0, 2), lambda v, i: "子育て支援金")
        out["fukushi"] = f
        g = out["gakureibo"]
        g = edit(g, "学年", pick(g, .02), lambda v, i: v.translate(FULL_WIDTH))
        g = edit(g, "学校名", pick(g, .01), lambda v, i: "\u3000" + v)
        out["gakureibo"] = g
        k = out["kenshin"]
        k = edit(k, "予定日", pick(k, 0, 2), lambda v, i: "2026-02-30")
        k = edit(k, "予定日", pick(k, .05), lambda v, i: v.replace("-", ""))
        out["kenshin"] = k
        return out

    def attendance_frame(self, first_day: int, last_day: int) -> pl.DataFrame:
        return self.attendance_text(self.attendance_days(first_day, last_day))

    def attendance_days(self, first_day: int, last_day: int) -> pl.DataFrame:
        """The school days between two days, in the generator's compact form (see attendance_text)."""
        return self.w.attendance.filter(pl.col("day").is_between(first_day, last_day))

    def attendance_text(self, a: pl.DataFrame) -> pl.DataFrame:
        """Attendance records as the school system writes them."""
        from schemas.contract import ABSENCE_REASONS, ATTENDANCE_STATUSES
        a = a.join(self.w.attendance_pupils, on="pupil", how="left", maintain_order="left")
        return a.select(
            児童生徒番号=pl.col("pupil_id"),
            学校コード=pl.col("school_code"),
            日付=pl.col("day").cast(pl.Date).cast(pl.String),
            出欠区分=pl.col("status").replace_strict(list(range(6)), list(ATTENDANCE_STATUSES)),
            欠席理由=pl.col("reason").replace_strict([0, 1, 2, 3], ["", *ABSENCE_REASONS]),
            保健室利用=pl.when(pl.col("nurse") == 1).then(pl.lit("1")).otherwise(pl.lit("")),
        )


def write_csv(df: pl.DataFrame | pl.LazyFrame, path: Path, encoding: str = "cp932", as_text=None) -> int:
    """Write in chunks so that the largest extract never sits in memory as one string, nor as one text
    frame (a lazy frame is formatted a chunk at a time; ``as_text`` turns each chunk of a compact frame
    into the file's columns). Returns the data rows written."""
    chunk, rows = 1_000_000, 0
    with open(path, "wb") as out:
        if encoding == "utf-8-sig":
            out.write(b"\xef\xbb\xbf")
            encoding = "utf-8"
        for i in itertools.count():
            part = df.slice(i * chunk, chunk)
            part = part.collect() if isinstance(part, pl.LazyFrame) else part
            if as_text:
                part = as_text(part)
            if i > 0 and part.height == 0:
                break
            part = part.with_columns(pl.when(pl.col(c) != "").then(pl.col(c)).alias(c) for c in part.columns)  # empty, unquoted
            out.write(part.write_csv(include_header=(i == 0), line_terminator="\r\n").encode(encoding))
            rows += part.height
            if part.height < chunk:
                break
    return rows


@dataclass
class GenerationResult:
    preset: str
    seed: int
    as_of: str
    landing: str
    answers: str
    files: dict[str, int]  # file name -> data rows
    residents: int
    children: int
    pupils: int
    planted_children: int


def generate(preset: str, seed: int, as_of: date, out: Path, dirty: bool = False, days: int = 1,
             rates: Rates = Rates(), layout: str | None = None) -> GenerationResult:
    """Write ``out/landing/<extract>_<YYYYMMDD>.csv`` and ``out/answers/``.

    Snapshots are written for T − days and T; attendance as one file for the school year up to T − days
    and one delta file per day after it, so that consecutive nightly runs can be simulated.
    """
    out = Path(out)
    landing, answers = out / "landing", out / "answers"
    landing.mkdir(parents=True, exist_ok=True)
    answers.mkdir(parents=True, exist_ok=True)
    world = MunicipalityGenerator(preset, seed, as_of, rates).build()
    writer = ExtractWriter(world, np.random.default_rng([seed, 1]), dirty)
    t = _days(as_of)
    files: dict[str, int] = {}
    snapshot_days = sorted({t - days, t})
    for d in snapshot_days:
        stamp = (EPOCH + timedelta(days=d)).strftime("%Y%m%d")
        frames = writer.frames(d)
        if dirty:
            frames = writer.make_dirty({name: lazy.collect() for name, lazy in frames.items()})
        for name, df in frames.items():
            encoding = "utf-8-sig" if dirty and name == "kenshin" else "cp932"
            path = landing / f"{name}_{stamp}.csv"
            files[path.name] = write_csv(df, path, encoding)
        del frames
    base = writer.attendance_days(-1 << 40, t - days)
    path = landing / f"shukketsu_{(EPOCH + timedelta(days=t - days)).strftime('%Y%m%d')}.csv"
    files[path.name] = write_csv(base, path, as_text=writer.attendance_text)
    for d in range(t - days + 1, t + 1):
        delta = writer.attendance_frame(d, d)
        if dirty and d == t:
            delta = pl.concat([delta, _corrections(writer.attendance_frame(t - days - 14, t - 1), writer.rng)])
        path = landing / f"shukketsu_{(EPOCH + timedelta(days=d)).strftime('%Y%m%d')}.csv"
        write_csv(delta, path)
        files[path.name] = delta.height
    if layout:  # some departments' files in example vendor layouts, with the layout files that read them
        from seeds.layouts import write_layout_example

        for path in write_layout_example(layout, landing, out / "layouts"):
            files[path.name] = files.pop(path.name, None) or 0
    world.planted.write_csv(answers / "planted_children.csv")
    world.jisou_truth.write_csv(answers / "jisou_truth.csv")
    persons = world.persons
    result = GenerationResult(
        preset=preset, seed=seed, as_of=as_of.isoformat(), landing=str(landing), answers=str(answers),
        files=files, residents=int((persons["status"] == "住民").sum()), children=int(persons["child"].sum()),
        pupils=world.gakureibo.height, planted_children=world.planted.height)
    (answers / "generation.json").write_text(json.dumps(asdict(result), ensure_ascii=False, indent=2) + "\n")
    return result


def _corrections(recent: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """A school corrects a few earlier days: absences that were in fact attendance, and the reverse."""
    if recent.height == 0:
        return recent
    rows = recent.sample(min(20, recent.height), seed=int(rng.integers(1 << 30)))
    return rows.with_columns(
        出欠区分=pl.when(pl.col("出欠区分") == "欠席").then(pl.lit("出席")).otherwise(pl.lit("欠席")),
        欠席理由=pl.when(pl.col("出欠区分") == "欠席").then(pl.lit("")).otherwise(pl.lit("病気")))
