"""The analysts' groups in words: one place for the names the fairness tables and the lab show."""

HOUSEHOLD_TYPES = {"one_adult": "大人1人の世帯", "two_adults": "大人2人の世帯", "three_or_more_adults": "大人3人以上の世帯",
                   "no_adult": "大人のいない世帯"}
# How the fairness tables name dimensions and groups for their Japanese readers; the lab, read by analysts who
# query the marts by the codes, shows the code beside the word
DIMENSION_LABELS = {"sex": "性別", "age_band": "年齢帯", "town_code": "地区", "household_type": "世帯類型"}
SEX_LABELS = {"1": "男", "2": "女"}


def group_label(dimension: str, group: str, with_code: bool = False) -> tuple[str, str]:
    """(dimension, group) in words: ("性別", "男"), ("年齢帯", "6〜11歳"), ("世帯類型", "大人1人の世帯"),
    ("地区", "地区 101")."""
    words = {"sex": lambda g: SEX_LABELS.get(g, g),
             "age_band": lambda g: g.replace("-", "〜") + "歳",
             "household_type": lambda g: HOUSEHOLD_TYPES.get(g, g),
             "town_code": lambda g: f"地区 {g}"}.get(dimension, lambda g: g)
    word = words(group)
    if with_code and dimension in ("sex", "household_type"):
        word = f"{word}（{group}）"
    return DIMENSION_LABELS.get(dimension, dimension) + (f"（{dimension}）" if with_code else ""), word
