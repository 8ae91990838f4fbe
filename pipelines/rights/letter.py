"""The first pages of a disclosure (開示): a letter a parent can read (rights.md; issue "written for the people
who read it"). What mimamori is and is not, what is held by department in counts and periods, the nights the
child was on the list with each signal in a sentence, the caseworkers' reviews, who looked at the record,
when it will be deleted, how to ask for a correction or a stop, and attendance by month. The full rows follow
as the appendix (disclosure.py)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date

import duckdb
import polars as pl

from pipelines.analysis.labels import SEX_LABELS
from pipelines.core import config
from pipelines.core.charts import Charts
from pipelines.core.store import table_exists
from pipelines.rights.requests import PERSON_TABLES, set_aside_table
from schemas.contract import EXTRACTS

# what each department's data is, in a parent's words
HELD = {
    "jumin": "住民記録（氏名・生年月日・住所・世帯）",
    "zei": "住民税の課税の状況",
    "fukushi": "福祉の制度の利用と相談の記録",
    "gakureibo": "学校・学年の記録（学齢簿）",
    "shukketsu": "学校の毎日の出欠",
    "kenshin": "健康診断の予定と結果",
    "jisou": "児童相談所の記録（照合できたもの）",
}
# the codes of the appendix in words
CODE_WORDS = {"sex": SEX_LABELS, "nurse_visit": {"0": "なし", "1": "あり"}}
REVIEW_WORDS = {"要支援": "支援が必要と判断し、支援を始めました", "見守り": "今は支援を始めず、見守ることにしました",
                "支援不要": "心配はないと判断しました", "支援中": "別の窓口ですでに支援しています",
                "対象外": "対象ではないと判断しました（転出・データの誤りなど）"}


def signal_sentence(signal: str, rules: dict) -> str:
    """One sentence per signal, its thresholds read from the rules in force (config/rules.yml)."""
    r = rules["signals"][signal]
    sentences = {
        "E1": "世帯が生活保護を受けています。",
        "E2": "世帯が児童扶養手当を受けています。",
        "E3": "就学援助を受けています。",
        "E4": f"世帯の{rules.get('adult_age', 18)}歳以上の方が、みな住民税非課税です。",
        "C1": f"この{r.get('within_days')}日の間に、虐待の通告がありました。",
        "C2": f"この{r.get('within_days')}日の間に、家庭児童相談がありました。",
        "C3": f"乳幼児健診（{'・'.join(r.get('checkups', []))}）を、予定日から{r.get('grace_days')}日たっても受けていません。",
        "C4": f"児童相談所の記録（{'・'.join(r.get('case_types', []))}）が、続いているか、終わってから{r.get('within_days')}日以内です。",
        "S1": f"前の月に、学校を{r.get('min_days')}日以上欠席しました。",
        "S2": f"今年度、学校を{r.get('min_days')}日以上欠席しました。",
        "S3": f"この{r.get('recent_days')}日の遅刻・早退が{r.get('min_count')}回以上あり、その前の{r.get('baseline_days')}日と比べて"
              f"{r.get('ratio')}倍以上に増えました。",
        "S4": f"この{r.get('recent_days')}日の保健室の利用が{r.get('min_count')}回以上あり、その前の{r.get('baseline_days')}日と比べて"
              f"{r.get('ratio')}倍以上に増えました。",
        "H1": f"この{r.get('within_days')}日の健康診断で「{'・'.join(r.get('results', []))}」と判定されました。",
        "H2": f"体重が、前回の健康診断の{round(float(r.get('ratio', 0.9)) * 100)}%未満に減りました。",
    }
    return sentences.get(signal, r["label"])


@dataclass
class Held:
    title: str
    what: str
    rows: int
    set_aside: int  # of the rows, those not in use (利用停止, 訂正)
    first: date | None
    last: date | None


def holdings(con: duckdb.DuckDBPyConnection, person_keys: dict[str, list[str]]) -> list[Held]:
    """Per department: how many records, and the period their dates span (in use and set aside alike)."""
    out = []
    for name, extract in EXTRACTS.items():
        key = PERSON_TABLES.get(name, "case_number")
        keys = person_keys.get(key, [])
        dates = [c.name for c in extract.columns if c.kind == "date"]
        rows, set_aside, first, last = 0, 0, None, None
        for table in (f"raw.{name}", set_aside_table(name)):
            if not keys or not table_exists(con, table):
                continue
            span = ", ".join(f"min({d}), max({d})" for d in dates) or "null, null"
            n, *bounds = con.execute(f"select count(*), {span} from {table} where {key} in (select unnest(?))",
                                     [keys]).fetchone()
            rows += n
            set_aside += n if table != f"raw.{name}" else 0
            found = [b for b in bounds if b is not None]
            if found:
                first = min([first, *found]) if first else min(found)
                last = max([last, *found]) if last else max(found)
        out.append(Held(extract.title, HELD.get(name, extract.title), rows, set_aside, first, last))
    return out


def attendance_by_month(con: duckdb.DuckDBPyConnection, pupils: list[str]) -> pl.DataFrame:
    if not pupils or not table_exists(con, "raw.shukketsu"):
        return pl.DataFrame(schema={"month": pl.Date, "school_days": pl.Int64, "absent": pl.Int64})
    return con.execute("""select date_trunc('month', school_day)::date as month, count(*) as school_days,
                                 count(*) filter (where attendance = '欠席') as absent
                          from raw.shukketsu where pupil_id in (select unnest(?)) group by 1 order by 1""",
                       [pupils]).pl()


def attendance_chart(months: pl.DataFrame) -> str:
    import matplotlib.pyplot as plt

    charts = Charts()
    fig, ax = plt.subplots(figsize=(6.0, 2.4))
    labels = [f"{m.month}月" for m in months["month"]]
    present = [d - a for d, a in zip(months["school_days"], months["absent"])]
    ax.bar(labels, present, color="#3e7cb1", label="出席した日")
    ax.bar(labels, months["absent"].to_list(), bottom=present, color="#e8a33d", label="欠席した日")
    ax.set_ylabel("日数", fontsize=8)
    ax.set_title("学校の出欠（月ごと）", fontsize=10)
    ax.tick_params(labelsize=8)
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return charts.svg(fig)


def _date(d) -> str:
    return "" if d is None else f"{d.year}年{d.month}月{d.day}日"


def letter(*, name: str | None, office: dict, held: list[Held], nights: pl.DataFrame, reviews: list[tuple],
           looked: int, deletion: str, corrections: int, suspensions: int, months: pl.DataFrame) -> str:
    """The letter's HTML: plain Japanese, one idea per paragraph, the details after it in the appendix."""
    e, rules = html.escape, config.rules()
    to = f"{e(name)} さんと保護者の方へ" if name else "ご本人と保護者の方へ"
    held_rows = "".join(
        f"<tr><td>{e(h.title)}</td><td>{e(h.what)}</td>"
        f"<td>{h.rows:,}件{f'（うち使っていないもの {h.set_aside:,}件）' if h.set_aside else ''}</td>"
        f"<td>{e(_date(h.first))}{'〜' + e(_date(h.last)) if h.last and h.last != h.first else ''}</td></tr>"
        for h in held if h.rows)
    if nights.is_empty():
        listed = "<p>お子さんが見守りリストに載ったことはありません。</p>"
    else:
        signals = sorted({s for ids in nights["signal_ids"] for s in ids},
                         key=lambda s: list(rules["signals"]).index(s) if s in rules["signals"] else 99)
        items = "".join(f"<li><b>{e(s)} {e(rules['signals'][s]['label'])}</b>: {e(signal_sentence(s, rules))}</li>"
                        for s in signals if s in rules["signals"])
        dates = nights["as_of"].to_list()
        when = (f"{_date(dates[0])}の判定で" if len(dates) == 1 else
                f"{len(dates)}回の判定で（最初 {_date(dates[0])}、最後 {_date(dates[-1])}）")
        listed = (f"<p>お子さんは、{when}見守りリストに載りました。見守りリストには、経済・養育・学校・健康のうち{rules['min_domains']}つ以上の分野で"
                  f"次のような「気づきのきっかけ」（シグナル）があった子どもが載ります。お子さんにあったシグナル:</p><ul>{items}</ul>")
    review_text = "".join(f"<li>{e(_date(d))}: {e(REVIEW_WORDS.get(r, r))}（{e(r)}）</li>" for d, r in reviews)
    review_part = (f"<p>支援拠点の職員が、リストを見て次のように判断しました。</p><ul>{review_text}</ul>" if reviews
                   else "<p>支援拠点の職員による確認の記録はありません。</p>")
    chart = attendance_chart(months) if months.height else "<p>学校の出欠の記録はありません。</p>"
    contact = office.get("contact") or "市役所の担当窓口"
    return f"""
<section class="letter">
<p class="to">{to}</p>
<h1>見守りが持っているお子さんの情報のお知らせ</h1>
<p>開示のご請求をいただき、ありがとうございます。市の「見守り」（こどもに関するデータの連携）が、お子さんについて
持っている情報をお知らせします。この最初の数ページで要点を説明し、すべての記録は後ろの「付録」に載せています。</p>
<h2>見守りとは</h2>
<p>見守りは、市の各課がもともと持っている情報（住民記録・税・福祉・学校・健診）を組み合わせ、困りごとを抱えて
いるかもしれない子どもに早く気づくためのしくみです。データで見つけるのは<b>最初のきっかけだけ</b>で、支援が必要か
どうかは、必ず支援拠点の職員が話を聞くなどして判断します。見守りのリストに載ったことで、お子さんやご家族について
何かが決まることはありません。子どもや学校の順位付けにも使いません。</p>
<h2>市が持っている情報（課ごと）</h2>
<table><tr><th>データ</th><th>内容</th><th>件数</th><th>記録にある日付</th></tr>{held_rows}</table>
<h2>見守りリストへの掲載</h2>
{listed}
<h2>支援拠点による確認</h2>
{review_part}
<h2>この記録を見た人</h2>
<p>分析用のデータは、名前の代わりに記号（仮名）で扱っています。記号からお子さんを特定する照会（再識別）は
{f"{looked}回ありました（日時と理由は付録にあります）。" if looked else "これまでありません。"}
照会や開示は、すべて職員名と理由とともに記録しています。</p>
<h2>記録を消す時期</h2>
<p>{e(deletion)}</p>
<h2>訂正・利用の停止を求めるには</h2>
<p>記録に誤りがあるときは訂正を、見守りに使わないでほしいときは利用の停止を求めることができます。
{f"これまでに訂正 {corrections}件、利用停止 {suspensions}件を受け付けています（付録をご覧ください）。" if corrections or suspensions else ""}
ご相談・お申し出は、{e(office.get('name', ''))}（{e(contact)}）へどうぞ。</p>
<h2>学校の出欠（月ごとのまとめ）</h2>
{chart}
</section>"""
