"""What each check that can warn or fail means, and what to look at: one sentence per check, in Japanese
then English, printed under the run summary's list of checks (a newcomer's first night must be actionable).
"""

from __future__ import annotations

ADVICE = {
    "file_accepted": "今夜のファイルが契約どおりに読めませんでした。要約の「REJECTED」行の行番号と理由を見て、"
                     "担当課に出し直しを依頼してください — tonight's file could not be read: see the REJECTED line "
                     "(line and problem) and ask the department for a corrected file; the last good data is used.",
    "rows_reconcile": "読んだ行数が取込・隔離の合計と合いません（プログラムの不具合です）。ログを添えて開発者に連絡して"
                      "ください — rows read ≠ loaded + quarantined: a defect of mimamori; send the log to the developers.",
    "quarantine_share": "1%を超える行が隔離されました。quarantine/<基準日>/ の理由列を見て、担当課のシステム変更が"
                        "ないか確認してください — more than 1 % of a file's rows were set aside: read the 理由 column "
                        "in quarantine/<T>/ and ask the department whether its system changed.",
    "data_current": "最新でないデータで判定しました。担当課の抽出が届いているか確認してください — the list used older "
                    "data than the newest file: check that the department's extract arrived and was readable.",
    "extract_fresh": "担当課の抽出が古くなっています（config/operations.yml の日数を超過）。送付が止まっていないか確認して"
                     "ください — the department's newest extract is older than its limit: check its transfer.",
    "fairness_within_band": "ある属性（性別・年齢帯・地区・世帯類型）の該当率が全体の0.5〜2倍の範囲を外れました。"
                            "エラーではありません。レポートの公平性の表を見て、規則が特定の集団に偏っていないか"
                            "分析担当と確認してください — a group's flag rate is outside 0.5–2 × the overall rate: not "
                            "an error of the night; look at the report's fairness table with the analysts.",
    "reviews_overdue": "確認期限を過ぎた児童がいます。レポートの作業一覧を見て、支援拠点に確認結果の返送を依頼して"
                       "ください — children have waited for review past the due days: ask the offices for their returns.",
    "access_within_limits": "1日の再識別・開示の上限を超えた利用者がいます。監査ログを確認してください — a user went "
                            "over the day's limit of re-identifications and disclosures: read the audit log.",
    "ge_link_rates": "出欠・福祉の記録が住民記録・学齢簿とつながる割合が95%を下回りました。宛名番号・児童生徒番号の"
                     "書式変更を担当課に確認してください — fewer than 95 % of records link: ask the departments "
                     "whether their address codes or pupil numbers changed form.",
    "ge_list_size": "リストの人数が過去の平均から±50%を超えて変わりました。データの欠落か規則の変更がないか、"
                    "要約の「data in use」とルール版を確認してください — the list's size moved by more than ±50 %: "
                    "check the data in use and the rule version.",
}
DEPARTMENT_SUITE = ("行数が前夜から±20%を超えて変わったか、キーの空欄・コード表にない値があります。Data Docs を見て"
                    "担当課に確認してください — a department's rows moved by more than ±20 %, or keys are empty, or "
                    "codes unknown: open the Data Docs and ask the department.")


DBT_TEST = ("dbt のデータテスト（dbt_project のモデルの YAML）が通りませんでした。ログの dbt の出力で失敗した件数と"
            "モデルを見て、元の課のデータを確認してください — a dbt data test failed: the log's dbt output names the "
            "model and the failing rows; check the department's data behind it.")
GENERIC = "レポートとログで内容を確認してください — see the nightly report and the log for what it found."
DBT_LAYERS = ("staging/", "intermediate/", "marts/", "lab/")


def advice(check: str) -> str:
    """The sentence for ``asset/key:check_name``."""
    asset, _, name = check.rpartition(":")
    if name in ADVICE:
        return ADVICE[name]
    if name.startswith("ge_"):
        return DEPARTMENT_SUITE
    return DBT_TEST if asset.startswith(DBT_LAYERS) else GENERIC
