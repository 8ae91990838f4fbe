"""The prefecture's 児童相談所 (child guidance centre) list of this municipality's children: records that carry no
宛名番号, written the way a caseworker wrote them down (../shared/spec/linkage.md, "The file").

Cases are drawn from the registry's children (more often from the households at risk), plus children the
registry does not hold. Every record is then given the messes real records have, each at a rate of its own;
``answers/jisou_truth.csv`` says, per case number, whose record it is (or nobody's) and which messes it
carries, so that the linkage can be measured and each kind of mess tested. All drawn from its own seeded
generator: the other extracts do not change when this file's rates do.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

CASE_TYPES = ("虐待相談", "養護相談", "一時保護", "非行相談", "育成相談", "障害相談")
CASE_TYPE_SHARES = (0.42, 0.2, 0.1, 0.08, 0.12, 0.08)
CASES_PER_CHILD = 0.005  # records on the list per registered child: a few per thousand
PREFECTURE = "見守県"  # fictional, as the city is

# New → old forms of the common characters of names (異体字), as an older record or a careful clerk writes.
OLD_FORMS = {"高": "髙", "崎": "﨑", "辺": "邊", "斎": "齋", "浜": "濱", "沢": "澤", "広": "廣", "島": "嶋",
             "桜": "櫻", "国": "國", "徳": "德", "竜": "龍"}
SMALL_KANA = str.maketrans("ャュョッァィゥェォ", "ヤユヨツアイウエオ")
VOICED = str.maketrans("ガギグゲゴザジズゼゾダヂヅデドバビブベボパピプペポ",
                       "カキクケコサシスセソタチツテトハヒフヘホハヒフヘホ")
HALF_WIDTH = dict(zip(
    "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲンャュョッァィゥェォー",
    "ｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜｦﾝｬｭｮｯｧｨｩｪｫｰ"))
HALF_WIDTH |= {v: HALF_WIDTH[u] + "ﾞ" for v, u in zip("ガギグゲゴザジズゼゾダヂヅデドバビブベボ",
                                                        "カキクケコサシスセソタチツテトハヒフヘホ")}
HALF_WIDTH |= {v: HALF_WIDTH[u] + "ﾟ" for v, u in zip("パピプペポ", "ハヒフヘホ")}
U_OR_O_ROW = set("ウクスツヌフムユルグズヅブプュオコソトノホモヨロゴゾドボポョ")
KANJI_DIGITS = "〇一二三四五六七八九"

MESSES = ("old_kanji", "no_space", "half_width_kana", "long_vowel", "small_kana", "voicing_lost", "no_kana",
          "birth_digit", "birth_swapped", "old_address", "guardian_remarried", "twin", "same_name_elsewhere",
          "second_case", "not_in_registry")


def _epoch_day(d: int) -> date:
    return date(1970, 1, 1) + timedelta(days=int(d))


def add_twins(persons: pl.DataFrame, rng: np.random.Generator, male: list[tuple[str, str]],
              female: list[tuple[str, str]], share: float = 0.01) -> pl.DataFrame:
    """Give some children of ordinary households a twin: a new resident of the same household, surname and
    birth date, another given name. Added after every other table is drawn (a twin in a private school
    or nursery has no other department's rows), so that the rest of the municipality stays as it was."""
    kids = persons.filter((pl.col("role") == 1) & (pl.col("risk") == 0) & (pl.col("status") == "住民"))
    kids = kids.filter(pl.Series(rng.random(kids.height) < share))
    if kids.is_empty():
        return persons
    sex = np.where(rng.random(kids.height) < 0.5, kids["sex"].to_numpy(), 3 - kids["sex"].to_numpy())
    names = [male[int(rng.integers(len(male)))] if s == 1 else female[int(rng.integers(len(female)))] for s in sex]
    names = [n if n[0] != old else (male if s == 1 else female)[(i + 1) % len(male if s == 1 else female)]
             for i, (n, old, s) in enumerate(zip(names, kids["first"].to_list(), sex))]
    first_code = int(persons["address_code"].max()) + 1
    twins = kids.with_columns(
        address_code=pl.Series(np.arange(first_code, first_code + kids.height)),
        sex=pl.Series(sex).cast(kids["sex"].dtype),
        first=pl.Series([n[0] for n in names]), first_kana=pl.Series([n[1] for n in names]),
        change_reason=pl.lit(""), change_day=pl.col("change_day"), planted=pl.lit(None, dtype=kids["planted"].dtype))
    return pl.concat([persons, twins.select(persons.columns)])


class JisouPlanter:
    """Draws the centre's cases and writes them as its records, with the truth beside them."""

    def __init__(self, persons: pl.DataFrame, rng: np.random.Generator, as_of_day: int, city: str,
                 last_names: list[tuple[str, str]], male: list[tuple[str, str]], female: list[tuple[str, str]],
                 towns: list[str]):
        self.p, self.rng, self.t, self.city = persons, rng, as_of_day, city
        self.last_names, self.male, self.female, self.towns = last_names, male, female, towns

    def plant(self) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
        """(persons with the same-name children planted, the centre's cases, the truth)."""
        rng, p = self.rng, self.p
        children = p.filter((pl.col("age") < 18) & (pl.col("birth") <= self.t))
        weight = children["risk"].replace_strict({0: 1.0, 1: 6.0, 2: 25.0}, return_dtype=pl.Float64).to_numpy()
        # 多胎児家庭 (twins) are a known risk factor, and the case linkage must keep apart
        twin = children.select(pl.len().over("household", "birth") > 1).to_series().to_numpy()
        weight = weight * (1 + 7 * twin)
        n = max(3, round(children.filter(pl.col("status") == "住民").height * CASES_PER_CHILD))
        chosen = rng.choice(children.height, min(n, children.height), replace=False, p=weight / weight.sum())
        cases = children[np.sort(chosen)].with_columns(messes=pl.lit([], dtype=pl.List(pl.String)))
        cases = self._with_twins(cases, children)
        second = cases.filter(pl.Series(rng.random(cases.height) < 0.05)).with_columns(
            messes=pl.col("messes").list.concat(pl.lit(["second_case"])))
        cases = pl.concat([cases, second])
        self.p = self._same_names(cases)
        heads = self.p.filter((pl.col("role") == 0) & pl.col("household").is_in(cases["household"].implode()))
        heads = heads.sort("household", -pl.col("sex"))  # the mother first, where there is one
        self.guardians = {r["household"]: r for r in heads.unique("household", keep="first").iter_rows(named=True)}
        records = [self._record(row) for row in cases.iter_rows(named=True)]
        records += [self._outsider() for _ in range(max(1, round(0.06 * len(records))))]
        order = rng.permutation(len(records))
        records = [records[i] for i in order]
        for i, r in enumerate(records):  # numbered by 受付 year, as the centre's system does
            r["児相ケース番号"] = f"{_epoch_day(r.pop('_received')).year}-{i + 1:06d}"
        truth = pl.DataFrame({"case_number": [r["児相ケース番号"] for r in records],
                              "address_code": [r.pop("_address_code") or None for r in records],
                              "messes": [";".join(r.pop("_messes")) for r in records]},
                             schema={"case_number": pl.String, "address_code": pl.String, "messes": pl.String})
        columns = ["児相ケース番号", "氏名", "氏名カナ", "生年月日", "性別", "住所", "保護者氏名", "対応区分", "受付日",
                   "終結日", "_received_day"]
        return self.p, pl.DataFrame(records, schema={c: pl.String for c in columns[:-1]} | {"_received_day": pl.Int64}
                                    ).select(columns), truth

    def _with_twins(self, cases: pl.DataFrame, children: pl.DataFrame) -> pl.DataFrame:
        """A case of one twin usually concerns the other too: both are on the list, as two records."""
        twins = children.join(cases.select("household", "birth", case_code="address_code"),
                              on=["household", "birth"]).filter(pl.col("address_code") != pl.col("case_code"))
        twins = twins.filter(~pl.col("address_code").is_in(cases["address_code"].implode()))
        twins = twins.filter(pl.Series(self.rng.random(twins.height) < 0.8)).drop("case_code")
        tagged = twins.with_columns(messes=pl.lit(["twin"]))
        cases = cases.with_columns(messes=pl.when(pl.col("address_code").is_in(twins["address_code"].implode())
                                                  | pl.struct("household", "birth").is_in(
            twins.select(pl.struct("household", "birth")).to_series().implode()))
            .then(pl.lit(["twin"])).otherwise(pl.col("messes")))
        return pl.concat([cases, tagged.select(cases.columns)])

    def _same_names(self, cases: pl.DataFrame) -> pl.DataFrame:
        """Give a few children elsewhere (another household, same surname and sex) a case child's given
        name: same-name children in other towns, which a match on name alone would take."""
        p, rng = self.p.with_row_index("row"), self.rng
        self.same_name: set[int] = set()
        pick = cases.filter(pl.Series(rng.random(cases.height) < 0.05))
        taken = set(cases["address_code"].to_list())
        kids = p.filter(pl.col("age") < 18)
        renamed: dict[int, tuple[str, str]] = {}
        for row in pick.iter_rows(named=True):
            others = kids.filter((pl.col("last") == row["last"]) & (pl.col("sex") == row["sex"])
                                 & (pl.col("household") != row["household"]) & (pl.col("area") != row["area"]))
            others = others.filter(~pl.col("address_code").is_in(list(taken)))
            if others.height == 0:
                continue
            other = others.row(int(rng.integers(others.height)), named=True)
            taken.add(other["address_code"])
            renamed[other["row"]] = (row["first"], row["first_kana"])
            self.same_name.add(row["address_code"])
        names = pl.DataFrame({"row": list(renamed), "new_first": [v[0] for v in renamed.values()],
                              "new_kana": [v[1] for v in renamed.values()]},
                             schema={"row": pl.UInt32, "new_first": pl.String, "new_kana": pl.String})
        return p.join(names, on="row", how="left", maintain_order="left").with_columns(
            first=pl.coalesce("new_first", "first"), first_kana=pl.coalesce("new_kana", "first_kana"),
        ).drop("row", "new_first", "new_kana")

    # ------------------------------------------------------------------------------------------ records

    def _record(self, child: dict) -> dict:
        rng = self.rng
        messes = list(child["messes"]) + (["same_name_elsewhere"] if child["address_code"] in self.same_name else [])
        last, first = child["last"], child["first"]
        if rng.random() < 0.5 and any(c in OLD_FORMS for c in last + first):
            last, first = last.translate(str.maketrans(OLD_FORMS)), first.translate(str.maketrans(OLD_FORMS))
            messes.append("old_kanji")
        sep = rng.choice(["\u3000", " ", ""], p=[0.5, 0.2, 0.3])
        if sep == "":
            messes.append("no_space")
        kana = self._kana(child["last_kana"], child["first_kana"], messes)
        birth = self._birth(int(child["birth"]), messes)
        address = self._address(child, messes)
        guardian = self._guardian(child, messes)
        return self._case(f"{last}{sep}{first}", kana, birth, str(child["sex"]), address, guardian,
                          str(child["address_code"]).zfill(15), messes, born=int(child["birth"]))

    def _outsider(self) -> dict:
        """A child the registry does not hold: moved away long ago, or never lived here."""
        rng = self.rng
        sex = int(rng.integers(1, 3))
        last = self.last_names[int(rng.integers(len(self.last_names)))]
        pool = self.male if sex == 1 else self.female
        first = pool[int(rng.integers(len(pool)))]
        birth = self.t - int(rng.integers(0, 18 * 365))
        address = f"{self.city}{self.towns[int(rng.integers(len(self.towns)))]}{int(rng.integers(1, 4))}丁目" \
                  f"{int(rng.integers(40, 60))}番{int(rng.integers(1, 30))}号"
        return self._case(f"{last[0]}\u3000{first[0]}", f"{last[1]} {first[1]}", self._format_date(birth), str(sex),
                          address, "", "", ["not_in_registry"], born=birth)

    def _case(self, name, kana, birth, sex, address, guardian, address_code, messes, born: int) -> dict:
        rng = self.rng
        kind = CASE_TYPES[int(rng.choice(len(CASE_TYPES), p=CASE_TYPE_SHARES))]
        received = max(born, self.t - int(rng.integers(0, 3 * 365)))
        closed = received + int(rng.integers(30, 400)) if rng.random() < 0.4 else None
        closed = closed if closed is not None and closed <= self.t else None
        return {"氏名": name, "氏名カナ": kana, "生年月日": birth, "性別": sex, "住所": address, "保護者氏名": guardian,
                "対応区分": kind, "受付日": _epoch_day(received).isoformat(),
                "終結日": _epoch_day(closed).isoformat() if closed else "", "_received_day": received,
                "_received": received, "_address_code": address_code, "_messes": messes}

    def _kana(self, last: str, first: str, messes: list[str]) -> str:
        rng = self.rng
        if rng.random() < 0.08:
            messes.append("no_kana")
            return ""
        kana = f"{last}{rng.choice([' ', '　', ''])}{first}"
        long_vowel = "".join(c + ("ー" if c == "ウ" and i and kana[i - 1] in U_OR_O_ROW else "") for i, c in enumerate(kana))
        if "ウ" in kana and long_vowel != kana and rng.random() < 0.4:  # ユウキ written ユーキ
            kana = "".join("ー" if c == "ウ" and i and kana[i - 1] in U_OR_O_ROW else c for i, c in enumerate(kana))
            messes.append("long_vowel")
        if kana != kana.translate(SMALL_KANA) and rng.random() < 0.3:  # シュン written シユン
            kana = kana.translate(SMALL_KANA)
            messes.append("small_kana")
        if kana != kana.translate(VOICED) and rng.random() < 0.04:  # a voiced mark lost
            i = next(i for i, c in enumerate(kana) if c != c.translate(VOICED))
            kana = kana[:i] + kana[i].translate(VOICED) + kana[i + 1:]
            messes.append("voicing_lost")
        if rng.random() < 0.2:
            kana = "".join(HALF_WIDTH.get(c, c) for c in kana)
            messes.append("half_width_kana")
        return kana

    def _birth(self, day: int, messes: list[str]) -> str:
        rng, d = self.rng, _epoch_day(day)
        if rng.random() < 0.03:  # one digit of the date written wrong
            digits = d.strftime("%Y%m%d")
            for _ in range(20):
                i = int(rng.choice([2, 3, 5, 6, 7]))
                wrong = digits[:i] + str(int(rng.integers(10))) + digits[i + 1:]
                try:
                    new = date(int(wrong[:4]), int(wrong[4:6]), int(wrong[6:]))
                except ValueError:
                    continue
                if new != d and new <= _epoch_day(self.t):
                    messes.append("birth_digit")
                    return self._format_date((new - date(1970, 1, 1)).days)
        elif rng.random() < 0.02 and d.day <= 12 and d.day != d.month:  # day and month swapped
            swapped = date(d.year, d.day, d.month)
            if swapped <= _epoch_day(self.t):
                messes.append("birth_swapped")
                return self._format_date((swapped - date(1970, 1, 1)).days)
        return self._format_date(day)

    def _format_date(self, day: int) -> str:
        d, style = _epoch_day(day), self.rng.random()
        if style < 0.6:
            return d.isoformat()
        if style < 0.8:
            return f"{d.year}/{d.month}/{d.day}"
        era, first = ("R", date(2019, 5, 1)) if d >= date(2019, 5, 1) else ("H", date(1989, 1, 8))
        return f"{era}{d.year - first.year + 1}.{d.month}.{d.day}"

    def _address(self, child: dict, messes: list[str]) -> str:
        rng = self.rng
        town, chome, banchi, go = child["town"], int(child["chome"]), int(child["banchi"]), int(child["go"])
        if rng.random() < 0.08:  # the address before a move within the city
            town, chome = self.towns[int(rng.integers(len(self.towns)))], int(rng.integers(1, 4))
            banchi, go = int(rng.integers(1, 40)), int(rng.integers(1, 30))
            messes.append("old_address")
        style = rng.random()
        if style < 0.3:
            text = f"{PREFECTURE}{self.city}{town}{chome}丁目{banchi}番{go}号"
        elif style < 0.6:
            text = f"{town}{chome}-{banchi}-{go}"
        elif style < 0.8:
            text = f"{self.city}{town}{KANJI_DIGITS[chome] if chome < 10 else chome}丁目{banchi}番地{go}"
        else:
            text = f"{self.city}{town}{chome}-{banchi}-{go} コーポ{town}{int(rng.integers(1, 4))}0{int(rng.integers(1, 6))}"
        return text if rng.random() > 0.05 else ""

    def _guardian(self, child: dict, messes: list[str]) -> str:
        rng = self.rng
        g = self.guardians.get(child["household"])
        if g is None or rng.random() < 0.15:
            return ""
        last = g["last"]
        if rng.random() < 0.05:  # remarried since: the guardian's new surname
            others = [n[0] for n in self.last_names if n[0] != last]
            last = others[int(rng.integers(len(others)))]
            messes.append("guardian_remarried")
        return f"{last}{rng.choice(['　', ' ', ''])}{g['first']}"


def jisou_frame(cases: pl.DataFrame, as_of_day: int) -> pl.DataFrame:
    """The centre's list as extracted on that day: the cases received by then, closed ones as of then."""
    return cases.filter(pl.col("_received_day") <= as_of_day).with_columns(
        終結日=pl.when(pl.col("終結日").str.to_date(strict=False) > _epoch_day(as_of_day)).then(pl.lit(""))
        .otherwise(pl.col("終結日"))).drop("_received_day")
