"""Data quality: GE checks as Dagster asset checks, the nightly report, and the analysts' dq_nightly table."""

import re
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from tests.helpers import AS_OF, check_evaluations, identifiers, rerun_tonight, restricted

PROJECT = Path(__file__).resolve().parents[2]


def check(result, name: str):
    return check_evaluations(result)[f"quality/nightly_report:{name}"]


@pytest.fixture(scope="module")
def shrunk_night(nightly_home, tmp_path_factory):
    """The health department's extract shrinks by half overnight."""
    rows = {}

    def halve(landing):
        path = landing / "kenshin_20261130.csv"
        lines = path.read_bytes().split(b"\r\n")
        header, body = lines[0], [line for line in lines[1:] if line]
        rows["before"] = len(body)
        path.write_bytes(b"\r\n".join([header, *body[: len(body) // 2]]) + b"\r\n")

    home, _, run = rerun_tonight(nightly_home, tmp_path_factory.mktemp("shrunk"), halve)
    return home, run, rows["before"]


def test_an_extract_halved_overnight_fails_its_check_with_how_much_and_the_list_is_still_made(shrunk_night):
    home, run, rows_before = shrunk_night
    assert run.result.success
    evaluation = check(run.result, "ge_kenshin")
    assert not evaluation.passed
    assert evaluation.severity.value == "WARN"
    assert re.search(r"kenshin: rows [\d,]+ → [\d,]+ \(-5\d\.\d%\), outside ±20%", evaluation.description)
    assert check(run.result, "ge_jumin").passed
    with restricted(home) as con:
        assert con.execute("select count(*) from marts.flagged_children where as_of = ?", [AS_OF]).fetchone()[0] > 0
    report = (home / "reports" / AS_OF.isoformat() / "report.html").read_text(encoding="utf-8")
    assert "不合格 FAILED" in report and "outside ±20%" in report


def test_report_is_self_contained_and_complete(nightly_home):
    report = (nightly_home["home"] / "reports" / AS_OF.isoformat() / "report.html").read_text(encoding="utf-8")
    for section in ["各課のデータ: 鮮度と件数", "隔離した行（理由別）", "連携率", "リスト掲載と推移", "品質チェック",
                    "効果検証"]:
        assert section in report
    assert report.count("<svg") == 5
    external = re.findall(r'(?:src|href)="(https?://[^"]+)"', report) + re.findall(r"url\(https?://", report)
    assert external == []  # opens offline
    assert "<script" not in report


def test_report_holds_no_identifying_value(nightly_home):
    report = (nightly_home["home"] / "reports" / AS_OF.isoformat() / "report.html").read_text(encoding="utf-8")
    text = re.sub(r"<svg.*?</svg>", "", report, flags=re.S)
    leaked = [s for s in identifiers(nightly_home["landing"], AS_OF) if len(s) >= 4 and s in text]
    assert leaked == []


def test_report_charts_draw_every_japanese_glyph(nightly_home):
    """matplotlib's default font has no kana or kanji (□ in the picture): the CJK font must be used."""
    from tests.helpers import materialization

    assert materialization(nightly_home["second"].result, "quality/nightly_report")["missing_glyphs"] == 0


def test_a_missing_glyph_is_caught():
    """The check above can fail: the same chart with a Latin-only font reports its missing glyphs."""
    import matplotlib.pyplot as plt

    from pipelines.core.charts import Charts, cjk_font

    assert cjk_font() == "Noto Sans CJK JP", "fonts-noto-cjk is installed by .ci/system-packages"
    charts = Charts()
    charts.bars({"経済": 3, "養育": 2}, "該当児童 by domain")
    assert charts.missing == []
    with plt.rc_context({"font.family": ["DejaVu Sans"]}):
        charts.bars({"経済": 3}, "該当児童")
    assert charts.missing and "missing from font(s) DejaVu Sans" in charts.missing[0]


def chromium_page(p, viewport=(1300, 1600)):
    browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=[
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
    return browser, browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})


def test_report_renders_in_chromium(nightly_home):
    if not shutil.which("chromium"):
        pytest.skip("Chromium (Debian package chromium) is not installed and could not be: see .ci/system-packages")
    from playwright.sync_api import sync_playwright

    shot = PROJECT / "reports" / "nightly-report.png"
    report = nightly_home["home"] / "reports" / AS_OF.isoformat() / "report.html"
    with sync_playwright() as p:
        browser, page = chromium_page(p)
        page.goto(report.as_uri())
        page.wait_for_selector("svg")
        assert page.locator("h2").count() == 9  # with 効果検証
        assert page.locator("svg").count() == 5
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert shot.stat().st_size > 30_000


def test_data_docs_load_nothing_from_the_internet_and_are_styled(nightly_home):
    """GE's pages point at CDNs; ours at the same files beside them (pipelines/quality/data_docs.py)."""
    if not shutil.which("npm"):
        pytest.skip("npm is not installed: make could not fetch the Data Docs' styles")
    if not shutil.which("chromium"):
        pytest.skip("Chromium (Debian package chromium) is not installed and could not be: see .ci/system-packages")
    from playwright.sync_api import sync_playwright

    site = nightly_home["home"] / "reports" / "great_expectations" / "gx" / "uncommitted" / "data_docs" / "local_site"
    for page in site.rglob("*.html"):
        loaded = re.findall(r'<(?:link|script)[^>]+(?:href|src)="(https?://[^"]+)"', page.read_text(encoding="utf-8"))
        loaded += re.findall(r'<img[^>]+src="(https?://[^"]+)"', page.read_text(encoding="utf-8"))
        assert loaded == [], (page.name, loaded[:3])
    shot = PROJECT / "reports" / "data-docs.png"
    remote, failed = [], []
    with sync_playwright() as p:
        browser, page = chromium_page(p, (1300, 900))
        page.on("request", lambda r: remote.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.goto((site / "index.html").as_uri(), wait_until="load")
        sheets = page.evaluate("""() => Array.from(document.querySelectorAll('link[rel=stylesheet]'))
                                        .map(l => [l.href.split('/').pop(), l.sheet !== null])""")
        navbar = page.evaluate("() => getComputedStyle(document.querySelector('.navbar')).display")
        jquery = page.evaluate("() => typeof window.jQuery")
        page.screenshot(path=str(shot), full_page=False)
        browser.close()
    assert remote == [] and failed == []
    assert len(sheets) >= 6 and all(loaded for _, loaded in sheets), sheets
    assert navbar == "flex" and jquery == "function"  # Bootstrap's navbar and GE's scripts, as GE meant them


def test_great_expectations_data_docs_are_built(nightly_home):
    docs = nightly_home["home"] / "reports" / "great_expectations" / "gx" / "uncommitted" / "data_docs" / "local_site"
    assert (docs / "index.html").exists()
    assert list((docs / "validations").rglob("*.html"))


def test_the_same_numbers_are_a_table_for_analysts(nightly_home):
    con = duckdb.connect(str(nightly_home["home"] / "warehouse" / "analysis.duckdb"), read_only=True)
    dq = con.execute("select * from dq_nightly").pl()
    con.close()
    assert sorted(dq["as_of"].unique().to_list()) == [AS_OF.replace(day=29), AS_OF]
    tonight = dq.filter(pl.col("as_of") == AS_OF)
    flagged = tonight.filter(pl.col("measure") == "flagged_children")["value"][0]
    assert flagged == sum(nightly_home["second"].summary["flagged"].values())
    assert set(tonight["measure"]) >= {"rows", "quarantined_rows", "link_rate", "flagged_by_domain"}


def test_great_expectations_imports_beside_dbt_in_one_worker_that_ends_with_the_night(nightly_home):
    """The dbt step starts GE's worker (it imports while dbt runs); the report's suites run in that same
    process; the run's end ends it."""
    import os

    log = nightly_home["second"].log.read_text()
    started = re.findall(r"mimamori_dbt_models - Great Expectations' worker started beside dbt \(pid (\d+)\)", log)
    used = re.findall(r"quality__nightly_report - suites run by Great Expectations' worker \(pid (\d+)\)", log)
    assert len(started) == 1 and used == started, (started, used)
    with pytest.raises(ProcessLookupError):
        os.kill(int(started[0]), 0)
