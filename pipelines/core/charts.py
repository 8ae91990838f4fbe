"""Charts for the reports, as inline SVG, with a Japanese font that is really there.

matplotlib's default font has no kana or kanji: each would be drawn as □. So a CJK font is registered
by its file (Noto Sans CJK, Debian's fonts-noto-cjk; found through fontconfig or the usual folders),
not looked up by name in matplotlib's font cache, which may predate the font's installation. Every
glyph that is still missing is recorded (``Charts.missing``), so a report can say so and a test fail.
"""

from __future__ import annotations

import glob
import io
import re
import shutil
import subprocess
import warnings
from functools import cache

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402
from matplotlib import font_manager  # noqa: E402

CJK_FAMILY = "Noto Sans CJK JP"
FONT_FILES = ["/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
              "/usr/share/fonts/opentype/noto/NotoSansCJKjp-Regular.otf",
              "/usr/share/fonts/**/NotoSansCJK*Regular*.tt[cf]", "/usr/share/fonts/**/NotoSansCJK*Regular*.otf"]


@cache
def cjk_font() -> str | None:
    """The CJK font's family name, registered with matplotlib from its file; None when there is none."""
    paths = []
    if shutil.which("fc-match"):
        found = subprocess.run(["fc-match", "-f", "%{file}", f"{CJK_FAMILY}:style=Regular"],
                               capture_output=True, text=True).stdout.strip()
        if "CJK" in found:
            paths.append(found)
    for pattern in FONT_FILES:
        paths += sorted(glob.glob(pattern, recursive=True))
    for path in paths:
        try:
            font_manager.fontManager.addfont(path)
        except (OSError, RuntimeError):
            continue
        names = {f.name for f in font_manager.fontManager.ttflist if f.fname == path}
        if CJK_FAMILY in names:
            return CJK_FAMILY
        if names:
            return sorted(names)[0]
    return None


def style() -> None:
    family = cjk_font()
    plt.rcParams.update({"font.family": [family] if family else ["DejaVu Sans"], "svg.fonttype": "path",
                         "axes.spines.top": False, "axes.spines.right": False})


class Charts:
    """Makes the SVG charts of one report and keeps the glyphs the font could not draw."""

    def __init__(self) -> None:
        style()
        self.missing: list[str] = []

    def svg(self, fig) -> str:
        buffer = io.StringIO()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fig.savefig(buffer, format="svg", bbox_inches="tight")
        plt.close(fig)
        self.missing += [str(w.message) for w in caught if "missing from font" in str(w.message)]
        return re.sub(r"^.*?(<svg)", r"\1", buffer.getvalue(), flags=re.S)

    def trend(self, history: pl.DataFrame, measure: str, title: str) -> str:
        data = history.filter(pl.col("measure") == measure).sort("as_of")
        fig, ax = plt.subplots(figsize=(5.2, 2.6))
        nights = sorted({d.strftime("%m-%d") for d in data["as_of"].to_list()})  # one point per night, evenly
        for subject, rows in data.group_by("subject", maintain_order=True):
            ax.plot([nights.index(d.strftime("%m-%d")) for d in rows["as_of"].to_list()], rows["value"].to_list(),
                    marker="o", label=str(subject[0]))
        ax.set_xticks(range(len(nights)), nights)
        ax.set_title(title, fontsize=10)
        ax.tick_params(labelsize=7)
        if data.height:
            ax.legend(fontsize=7, frameon=False)
        return self.svg(fig)

    def bars(self, values: dict, title: str) -> str:
        fig, ax = plt.subplots(figsize=(5.2, 2.6))
        ax.bar(list(map(str, values)), list(values.values()), color="#3e7cb1")
        ax.set_title(title, fontsize=10)
        ax.tick_params(labelsize=8)
        return self.svg(fig)
