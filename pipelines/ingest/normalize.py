"""Normalisation of the departments' text into typed values, as polars expressions.

Every rule of the contract about how a value may be written lives here and nowhere else: full-width
digits and spaces, trimming, Japanese era dates (M/T/S/H/R and 明治…令和, 元年), 宛名番号 padded to 15
digits, code synonyms. Each column gives a typed value and, when the text cannot be read, a problem in
plain Japanese that becomes the row's quarantine reason. Nothing is guessed: a value that does not match
a rule is a problem, not a null.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from schemas.contract import CODE_SYNONYMS, ERAS, Column, Extract

SPACES = " \u3000\t\r\n"
PROBLEMS = "_problems"  # list of this row's problems, in Japanese

_ERA_NAMES = {sym: sym for sym, _, _ in ERAS} | {kanji: sym for sym, kanji, _ in ERAS}
_ERA_PATTERN = (
    r"^(?<era>" + "|".join(sorted(_ERA_NAMES, key=len, reverse=True)) + r")"
    r"(?<y>元|\d{1,2})[.年/\-](?<m>\d{1,2})[.月/\-](?<d>\d{1,2})日?$"
)
_GREGORIAN_PATTERN = r"^(?<y>\d{4})[\-/.](?<m>\d{1,2})[\-/.](?<d>\d{1,2})$"
_COMPACT_PATTERN = r"^(?<y>\d{4})(?<m>\d{2})(?<d>\d{2})$"


def clean_text(expr: pl.Expr) -> pl.Expr:
    """Trim half- and full-width spaces at either end; empty becomes null. Inner text is kept as written."""
    stripped = expr.str.strip_chars(SPACES)
    return pl.when(stripped != "").then(stripped)


def clean_code(expr: pl.Expr) -> pl.Expr:
    """NFKC (full-width digits, letters and brackets to ASCII), then trim. Only for codes, never names."""
    return clean_text(expr.str.normalize("NFKC"))


def parse_date(expr: pl.Expr) -> pl.Expr:
    """Text to a date: YYYY-MM-DD, YYYY/MM/DD, YYYYMMDD, or an era date (R5.4.1, 令和元年5月1日 …).

    Returns null for anything else, and for impossible dates (2023-02-30) or era dates outside their era
    (令和元年4月30日). ``date_problem`` tells the two apart from an empty field.
    """
    text = clean_code(expr)
    dashed, compact = text.str.extract_groups(_GREGORIAN_PATTERN), text.str.extract_groups(_COMPACT_PATTERN)
    era = text.str.extract_groups(_ERA_PATTERN)
    era_symbol = era.struct.field("era").replace_strict(_ERA_NAMES, default=None)
    era_year = era.struct.field("y").replace("元", "1").cast(pl.Int32, strict=False)
    era_first = era_symbol.replace_strict({sym: start for sym, _, start in ERAS}, default=None,
                                          return_dtype=pl.Date)
    era_next = era_symbol.replace_strict(
        {ERAS[i][0]: ERAS[i + 1][2] for i in range(len(ERAS) - 1)}, default=date(9999, 12, 31),
        return_dtype=pl.Date)

    def part(name: str) -> pl.Expr:
        return pl.coalesce(dashed.struct.field(name), compact.struct.field(name), era.struct.field(name))

    year = pl.coalesce(pl.coalesce(dashed.struct.field("y"), compact.struct.field("y")).cast(pl.Int32, strict=False),
                       era_first.dt.year().cast(pl.Int32) + era_year - 1)
    month, day = part("m").cast(pl.Int32, strict=False), part("d").cast(pl.Int32, strict=False)
    iso = pl.format("{}-{}-{}", year.cast(pl.String).str.zfill(4), month.cast(pl.String).str.zfill(2),
                    day.cast(pl.String).str.zfill(2))
    parsed = iso.str.to_date("%Y-%m-%d", strict=False)
    in_era = era_symbol.is_null() | ((parsed >= era_first) & (parsed < era_next))
    return pl.when(in_era & (year >= 1)).then(parsed)  # there is no year 0 (polars would make one)


def parse_fiscal_year(expr: pl.Expr) -> pl.Expr:
    """課税年度: 2026, R8, 令和8, 令和8年度 → 2026."""
    text = clean_code(expr).str.replace(r"年度?$", "")
    era = text.str.extract_groups(r"^(?<era>" + "|".join(_ERA_NAMES) + r")(?<y>元|\d{1,2})$")
    era_year = era.struct.field("y").replace("元", "1").cast(pl.Int32, strict=False)
    era_start = era.struct.field("era").replace_strict(_ERA_NAMES, default=None).replace_strict(
        {sym: start.year for sym, _, start in ERAS}, default=None, return_dtype=pl.Int32)
    plain = pl.when(text.str.contains(r"^[0-9]{4}$")).then(text.cast(pl.Int32, strict=False))
    return pl.coalesce(plain, era_start + era_year - 1)


def _problem(column: Column, raw: pl.Expr, message: str) -> pl.Expr:
    return pl.format("{}: 「{}」" + message, pl.lit(column.japanese), raw)


def normalise_column(column: Column) -> tuple[pl.Expr, pl.Expr]:
    """(typed value, problem or null) for one column of the contract, reading the raw text column."""
    raw = pl.col(column.japanese)
    present = clean_text(raw).is_not_null()
    if column.kind == "id15":
        text = clean_code(raw).str.replace_all(r"[\s\-]", "")
        ok = text.str.contains(r"^[0-9]{1,15}$")
        value = pl.when(ok).then(text.str.zfill(15))
        problem = pl.when(present & ~ok.fill_null(False)).then(_problem(column, raw, "は15桁以内の数字ではありません"))
    elif column.kind == "digits":
        text = clean_code(raw)
        ok = text.str.contains(r"^[0-9]+$")
        value = pl.when(ok).then(text)
        problem = pl.when(present & ~ok.fill_null(False)).then(_problem(column, raw, "は数字ではありません"))
    elif column.kind == "date":
        value = parse_date(raw)
        problem = pl.when(present & value.is_null()).then(_problem(column, raw, "は日付として読めません"))
    elif column.kind == "int":
        value = parse_fiscal_year(raw) if column.name == "fiscal_year" else \
            clean_code(raw).str.replace_all(",", "").cast(pl.Int64, strict=False)
        problem = pl.when(present & value.is_null()).then(_problem(column, raw, "は整数ではありません"))
    elif column.kind == "decimal":
        text = clean_code(raw)
        value = pl.when(text.str.contains(r"^[0-9]+(\.[0-9]+)?$")).then(text.cast(pl.Float64, strict=False))
        problem = pl.when(present & value.is_null()).then(_problem(column, raw, "は数値ではありません"))
    elif column.kind == "code":
        text = clean_code(raw)
        synonyms = CODE_SYNONYMS.get(column.name, {})
        if column.name == "relation":  # 妻(未届), 子(養子) …: the part before the bracket
            text = pl.when(text.is_in(list(synonyms))).then(text).otherwise(text.str.replace(r"\(.*\)$", ""))
        value = text.replace(synonyms) if synonyms else text
        if "" in synonyms:  # an empty field with a meaning (保健室利用: empty = 0)
            value = pl.coalesce(value, pl.lit(synonyms[""]))
        # a code without a code list (a staff code) is only normalised; its pattern is the schema's
        problem = pl.when(value.is_not_null() & ~value.is_in(list(column.codes))).then(
            _problem(column, raw, "はコード表にない値です")) if column.codes else pl.lit(None, pl.String)
    else:  # text
        value = clean_text(raw)
        problem = pl.lit(None, dtype=pl.String)
    if column.required:
        problem = pl.coalesce(problem, pl.when(~present).then(pl.lit(f"{column.japanese}: 必須項目が空です")))
    return value.alias(column.name), problem


def canonical_value(column: Column) -> pl.Expr | None:
    """The typed value of text already written the canonical way (ASCII digits, nothing to trim), else null.

    A registry has as many distinct 宛名番号 as rows, so the full rules (NFKC, era dates …) per distinct
    value would cost seconds (and its birth dates, tens of thousands a batch, a quarter of its
    normalisation); the few values not written canonically still take the full rules.
    """
    raw = pl.col(column.japanese)
    if column.kind == "id15":
        return pl.when(raw.str.contains(r"^[0-9]{1,15}$")).then(raw.str.zfill(15))
    if column.kind == "digits":
        return pl.when(raw.str.contains(r"^[0-9]+$")).then(raw)
    if column.kind == "int" and column.name != "fiscal_year":  # 所得 (income): nearly every value distinct
        return pl.when(raw.str.contains(r"^[0-9]{1,18}$")).then(raw.cast(pl.Int64, strict=False))
    if column.kind == "date":  # YYYY-MM-DD (an impossible one stays null: the full rules name it)
        return pl.when(raw.str.contains(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$") & ~raw.str.starts_with("0000")).then(
            raw.str.to_date("%Y-%m-%d", strict=False))
    return None


def normalise(raw: pl.DataFrame, extract: Extract) -> pl.DataFrame:
    """Raw text columns (Japanese headers) → typed columns (English names) plus the ``_problems`` list.

    Values that could not be read are null in the typed column and named in ``_problems``; the raw
    frame is left as it is, so quarantine can show the department's original text. Free text is only
    trimmed, on every row; every other column's rules run once per distinct value (an attendance file has
    millions of rows but a few hundred dates), and only for values not already canonical
    (see ``canonical_value``).
    """
    frame = raw
    problem_columns = []
    for column in extract.columns:
        value, problem = normalise_column(column)
        problem_columns.append(f"_problem_{column.name}")
        if column.kind == "text":  # trimming only: cheaper on every row than once per distinct value and a join
            frame = frame.with_columns(value, problem.alias(problem_columns[-1]))
            continue
        fast = canonical_value(column)
        if fast is None:
            lookup = raw.select(pl.col(column.japanese).unique()).with_columns(
                value, problem.alias(problem_columns[-1]))
            frame = frame.join(lookup, on=column.japanese, how="left", nulls_equal=True, maintain_order="left")
            continue
        frame = frame.with_columns(fast.alias(column.name), pl.lit(None, pl.String).alias(problem_columns[-1]))
        pending = frame.filter(pl.col(column.name).is_null()).select(pl.col(column.japanese).unique())
        if pending.height:
            lookup = pending.with_columns(value.alias("_slow_value"), problem.alias("_slow_problem"))
            frame = frame.join(lookup, on=column.japanese, how="left", nulls_equal=True, maintain_order="left") \
                .with_columns(pl.coalesce(column.name, "_slow_value").alias(column.name),
                              pl.col("_slow_problem").alias(problem_columns[-1])) \
                .drop("_slow_value", "_slow_problem")
    problems = pl.concat_list(problem_columns).list.drop_nulls()
    return frame.select(pl.col("_line"), *[c.name for c in extract.columns], problems.alias(PROBLEMS))
