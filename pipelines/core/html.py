"""What every self-contained HTML page of mimamori shares (the nightly report, the lab's evaluation): the style
sheet and the table."""

from __future__ import annotations

import html

STYLE = """
body{font-family:"Noto Sans CJK JP","Hiragino Sans",Meiryo,sans-serif;margin:2rem auto;max-width:72rem;color:#1f2933}
h1{font-size:1.6rem}h2{font-size:1.2rem;border-bottom:1px solid #ccd;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccd;padding:.25rem .6rem;text-align:right}
th{background:#eef2f7}td.l,th.l{text-align:left}.ok{color:#1b7f3b}.warn{color:#b54708;font-weight:bold}
.plots{display:flex;flex-wrap:wrap;gap:1rem}.plots figure{margin:0}figcaption{font-size:.85rem;color:#52606d}
"""


def html_table(headers: list[str], rows: list[list], left: int = 1) -> str:
    head = "".join(f'<th class="{"l" if i < left else ""}">{html.escape(h)}</th>' for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f'<td class="{"l" if i < left else ""}">{v}</td>' for i, v in enumerate(r))
                   + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"
