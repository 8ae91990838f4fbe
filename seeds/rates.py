"""Measure the base rates of population.md on generated files, read back through the pipeline's own
reader (so a rate is only counted from rows that pass the contract).

    python -m seeds.rates --preset toda --seed 1 --as-of 2026-11-30
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from pipelines.ingest.extracts import landing_files, read_extract, validate
from seeds.generator import Rates, generate, school_year_start


@dataclass(frozen=True)
class Measured:
    name: str
    target: float
    value: float
    population: int  # how many units the rate is over (children, pupils, households …)

    @property
    def tolerance(self) -> float:
        """Four binomial standard errors, plus 30 % of the target for the generator's own modelling."""
        se = (max(self.target, 1e-4) * (1 - self.target) / max(self.population, 1)) ** 0.5
        return 4 * se + 0.3 * self.target

    @property
    def within(self) -> bool:
        return abs(self.value - self.target) <= self.tolerance


def load(landing: Path, as_of: date) -> dict[str, pl.DataFrame]:
    frames = {}
    for name, files in landing_files(landing, as_of).items():
        if name == "shukketsu":
            frames[name] = pl.concat([validate(read_extract(f), as_of).valid for f in files])
            frames[name] = frames[name].unique(["pupil_id", "school_day"], keep="last")
        else:
            frames[name] = validate(read_extract(files[-1]), as_of).valid
    return frames


def measure(landing: Path, as_of: date, rates: Rates = Rates()) -> list[Measured]:
    f = load(landing, as_of)
    residents = f["jumin"].filter(pl.col("resident_status") == "住民").with_columns(
        age=((pl.lit(as_of) - pl.col("birth_date")).dt.total_days() / 365.25).floor())
    children = residents.filter(pl.col("age") < 18)
    hh_children = children.select("household_code").unique()
    ongoing = f["fukushi"].filter((pl.col("start_date") <= as_of)
                                  & (pl.col("end_date").is_null() | (pl.col("end_date") >= as_of)))
    members = residents.select("address_code", "household_code", "age")

    def households_with(programme: str) -> pl.DataFrame:
        return ongoing.filter(pl.col("programme") == programme).join(members, on="address_code") \
            .select("household_code").unique()

    hogo_children = children.join(households_with("生活保護"), on="household_code").height
    fuyo_households = hh_children.join(households_with("児童扶養手当"), on="household_code").height
    pupils = f["gakureibo"].filter(pl.col("enrolment_status") == "在籍")
    enjo = pupils.join(ongoing.filter(pl.col("programme") == "就学援助"), on="address_code", how="semi").height
    newest_year = f["zei"]["fiscal_year"].max()
    adult_tax = f["zei"].filter(pl.col("fiscal_year") == newest_year).join(members, on="address_code") \
        .filter(pl.col("age") >= 18).join(hh_children, on="household_code", how="semi")
    exempt = adult_tax.group_by("household_code").agg(pl.col("tax_status").eq("非課税").all().alias("x"))
    absences = f["shukketsu"].filter((pl.col("attendance") == "欠席")
                                     & (pl.col("school_day") >= school_year_start(as_of))) \
        .group_by("pupil_id").len()
    futoko = pupils.join(absences, on="pupil_id", how="left").with_columns(
        futoko=pl.col("len").fill_null(0) >= 30, junior=pl.col("school_code").str.starts_with("C"))
    past = f["kenshin"].filter(pl.col("checkup_kind").is_in(["4か月児", "1歳6か月児", "3歳児"])
                               & (pl.col("scheduled_date") <= as_of - timedelta(days=30))
                               & (pl.col("scheduled_date") > as_of - timedelta(days=365)))
    year_ago = as_of - timedelta(days=365)
    reports = f["fukushi"].filter((pl.col("programme") == "児童虐待通告") & (pl.col("start_date") > year_ago))
    supported = ongoing.filter(pl.col("programme") == "要保護児童等支援")
    elementary, junior = futoko.filter(~pl.col("junior")), futoko.filter(pl.col("junior"))
    return [
        Measured("residents under 18", 0.14, children.height / residents.height, residents.height),
        Measured("children in households on 生活保護", rates.seikatsu_hogo_children,
                 hogo_children / children.height, hh_children.height),
        Measured("households with children on 児童扶養手当", rates.jido_fuyo_households,
                 fuyo_households / hh_children.height, hh_children.height),
        Measured("pupils on 就学援助", rates.shugaku_enjo_pupils, enjo / pupils.height, pupils.height),
        Measured("households with children exempt (非課税)", rates.hikazei_households,
                 exempt["x"].mean() or 0.0, exempt.height),
        Measured("不登校, elementary", rates.futoko_elementary, elementary["futoko"].mean() or 0.0,
                 elementary.height),
        Measured("不登校, junior high", rates.futoko_junior_high, junior["futoko"].mean() or 0.0, junior.height),
        Measured("infant check-ups not attended", rates.infant_checkup_missed,
                 past["attended_date"].is_null().mean() or 0.0, past.height),
        Measured("児童虐待 reports in the last year, of children", rates.abuse_reports_per_year,
                 reports.join(children, on="address_code", how="semi").height / children.height, children.height),
        Measured("children supported (要保護児童等支援)", rates.supported_children,
                 supported.join(children, on="address_code", how="semi").height / children.height,
                 children.height),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="toda")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 11, 30))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = generate(args.preset, args.seed, args.as_of, Path(tmp), days=0)
        rows = measure(Path(result.landing), args.as_of)
    print(f"{args.preset} (seed {args.seed}, as of {args.as_of}): population.md rates, measured on the files")
    print(f"  {'rate':<48} {'target':>7} {'measured':>9} {'±tolerance':>11} {'n':>9}")
    for m in rows:
        print(f"  {m.name:<48} {m.target:>7.1%} {m.value:>9.2%} {m.tolerance:>11.2%} {m.population:>9,}"
              f"  {'ok' if m.within else 'OUT'}")


if __name__ == "__main__":
    main()
