"""A self-contained HTML page (inline CSS, images as data URIs): one file to mail or archive."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass, field

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1100px;padding:1.5em;
color:#1d2329;line-height:1.45}
h1{font-size:1.7em;margin-bottom:.2em}h2{border-bottom:2px solid #e3e7eb;padding-bottom:.2em;margin-top:1.8em}
.scroll{overflow-x:auto;max-width:100%;margin:.8em 0}
table{border-collapse:collapse;font-size:.88em}th,td{border:1px solid #d5dbe1;padding:.25em .6em;vertical-align:top}
td.long{min-width:22em;max-width:48em}caption{text-align:left;font-weight:600;padding:.2em 0}
th{background:#f3f5f7;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%;border:1px solid #e3e7eb;margin:.6em 0}.note{color:#5b6670;font-size:.9em}
.kpi{display:inline-block;background:#f3f5f7;border-radius:6px;padding:.5em 1em;margin:.3em .5em .3em 0}
.kpi b{display:block;font-size:1.3em}.bad{color:#b3261e}.good{color:#1b7f3b}
details{margin:.5em 0}summary{cursor:pointer;color:#24527a}
.warn{background:#fff4e5;border-left:4px solid #e07b39;padding:.5em .8em;margin:.6em 0}
@media (max-width:640px){body{padding:.6em}h1{font-size:1.3em}.kpi{display:block;margin:.3em 0}table{font-size:.8em}}
"""

LONG_TEXT = 60  # characters: a cell this long gets a readable minimum width instead of one word per line


@dataclass(frozen=True)
class Table:
    headers: Sequence[str]
    rows: Sequence[Sequence[object]]
    caption: str = ""


@dataclass(frozen=True)
class Image:
    png: bytes
    alt: str


@dataclass(frozen=True)
class Section:
    title: str
    paragraphs: Sequence[str] = ()
    items: Sequence[Table | Image] = ()
    collapsed: Sequence[Table] = field(default_factory=tuple)  # long tables, folded by default


def _cell(v: object) -> str:
    if isinstance(v, bool):
        return f"<td>{'yes' if v else 'no'}</td>"
    if isinstance(v, int):
        return f'<td class="n">{v:,}</td>'
    if isinstance(v, float):
        return f'<td class="n">{v:,.4g}</td>'
    text = str(v)
    cls = ' class="long"' if len(text) > LONG_TEXT else ""
    return f"<td{cls}>{html.escape(text)}</td>"


def render_table(t: Table) -> str:
    """A table inside a horizontally scrolling box (narrow screens scroll the table, not the page); a header row
    only when some header has text."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in t.headers)
    thead = f"<thead><tr>{head}</tr></thead>" if any(str(h).strip() for h in t.headers) else ""
    body = "".join("<tr>" + "".join(_cell(c) for c in r) + "</tr>" for r in t.rows)
    cap = f"<caption>{html.escape(t.caption)}</caption>" if t.caption else ""
    return f'<div class="scroll"><table>{cap}{thead}<tbody>{body}</tbody></table></div>'


def render_image(im: Image) -> str:
    data = base64.b64encode(im.png).decode("ascii")
    return f'<img alt="{html.escape(im.alt)}" src="data:image/png;base64,{data}">'


def render_page(title: str, kpis: Sequence[tuple[str, str]], sections: Sequence[Section], footer: str,
                notes: Sequence[str] = ()) -> str:
    parts = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
             f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{html.escape(title)}</title>',
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"]
    parts += [f'<p class="warn">{html.escape(n)}</p>' for n in notes]
    parts.append("<div>" + "".join(f'<span class="kpi">{html.escape(k)}<b>{html.escape(v)}</b></span>' for k, v in kpis) + "</div>")
    for s in sections:
        parts.append(f"<h2>{html.escape(s.title)}</h2>")
        parts += [f"<p>{html.escape(p)}</p>" for p in s.paragraphs]
        parts += [render_table(i) if isinstance(i, Table) else render_image(i) for i in s.items]
        for t in s.collapsed:
            parts.append(f"<details><summary>{html.escape(t.caption or 'details')}</summary>{render_table(t)}</details>")
    parts.append(f'<p class="note">{html.escape(footer)}</p></body></html>')
    return "\n".join(parts)
