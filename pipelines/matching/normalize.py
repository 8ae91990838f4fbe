"""Japanese names and addresses as the linkage compares them (照合用の正規化), as polars expressions.

Written once and applied to both sides, the centre's records and the registry's, so that a difference of
writing (全角/半角, 旧字, spaces, ユウキ/ユーキ, シュン/シユン, 1-2-3 / 一丁目2番3号) is not a difference of person.
"""

from __future__ import annotations

import polars as pl

# Old (旧字体・異体字) → new forms of the characters common in names; NFKC maps none of these.
OLD_TO_NEW = {"髙": "高", "﨑": "崎", "嵜": "崎", "邊": "辺", "邉": "辺", "齋": "斎", "齊": "斉", "濱": "浜",
              "澤": "沢", "廣": "広", "嶋": "島", "櫻": "桜", "國": "国", "德": "徳", "龍": "竜", "塚": "塚",
              "榮": "栄", "藏": "蔵", "惠": "恵", "眞": "真", "實": "実", "壽": "寿", "與": "与", "兒": "児"}
SMALL_TO_LARGE = {"ァ": "ア", "ィ": "イ", "ゥ": "ウ", "ェ": "エ", "ォ": "オ", "ッ": "ツ", "ャ": "ヤ", "ュ": "ユ",
                  "ョ": "ヨ", "ヮ": "ワ", "ヵ": "カ", "ヶ": "ケ"}
VOICED_TO_PLAIN = dict(zip("ガギグゲゴザジズゼゾダヂヅデドバビブベボパピプペポヴ",
                           "カキクケコサシスセソタチツテトハヒフヘホハヒフヘホウ"))
HIRAGANA_TO_KATAKANA = {chr(c): chr(c + 0x60) for c in range(ord("ぁ"), ord("ゖ") + 1)}
# ー after a kana of each vowel row, written out as the vowel a long sound is spelt with (ユー → ユウ, ケー → ケイ)
LONG_VOWEL = {
    "ア": "アカサタナハマヤラワガザダバパャ", "イ": "イキシチニヒミリギジヂビピエケセテネヘメレゲゼデベペ",
    "ウ": "ウクスツヌフムユルグズヅブプュオコソトノホモヨロゴゾドボポョ",
}
KANJI_NUMBERS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}


def _kanji_number(text: str) -> int:
    """一 … 九十九 (丁目 are small): 十 alone is 10, 二十三 is 23."""
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (KANJI_NUMBERS.get(tens, 1) if tens else 1) * 10 + (KANJI_NUMBERS.get(ones, 0) if ones else 0)
    return KANJI_NUMBERS[text]


CHOME_IN_KANJI = {f"{k}丁目": f"{_kanji_number(k)}丁目" for k in
                  [*"一二三四五六七八九十", *(f"十{o}" for o in "一二三四五六七八九"), "二十"]}


def _nfkc_no_space(expr: pl.Expr) -> pl.Expr:
    return expr.str.normalize("NFKC").str.replace_all(r"\s+", "")


def kanji_name(expr: pl.Expr) -> pl.Expr:
    """氏名 without spaces, old forms as new: 髙橋　悠斗 and 高橋悠斗 compare equal."""
    return _nfkc_no_space(expr).str.replace_many(list(OLD_TO_NEW), list(OLD_TO_NEW.values()))


def given_name(expr: pl.Expr) -> pl.Expr:
    """The part after the space between surname and given name, or null when the name has none."""
    parts = expr.str.normalize("NFKC").str.strip_chars().str.split(" ")
    return pl.when(parts.list.len() >= 2).then(
        parts.list.last().str.replace_many(list(OLD_TO_NEW), list(OLD_TO_NEW.values())))


def kana(expr: pl.Expr) -> pl.Expr:
    """氏名カナ as one spelling: full-width katakana (NFKC joins ｶﾞ into ガ), no spaces, long sounds written
    out, small kana large (シュン and シユン, ユーキ and ユウキ compare equal). Empty → null."""
    out = _nfkc_no_space(expr).str.replace_many(list(HIRAGANA_TO_KATAKANA), list(HIRAGANA_TO_KATAKANA.values()))
    for _ in range(2):  # ユーー: a second pass for a long sound after a long sound
        for vowel, row in LONG_VOWEL.items():
            out = out.str.replace_all(f"([{row}])ー", f"${{1}}{vowel}")
    out = out.str.replace_many(list(SMALL_TO_LARGE), list(SMALL_TO_LARGE.values()))
    return pl.when(out.str.len_chars() > 0).then(out)


def kana_unvoiced(expr: pl.Expr) -> pl.Expr:
    """kana() without voiced marks: a ガ written カ still meets."""
    return kana(expr).str.replace_many(list(VOICED_TO_PLAIN), list(VOICED_TO_PLAIN.values()))


def address_parts(expr: pl.Expr) -> pl.Expr:
    """住所 → struct {town, chome, banchi, go}: NFKC, the building after the first space dropped,
    一丁目 → 1丁目, then 丁目/番地/番/号 and 1-2-3 read alike. The town keeps whatever precedes the 丁目 (with
    or without prefecture and city): compare towns by one ending with the other."""
    text = expr.str.normalize("NFKC").str.strip_chars().str.split(" ").list.first()
    text = text.str.replace_many(list(CHOME_IN_KANJI), list(CHOME_IN_KANJI.values()))
    text = text.str.replace_all(r"丁目|番地の?|番", "-").str.replace_all(r"号.*$", "")
    text = text.str.replace_all(r"[‐−―]", "-").str.replace_all(r"(\d)ー(\d)", "${1}-${2}")
    m = r"^(.*?)(\d+)-(\d+)(?:-(\d+))?"
    return pl.struct(
        town=text.str.extract(m, 1).str.replace(r"^\S*?[都道府県]", ""),
        chome=text.str.extract(m, 2).cast(pl.Int32, strict=False),
        banchi=text.str.extract(m, 3).cast(pl.Int32, strict=False),
        go=text.str.extract(m, 4).cast(pl.Int32, strict=False),
    )
