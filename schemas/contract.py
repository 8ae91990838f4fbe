"""The department extracts' contract (../shared/spec/extracts.md) as data.

One place names every extract, its Japanese columns, their English names in the warehouse, which are
required, and the code lists. The generator, the normaliser, the pandera schemas and the docs all read
this module, so the contract is written once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class Column:
    japanese: str  # header in the department's file
    name: str  # column name in the warehouse
    kind: str  # "id15" | "text" | "code" | "date" | "int" | "decimal" | "digits"
    required: bool = False
    codes: tuple[str, ...] = ()  # canonical values, for kind == "code" (none: normalised only)


@dataclass(frozen=True)
class Extract:
    name: str  # file stem, e.g. "jumin"
    department: str
    snapshot: bool  # full snapshot (newest file wins) or daily delta (every file ≤ T)
    columns: tuple[Column, ...]
    unique: tuple[str, ...] = ()  # key unique within one file
    description: str = ""
    group: str = field(default="")
    title: str = ""  # the department's data in Japanese, as caseworkers and departments name it (住民記録)
    english: str = ""  # the same in English (resident registry)
    feeds: tuple[str, ...] = ()  # the signals (flag-rules.md ids) that read this extract's rows
    headers_required: tuple[str, ...] = ()  # columns a file must have, when not just the required ones

    @property
    def required_headers(self) -> list[str]:
        return list(self.headers_required) or [c.japanese for c in self.columns if c.required]

    @property
    def label(self) -> str:
        """住民記録 jumin: how messages name an extract, in Japanese and as its files are named."""
        return f"{self.title} {self.name}"

    @property
    def file_pattern(self) -> str:
        return f"{self.name}_YYYYMMDD.csv"

    @property
    def headers(self) -> list[str]:
        return [c.japanese for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


RELATIONS = ("世帯主", "妻", "夫", "子", "父", "母", "祖父", "祖母", "孫", "兄", "姉", "弟", "妹", "同居人", "その他")
RESIDENT_STATUSES = ("住民", "消除")
CHANGE_REASONS = ("出生", "転入", "転居", "転出", "死亡", "職権記載", "職権消除")
TAX_STATUSES = ("課税", "均等割のみ課税", "非課税")
PROGRAMMES = (
    "生活保護",
    "児童扶養手当",
    "就学援助",
    "特別児童扶養手当",
    "家庭児童相談",
    "児童虐待通告",
    "要保護児童等支援",
)
ENROLMENT_STATUSES = ("在籍", "転出", "卒業")
ATTENDANCE_STATUSES = ("出席", "欠席", "遅刻", "早退", "出席停止", "忌引")
ABSENCE_REASONS = ("病気", "経済的理由", "その他")
CHECKUP_KINDS = ("4か月児", "1歳6か月児", "3歳児", "就学時", "学校定期")
CHECKUP_RESULTS = ("異常なし", "要観察", "要精密", "要医療")
GUIDANCE_CASE_TYPES = ("虐待相談", "養護相談", "一時保護", "非行相談", "育成相談", "障害相談")  # 対応区分

# Japanese eras: symbol, kanji name, first day. Era year 1 (元年) is the year of the first day.
ERAS: tuple[tuple[str, str, date], ...] = (
    ("M", "明治", date(1868, 10, 23)),
    ("T", "大正", date(1912, 7, 30)),
    ("S", "昭和", date(1926, 12, 25)),
    ("H", "平成", date(1989, 1, 8)),
    ("R", "令和", date(2019, 5, 1)),
)

EXTRACTS: dict[str, Extract] = {
    e.name: e
    for e in (
        Extract(
            "jumin",
            "市民課 resident registry (住民記録)",
            True,
            (
                Column("宛名番号", "address_code", "id15", True),
                Column("世帯番号", "household_code", "id15", True),
                Column("氏名", "full_name", "text", True),
                Column("氏名カナ", "full_name_kana", "text"),
                Column("生年月日", "birth_date", "date", True),
                Column("性別", "sex", "code", True, ("1", "2")),
                Column("続柄", "relation", "code", True, RELATIONS),
                Column("住所", "address", "text", True),
                Column("町丁目コード", "area_code", "digits", True),
                Column("住民状態", "resident_status", "code", True, RESIDENT_STATUSES),
                Column("異動事由", "change_reason", "code", False, CHANGE_REASONS),
                Column("異動日", "change_date", "date"),
            ),
            unique=("address_code",),
            description="One person: residents and recently removed.",
            group="registry",
            title="住民記録",
            english="resident registry",
            feeds=("E1", "E2", "E3", "E4", "C1", "C2", "C3", "S1", "S2", "S3", "S4", "H1", "H2"),
        ),
        Extract(
            "zei",
            "税務課 individual resident tax (個人住民税)",
            True,
            (
                Column("宛名番号", "address_code", "id15", True),
                Column("課税年度", "fiscal_year", "int", True),
                Column("課税区分", "tax_status", "code", True, TAX_STATUSES),
                Column("総所得金額", "total_income_yen", "int"),
                Column("扶養人数", "dependants", "int"),
            ),
            unique=("address_code", "fiscal_year"),
            description="One taxpayer in one fiscal year.",
            group="tax",
            title="個人住民税",
            english="resident tax",
            feeds=("E4",),
        ),
        Extract(
            "fukushi",
            "福祉部局 welfare and child consultation",
            True,
            (
                Column("宛名番号", "address_code", "id15", True),
                Column("制度", "programme", "code", True, PROGRAMMES),
                Column("開始日", "start_date", "date", True),
                Column("終了日", "end_date", "date"),
                Column("世帯番号", "household_code", "id15"),
            ),
            description="One person's enrolment in one programme.",
            group="welfare",
            title="福祉",
            english="welfare and child consultations",
            feeds=("E1", "E2", "E3", "C1", "C2"),
        ),
        Extract(
            "gakureibo",
            "教育委員会 school register (学齢簿)",
            True,
            (
                Column("宛名番号", "address_code", "id15", True),
                Column("児童生徒番号", "pupil_id", "digits", True),
                Column("学校コード", "school_code", "text", True),
                Column("学校名", "school_name", "text", True),
                Column("学年", "grade", "int", True),
                Column("組", "class_name", "text"),
                Column("在籍状況", "enrolment_status", "code", True, ENROLMENT_STATUSES),
            ),
            unique=("pupil_id",),
            description="One pupil enrolled at a school.",
            group="school",
            title="学齢簿",
            english="school register",
            feeds=("S1", "S2", "S3", "S4"),
        ),
        Extract(
            "shukketsu",
            "学校 校務支援システム attendance (出欠)",
            False,
            (
                Column("児童生徒番号", "pupil_id", "digits", True),
                Column("学校コード", "school_code", "text", True),
                Column("日付", "school_day", "date", True),
                Column("出欠区分", "attendance", "code", True, ATTENDANCE_STATUSES),
                Column("欠席理由", "absence_reason", "code", False, ABSENCE_REASONS),
                Column("保健室利用", "nurse_visit", "code", False, ("0", "1")),
            ),
            unique=("pupil_id", "school_day"),
            description="One pupil on one school day (daily delta).",
            group="school",
            title="出欠",
            english="school attendance",
            feeds=("S1", "S2", "S3", "S4"),
        ),
        Extract(
            "kenshin",
            "健康推進課 / 学校保健 health checks (健診)",
            True,
            (
                Column("宛名番号", "address_code", "id15", True),
                Column("健診種別", "checkup_kind", "code", True, CHECKUP_KINDS),
                Column("予定日", "scheduled_date", "date", True),
                Column("受診日", "attended_date", "date"),
                Column("身長", "height_cm", "decimal"),
                Column("体重", "weight_kg", "decimal"),
                Column("判定", "result", "code", False, CHECKUP_RESULTS),
            ),
            unique=("address_code", "checkup_kind", "scheduled_date"),
            description="One scheduled check-up of one child.",
            group="health",
            title="健診",
            english="health check-ups",
            feeds=("C3", "H1", "H2"),
        ),
        Extract(
            "jisou",
            "県 児童相談所 child guidance centre's list (児相ケース), under an agreement (../shared/spec/linkage.md)",
            True,
            (
                Column("児相ケース番号", "case_number", "text", True),
                Column("氏名", "full_name", "text", True),
                Column("氏名カナ", "full_name_kana", "text"),
                Column("生年月日", "birth_date", "date", True),
                Column("性別", "sex", "code", True, ("1", "2")),
                Column("住所", "address", "text"),
                Column("保護者氏名", "guardian_name", "text"),
                Column("対応区分", "case_type", "code", True, GUIDANCE_CASE_TYPES),
                Column("受付日", "received_on", "date", True),
                Column("終結日", "closed_on", "date"),
            ),
            unique=("case_number",),
            description="One case of the prefecture's centre about a child of the city; no 宛名番号: linked by "
                        "name, birth date and address (pipelines/matching).",
            group="guidance",
            title="児童相談所",
            english="child guidance centre",
            feeds=("C4",),
        ),
    )
}

# Synonyms that real systems write, mapped to the contract's canonical code (続柄 "mapped to the nearest").
CODE_SYNONYMS: dict[str, dict[str, str]] = {
    "relation": {
        "妻(未届)": "妻",
        "夫(未届)": "夫",
        "子の子": "孫",
        "養子": "子",
        "長男": "子",
        "長女": "子",
        "二男": "子",
        "二女": "子",
        "次男": "子",
        "次女": "子",
        "子の妻": "その他",
        "子の夫": "その他",
        "縁故者": "同居人",
        "祖父母": "その他",
        "父母": "その他",
        "義父": "父",
        "義母": "母",
        "孫の子": "その他",
    },
    "sex": {"男": "1", "女": "2"},
    "nurse_visit": {"": "0"},
}


# The caseworkers' reviews coming back (../shared/spec/reviews.md): not a department's extract, but read
# under the same rules (normalisation, pandera, quarantine with 行番号 and 理由).
REVIEW_RESULTS = ("要支援", "見守り", "支援不要", "支援中", "対象外")
REVIEW_INPUTS = ("確認日", "確認結果", "確認者")  # the three columns a caseworker fills
RETURNS = Extract(
    "returns",
    "支援拠点 caseworkers' reviews of the lists (確認結果)",
    False,
    (
        Column("宛名番号", "address_code", "id15", True),
        Column("判定基準日", "list_date", "date"),
        Column("確認日", "reviewed_on", "date"),
        Column("確認結果", "result", "code", False, REVIEW_RESULTS),
        Column("確認者", "reviewer", "code"),  # a staff code: NFKC, then checked by its pattern
    ),
    description="One child's review on a returned list.",
    group="caseworker_feedback",
    title="確認結果",
    english="caseworkers' reviews",
    headers_required=("宛名番号", *REVIEW_INPUTS),
)

# The data team's decisions on the linkage's review file (照合確認, ../shared/spec/linkage.md), returned into
# <landing>/returns/ and read under the same rules as an extract.
LINKAGE_DECISIONS = ("同一", "別人")
LINKAGE_INPUTS = ("判定", "確認日", "確認者")  # the three columns the data team fills
LINKAGE_RETURNS = Extract(
    "linkage_returns",
    "データ担当 the data team's linkage reviews (照合確認)",
    False,
    (
        Column("児相ケース番号", "case_number", "text", True),
        Column("宛名番号", "address_code", "id15", True),
        Column("判定", "decision", "code", False, LINKAGE_DECISIONS),
        Column("確認日", "reviewed_on", "date"),
        Column("確認者", "reviewer", "code"),
        Column("照合キー", "pair_hash", "text", True),
    ),
    description="One pair put to review: the centre's record and a resident, judged the same child or not.",
    group="guidance",
    title="照合確認",
    english="linkage reviews",
)
