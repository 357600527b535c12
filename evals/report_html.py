"""The HTML report: one file, inline CSS, inline SVG plots and a little inline JS, no CDN.

Everything that came from a model or a corpus is HTML-escaped. A tiny error hook, run
before anything else, marks the page (``data-js-errors``) and lists any script error in
``#js-errors``, so a headless browser can check the page ran cleanly; the filter script
sets ``data-ready="1"`` on ``<body>`` when it is done.
"""

from __future__ import annotations

import html
import math
from collections import Counter
from collections.abc import Callable
from typing import Any

from sleuth.evals.gate_report import gate_tables
from sleuth.evals.refusals import refusal_tables
from sleuth.evals.report import COST, NOTES, QUALITY, RunData, metric_values
from sleuth.evals.tables import Table

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
MAX_TEXT = 800

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:1em 2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:.25em .5em;
text-align:right;white-space:nowrap}th:first-child,td:first-child{text-align:left}
th{background:#f3f3f3}.wide{overflow-x:auto}.ci{color:#777;font-size:.85em}.plots{display:flex;flex-wrap:wrap;gap:1.5em}
svg text{font:11px system-ui,sans-serif}details.q{border:1px solid #ddd;border-radius:4px;
margin:.3em 0;padding:.2em .6em}details.q>summary{cursor:pointer}.badge{display:inline-block;
min-width:5.5em;font-size:.8em;padding:0 .4em;border-radius:3px;color:#fff;text-align:center}
.correct{background:#2ca02c}.wrong{background:#d62728}.abstained{background:#7f7f7f}
.error{background:#9467bd}.masked{background:#ff7f0e}.step{margin:.2em 0 .2em 1em}
.kind{font-weight:600;color:#555;margin-right:.4em}.muted{color:#777}pre{white-space:pre-wrap;
margin:.2em 0}#js-errors{color:#b00}.controls{margin:.5em 0}.controls>*{margin-right:1em}
"""

ERROR_HOOK = """<script>
(function(){function note(msg){var root=document.documentElement;
var n=Number(root.getAttribute('data-js-errors')||0)+1;root.setAttribute('data-js-errors',String(n));
var box=document.getElementById('js-errors');if(box){box.hidden=false;box.textContent+=msg+'\\n';}}
window.addEventListener('error',function(e){note('error: '+e.message);});
window.addEventListener('unhandledrejection',function(e){note('rejection: '+e.reason);});})();
</script>"""

FILTER_JS = """<script>
(function(){
var runSel=document.getElementById('run-select'),text=document.getElementById('text-filter'),
    status=document.getElementById('status-filter'),count=document.getElementById('shown-count');
function apply(){
  var run=runSel.value,needle=text.value.toLowerCase(),want=status.value,shown=0;
  document.querySelectorAll('.run-traces').forEach(function(div){
    div.hidden=div.getAttribute('data-run')!==run;});
  document.querySelectorAll('.run-traces[data-run="'+run+'"] details.q').forEach(function(d){
    var ok=(!needle||d.getAttribute('data-text').indexOf(needle)>=0)&&
           (want==='all'||d.getAttribute('data-status')===want);
    d.hidden=!ok;if(ok){shown++;}});
  count.textContent=shown+' shown';
}
[runSel,text,status].forEach(function(el){el.addEventListener('input',apply);});
apply();document.body.setAttribute('data-ready','1');
})();
</script>"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _clip(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[:limit] + " …"


# -- tables ---------------------------------------------------------------------------------

def _table(runs: list[RunData], metrics: list[tuple[str, str]], percent: bool) -> str:
    head = "".join(f"<th>{_e(name)}</th>" for _, name in metrics)
    rows = []
    for run in runs:
        cells = []
        for key, _ in metrics:
            iv = run.stats[key]
            if iv.mean is None or iv.lo is None or iv.hi is None:
                cells.append("<td class=muted>n/a</td>")
                continue
            scale, digits = (100.0, 1) if percent else (1.0, 2)
            cells.append(f"<td>{iv.mean * scale:.{digits}f}<br><span class=ci>"
                         f"[{iv.lo * scale:.{digits}f}, {iv.hi * scale:.{digits}f}] "
                         f"n={iv.n}</span></td>")
        extra = f"<td>{len(run.rows)}</td><td>{run.errors}</td>" if percent else ""
        rows.append(f"<tr><td>{_e(run.label)}</td>{extra}{''.join(cells)}</tr>")
    extra_head = "<th>n</th><th>Errors</th>" if percent else ""
    return (f"<div class=wide><table><tr><th>Method</th>{extra_head}{head}</tr>{''.join(rows)}"
            "</table></div>")


def _gate_section(runs: list[RunData]) -> str:
    tables = gate_tables(runs)
    if not tables:
        return ""
    return "<h2>Retrieve-or-answer gate</h2>" + "".join(map(_table_html, tables))


def _table_html(table: Table) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in table.header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in table.rows)
    return f"<p class=muted>{_e(table.intro)}</p><div class=wide><table><tr>{head}</tr>{body}</table></div>"


# -- plots ----------------------------------------------------------------------------------

def _nice_ticks(hi: float, n: int = 5) -> list[float]:
    if hi <= 0:
        return [0.0, 1.0]
    raw = hi / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    return [i * step for i in range(math.ceil(hi / step) + 1)]


def _linear(start_px: float, end_px: float, top_value: float) -> Callable[[float], float]:
    """Maps 0..top_value onto start_px..end_px."""
    def scale(value: float) -> float:
        return start_px + (value / top_value) * (end_px - start_px)

    return scale


def _fmt(x: float) -> str:
    return f"{x:.0f}" if abs(x) >= 10 or x == int(x) else f"{x:.2g}"


def scatter_svg(runs: list[RunData]) -> str:
    """Accuracy (with its CI) against mean tokens per question."""
    w, h, left, bottom, top, right = 440, 300, 50, 40, 15, 15
    points = []
    for i, run in enumerate(runs):
        acc = run.stats["acc"]
        tokens = sum((run.stats[k].mean or 0.0) for k in ("prompt_tokens", "completion_tokens"))
        if acc.mean is not None:
            points.append((i, run.label, tokens, acc.mean * 100, (acc.lo or 0) * 100,
                           (acc.hi or 0) * 100))
    xticks = _nice_ticks(max([p[2] for p in points] + [1.0]) * 1.1)
    yticks = _nice_ticks(max([p[5] for p in points] + [10.0]))
    sx, sy = _linear(left, w - right, xticks[-1]), _linear(h - bottom, top, yticks[-1])
    parts = [_axes(w, h, left, bottom, top, right, xticks, yticks, sx, sy,
                   "mean tokens per question (prompt + completion)", "accuracy %")]
    for i, label, x, y, lo, hi in points:
        color = COLORS[i % len(COLORS)]
        parts.append(f'<line x1="{sx(x):.1f}" x2="{sx(x):.1f}" y1="{sy(lo):.1f}" y2="{sy(hi):.1f}"'
                     f' stroke="{color}" stroke-width="2"/>'
                     f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="5" fill="{color}">'
                     f"<title>{_e(label)}: {y:.1f}% at {x:.0f} tokens</title></circle>")
        anchor, dx = ("end", -7) if sx(x) > w * 0.6 else ("start", 7)
        parts.append(f'<text x="{sx(x) + dx:.1f}" y="{sy(y) - 6:.1f}" text-anchor="{anchor}">'
                     f"{_e(label)}</text>")
    return _svg(w, h, "Accuracy against cost", "".join(parts))


def _axes(w: int, h: int, left: int, bottom: int, top: int, right: int, xticks: list[float],
          yticks: list[float], sx: Callable[[float], float], sy: Callable[[float], float],
          xlabel: str, ylabel: str) -> str:
    out = [f'<line x1="{left}" y1="{h - bottom}" x2="{w - right}" y2="{h - bottom}" stroke="#444"/>',
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{h - bottom}" stroke="#444"/>']
    for t in xticks:
        out.append(f'<text x="{sx(t):.1f}" y="{h - bottom + 14}" text-anchor="middle">{_fmt(t)}</text>')
    for t in yticks:
        out.append(f'<line x1="{left}" x2="{w - right}" y1="{sy(t):.1f}" y2="{sy(t):.1f}" '
                   f'stroke="#eee"/><text x="{left - 5}" y="{sy(t) + 4:.1f}" '
                   f'text-anchor="end">{_fmt(t)}</text>')
    out.append(f'<text x="{(left + w - right) / 2}" y="{h - 5}" text-anchor="middle">'
               f"{_e(xlabel)}</text>")
    out.append(f'<text transform="translate(12,{(top + h - bottom) / 2}) rotate(-90)" '
               f'text-anchor="middle">{_e(ylabel)}</text>')
    return "".join(out)


def _svg(w: int, h: int, title: str, body: str) -> str:
    return (f'<figure><svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
            f'viewBox="0 0 {w} {h}" role="img"><title>{_e(title)}</title>{body}</svg>'
            f"<figcaption>{_e(title)}</figcaption></figure>")


def histogram_svg(runs: list[RunData], key: str, title: str, cap: int = 15) -> str:
    """Grouped bars: how many questions took 0, 1, 2, ... of ``key`` (last bin: cap+)."""
    w, h, left, bottom, top, right = 440, 300, 50, 40, 30, 15
    counts = [Counter(min(int(v or 0), cap) for v in metric_values(run.rows, key))
              for run in runs]
    top_bin = max([max(c, default=0) for c in counts] + [1])
    ymax = max([max(c.values(), default=0) for c in counts] + [1])
    yticks = _nice_ticks(ymax)
    slot = (w - left - right) / (top_bin + 1)
    bar = slot * 0.8 / max(len(runs), 1)
    sy = _linear(h - bottom, top, yticks[-1])
    sx = _linear(left + slot / 2, left + slot * 1.5, 1.0)
    parts = [_axes(w, h, left, bottom, top, right, [], yticks, sx, sy, title, "questions")]
    for b in range(top_bin + 1):
        label = f"{b}+" if b == cap else str(b)
        parts.append(f'<text x="{sx(b):.1f}" y="{h - bottom + 14}" text-anchor="middle">'
                     f"{label}</text>")
    for i, (run, c) in enumerate(zip(runs, counts)):
        color = COLORS[i % len(COLORS)]
        for b, n in c.items():
            x = left + b * slot + slot * 0.1 + i * bar
            parts.append(f'<rect x="{x:.1f}" y="{sy(n):.1f}" width="{bar:.1f}" '
                         f'height="{h - bottom - sy(n):.1f}" fill="{color}">'
                         f"<title>{_e(run.label)}: {n} questions with {b}</title></rect>")
        parts.append(f'<rect x="{left + 5 + i * 110}" y="8" width="10" height="10" fill="{color}"/>'
                     f'<text x="{left + 19 + i * 110}" y="17">{_e(_clip(run.label, 16))}</text>')
    return _svg(w, h, title, "".join(parts))


# -- traces ---------------------------------------------------------------------------------

def _status(row: dict[str, Any]) -> str:
    if row.get("error"):
        return "error"
    if row.get("abstained"):
        return "abstained"
    return "correct" if row["metrics"].get("correct") else "wrong"


def _step(event: dict[str, Any]) -> str:
    kind = event.get("type", "?")
    if kind == "search":
        hits = ", ".join(f"{_e(t)} <span class=muted>({_e(i)})</span>"
                         for t, i in zip(event.get("titles", []), event.get("ids", [])))
        body = f"<b>{_e(event.get('query', ''))}</b> → {hits or '<i>no hits</i>'}"
    elif kind == "note":
        body = f"<span class=muted>[{_e(event.get('kind', ''))}]</span> {_e(_clip(event.get('text', '')))}"
    elif kind == "error":
        body = f"<span style='color:#b00'>{_e(event.get('message', ''))}</span>"
    elif kind == "information":
        body = f"<details><summary>{len(event.get('ids', []))} passages</summary><pre>" \
               f"{_e(_clip(event.get('text', '')))}</pre></details>"
    else:
        body = _e(_clip(str(event.get("text", ""))))
    return f"<div class=step><span class=kind>{_e(kind)}</span>{body}</div>"


def _actions(row: dict[str, Any]) -> str:
    opened = [a for a in row.get("actions", []) if a.get("tool") in ("open", "find")]
    if not opened:
        return ""
    items = "".join(
        f"<li>{_e(a['tool'])} {_e(a['args'].get('title_or_id', ''))}"
        f"{' / ' + _e(a['args']['pattern']) if a['args'].get('pattern') else ''}"
        f" → {_e(', '.join(a.get('ids', [])) or a.get('error') or '-')}</li>" for a in opened)
    return f"<div class=step><span class=kind>opened pages</span><ul>{items}</ul></div>"


def _question(row: dict[str, Any]) -> str:
    status = _status(row)
    seen = {i for a in row.get("actions", []) for i in a.get("ids", [])}
    gold_ids = " ".join(f"{_e(g)}{'✓' if g in seen else '✗'}" for g in row.get("gold_ids", []))
    masked = "<span class='badge masked'>masked</span> " if row.get("masked") else ""
    search_text = f"{row['id']} {row['question']} {row.get('prediction', '')}".lower()
    steps = "".join(_step(e) for e in row.get("trace", []))
    error = row.get("error")
    error_html = (f"<details><summary>error: {_e(error['message'])}</summary><pre>"
                  f"{_e(error.get('traceback', ''))}</pre></details>" if error else "")
    usage = row.get("usage", {})
    return (
        f"<details class=q data-status='{status}' data-text='{_e(search_text)}'>"
        f"<summary><span class='badge {status}'>{status}</span> {masked}{_e(row['question'])}"
        f" <span class=muted>→ {_e(row.get('prediction', '') or '∅')}</span></summary>"
        f"<div><b>Answer:</b> {_e(row.get('prediction', ''))} &nbsp; <b>Gold:</b> "
        f"{_e(' | '.join(row.get('gold', [])))} &nbsp; <span class=muted>id {_e(row['id'])}; "
        f"gold evidence {gold_ids or 'n/a'}; {usage.get('llm_calls', 0)} LLM calls, "
        f"{usage.get('searches', 0)} searches, {usage.get('wall_s', 0):.1f} s</span></div>"
        f"{steps}{_actions(row)}{error_html}</details>"
    )


def _traces(runs: list[RunData]) -> str:
    options = "".join(f"<option value='{i}'>{_e(r.label)}</option>" for i, r in enumerate(runs))
    statuses = "".join(f"<option value='{s}'>{s}</option>"
                       for s in ("all", "correct", "wrong", "abstained", "error"))
    controls = (f"<div class=controls><label>Run <select id=run-select>{options}</select></label>"
                f"<label>Status <select id=status-filter>{statuses}</select></label>"
                "<label>Filter <input id=text-filter type=search placeholder='question, answer, "
                "id'></label><span id=shown-count class=muted></span></div>")
    blocks = "".join(
        f"<div class=run-traces data-run='{i}'>{''.join(_question(r) for r in run.rows)}</div>"
        for i, run in enumerate(runs))
    return controls + blocks


def html_report(runs: list[RunData], comparison: Table | None = None) -> str:
    """The report page; ``comparison``: the table against a baseline run (``--baseline``)."""
    runs_list = "".join(
        f"<li><b>{_e(r.label)}</b>: {_e(r.manifest.dataset.name)}, {len(r.rows)} questions, "
        f"engine {_e(r.manifest.config.engine.describe())}, "
        f"mask-gold {r.manifest.config.mask_gold:g} <span class=muted>({_e(r.path)})</span></li>"
        for r in runs)
    plots = (scatter_svg(runs) + histogram_svg(runs, "llm_calls", "turns (LLM calls) per question")
             + histogram_svg(runs, "searches", "searches per question"))
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width, initial-scale=1'>"
        f"<title>Sleuth evaluation report</title><style>{CSS}</style>{ERROR_HOOK}</head><body>"
        "<pre id=js-errors hidden></pre><h1>Sleuth evaluation report</h1>"
        f"<ul>{runs_list}</ul><h2>Quality</h2>{_table(runs, QUALITY, True)}"
        f"<h2>Cost per question</h2>{_table(runs, COST, False)}"
        f"<p class=muted>{_e(NOTES)}</p>"
        + (f"<h2>Against the baseline</h2>{_table_html(comparison)}" if comparison else "")
        + ("<h2>Verification</h2>" + "".join(map(_table_html, tables)) if (tables := refusal_tables(runs)) else "")
        + f"{_gate_section(runs)}<h2>Plots</h2><div class=plots>{plots}</div>"
        f"<h2>Per-question traces</h2>{_traces(runs)}{FILTER_JS}</body></html>\n"
    )


__all__ = ["histogram_svg", "html_report", "scatter_svg"]
