"""Charts drawn on the server as inline SVG: no JavaScript, no build step, nothing from a CDN.

Each builder takes plain values and returns an `<svg role="img">` whose title and description
name what it shows; the page prints the same numbers as a table next to it (the text
equivalent), so the picture is never the only way to read them. Colours come from classes that
charts.css maps onto the page's palette, light and dark; meaning never rests on colour alone
(labels, markers and dash patterns say it too).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from markupsafe import Markup, escape

FONT = 12


def _f(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _svg(chart_id: str, width: float, height: float, title: str, desc: str, body: list[str], cls: str) -> Markup:
    head = (f'<svg class="chart {cls}" id="{escape(chart_id)}" viewBox="0 0 {_f(width)} {_f(height)}" '
            f'width="{_f(width)}" height="{_f(height)}" role="img" '
            f'aria-labelledby="{escape(chart_id)}-t {escape(chart_id)}-d" xmlns="http://www.w3.org/2000/svg">'
            f'<title id="{escape(chart_id)}-t">{escape(title)}</title><desc id="{escape(chart_id)}-d">{escape(desc)}</desc>')
    return Markup(head + "".join(body) + "</svg>")


def _text(x: float, y: float, content: Any, cls: str = "", anchor: str = "start", size: int = FONT,
          extra: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return (f'<text x="{_f(x)}" y="{_f(y)}"{c} text-anchor="{anchor}" font-size="{size}"{extra}>'
            f"{escape(str(content))}</text>")


def number(value: float) -> str:
    """A value as a chart labels it: few digits, no trailing zeros."""
    if value == 0:
        return "0"
    if abs(value) >= 1e5 or abs(value) < 1e-3:
        return f"{value:.2g}"
    return f"{value:.4g}"


def nice_range(values: Sequence[float]) -> tuple[float, float, list[float]]:
    """An axis from a little below the smallest to a little above the largest value, with about
    five round ticks; a single value gets a band around it."""
    lo, hi = min(values), max(values)
    if lo == hi:
        pad = abs(lo) * 0.05 or 0.5
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start, stop = math.floor(lo / step) * step, math.ceil(hi / step) * step
    ticks = [start + i * step for i in range(int(round((stop - start) / step)) + 1)]
    return start, stop, [round(t, 12) for t in ticks]


# --- which version was live when ----------------------------------------------------------

KIND_WORDS = {"approval": "approved", "auto_approve": "approved automatically", "rollback": "rolled back",
              "break_glass": "break-glass", "revoke": "after a revocation"}


def timeline(lanes: Sequence[Mapping[str, Any]], *, start: datetime, end: datetime, chart_id: str,
             width: int = 960) -> Markup:
    """One lane per environment; each segment is a version live from one move to the next.

    `lanes`: [{"env", "segments": [{"version", "kind", "start", "end" (None: still live),
    "actor"}]}]. Rollbacks, break-glass moves and revocations are marked at their start.
    """
    label_w, right, lane_h, gap, top, axis_h = 72, 16, 30, 10, 22, 26
    plot_w = width - label_w - right
    height = top + len(lanes) * (lane_h + gap) + axis_h
    span = max((end - start).total_seconds(), 1.0)

    def x(t: datetime) -> float:
        return label_w + max(0.0, min(1.0, (t - start).total_seconds() / span)) * plot_w

    body: list[str] = []
    for tick in range(5):
        at = start + (end - start) * (tick / 4)
        tx = x(at)
        body.append(f'<line class="gridline" x1="{_f(tx)}" y1="{top - 4}" x2="{_f(tx)}" y2="{height - axis_h + 2}"/>')
        fmt = "%Y-%m-%d" if span > 3 * 86400 else "%m-%d %H:%M"
        anchor = "start" if tick == 0 else "end" if tick == 4 else "middle"
        body.append(_text(tx, height - 8, at.strftime(fmt), "muted", anchor, 11))
    moves = 0
    for i, lane in enumerate(lanes):
        y = top + i * (lane_h + gap)
        body.append(_text(label_w - 8, y + lane_h / 2 + 4, lane["env"], "lane-label", "end"))
        body.append(f'<rect class="lane" x="{label_w}" y="{_f(y)}" width="{_f(plot_w)}" height="{lane_h}" rx="3"/>')
        segments = lane["segments"]
        if not segments:
            body.append(_text(label_w + 8, y + lane_h / 2 + 4, "nothing live yet", "muted"))
        for seg in segments:
            moves += 1
            x0, x1 = x(seg["start"]), x(seg["end"] or end)
            w = max(x1 - x0, 3.0)
            kind = seg["kind"] if seg["version"] is not None else "cleared"
            until = seg["end"].strftime("%Y-%m-%d %H:%M") if seg["end"] else "now"
            what = f"v{seg['version']}" if seg["version"] is not None else "nothing live"
            tip = (f"{lane['env']}: {what} from {seg['start']:%Y-%m-%d %H:%M} until {until} "
                   f"({KIND_WORDS.get(seg['kind'], seg['kind'])}, by {seg['actor']})")
            body.append(f'<g class="seg k-{escape(kind)}"><title>{escape(tip)}</title>'
                        f'<rect x="{_f(x0)}" y="{_f(y + 3)}" width="{_f(w)}" height="{lane_h - 6}" rx="2"/>')
            if w >= 26:
                body.append(_text(x0 + 5, y + lane_h / 2 + 4, what if seg["version"] is not None else "none",
                                  "seg-label"))
            body.append("</g>")
            mark = {"break_glass": "!", "rollback": "↺", "revoke": "✕"}.get(seg["kind"])
            if mark:
                body.append(f'<g class="mark m-{escape(seg["kind"])}"><circle cx="{_f(x0)}" cy="{_f(y)}" r="7"/>'
                            + _text(x0, y + 4, mark, "mark-label", "middle", 10, ' font-weight="700"') + "</g>")
    title = "Which version was live when, per environment"
    desc = (f"{len(lanes)} environments from {start:%Y-%m-%d} to {end:%Y-%m-%d}, {moves} periods; "
            "rollbacks (↺), break-glass moves (!) and revocations (✕) are marked. The table below lists them.")
    return _svg(chart_id, width, height, title, desc, body, "timeline")


# --- a metric across versions --------------------------------------------------------------

MARKERS = ("circle", "square", "diamond", "triangle", "circle")


def _marker(shape: str, cx: float, cy: float, cls: str) -> str:
    if shape == "square":
        return f'<rect class="{cls}" x="{_f(cx - 3.5)}" y="{_f(cy - 3.5)}" width="7" height="7"/>'
    if shape == "diamond":
        return f'<path class="{cls}" d="M{_f(cx)} {_f(cy - 5)}L{_f(cx + 5)} {_f(cy)}L{_f(cx)} {_f(cy + 5)}L{_f(cx - 5)} {_f(cy)}Z"/>'
    if shape == "triangle":
        return f'<path class="{cls}" d="M{_f(cx)} {_f(cy - 5)}L{_f(cx + 5)} {_f(cy + 4)}L{_f(cx - 5)} {_f(cy + 4)}Z"/>'
    return f'<circle class="{cls}" cx="{_f(cx)}" cy="{_f(cy)}" r="4"/>'


def trend(metric: str, *, versions: Sequence[int], series: Sequence[Mapping[str, Any]],
          live: Mapping[str, int], chart_id: str, width: int = 480, height: int = 210) -> Markup:
    """One metric across versions: `series` [{"label", "values": {version: value}}] (the first is
    drawn solid, the others dashed, each with its own marker); `live` {env: version} marks the
    versions live now."""
    left, right, top, bottom = 56, 14, 26, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    index = {v: i for i, v in enumerate(versions)}
    values = [float(val) for s in series for v, val in s["values"].items() if v in index]
    body: list[str] = []
    n = max(len(versions), 1)

    def x(v: int) -> float:
        return left + (index[v] + 0.5) * plot_w / n

    if values:
        lo, hi, ticks = nice_range(values)

        def y(val: float) -> float:
            return top + plot_h - (val - lo) / (hi - lo) * plot_h

        for t in ticks:
            body.append(f'<line class="gridline" x1="{left}" y1="{_f(y(t))}" x2="{width - right}" y2="{_f(y(t))}"/>')
            body.append(_text(left - 6, y(t) + 4, number(t), "muted", "end", 11))
    lives: dict[int, list[str]] = {}
    for env, v in live.items():
        if v in index:
            lives.setdefault(v, []).append(env)
    for v, envs in lives.items():
        body.append(f'<line class="live-line" x1="{_f(x(v))}" y1="{top - 4}" x2="{_f(x(v))}" y2="{top + plot_h}"/>')
        body.append(_text(min(max(x(v), left + 30), width - right - 30), top - 9, "live: " + ", ".join(envs),
                          "live-label", "middle", 10))
    every = max(1, math.ceil(n / 10))
    for i, v in enumerate(versions):
        if i % every == 0 or i == n - 1:
            body.append(_text(x(v), height - 8, f"v{v}", "muted", "middle", 11))
    described = []
    for k, s in enumerate(series):
        points = [(v, float(s["values"][v])) for v in versions if v in s["values"]]
        if not points or not values:
            continue
        cls = f"series s{k}"
        path = " ".join(f"{_f(x(v))},{_f(y(val))}" for v, val in points)
        body.append(f'<g class="{cls}"><polyline points="{path}"/>')
        body.extend(_marker(MARKERS[k % len(MARKERS)], x(v), y(val), "pt") for v, val in points)
        body.append("</g>")
        latest = points[-1]
        described.append(f"{s['label']}: {len(points)} versions, v{latest[0]} = {number(latest[1])}")
    if not values:
        body.append(_text(width / 2, top + plot_h / 2, "no values", "muted", "middle"))
    desc = "; ".join(described) or "No values."
    live_words = "; ".join(f"v{v} live in {', '.join(e)}" for v, e in lives.items())
    return _svg(chart_id, width, height, f"{metric} across versions",
                desc + (f". {live_words}." if live_words else "."), body, "trend")


# --- candidate against live ------------------------------------------------------------------

def paired_bars(rows: Sequence[Mapping[str, Any]], *, a_label: str, b_label: str, chart_id: str,
                width: int = 480, a_key: str = "a", b_key: str = "b") -> Markup:
    """Per metric ("name"), two bars on the metric's own scale from zero: `a_key` (the candidate)
    above `b_key` (the version it is compared with), and on the right the change from b to a in
    per cent of b, as a bar either side of zero (▲ up, ▼ down): bars from zero keep the
    proportions honest, the change column makes a one-point move visible at a glance. Rows
    without both values are left out."""
    shown = [{"name": r["name"], "a": r.get(a_key), "b": r.get(b_key)} for r in rows]
    shown = [r for r in shown if isinstance(r["a"], (int, float)) and isinstance(r["b"], (int, float))]
    label_w, value_w, change_w, row_h, top = 110, 56, 118, 38, 18
    plot_w = width - label_w - value_w - change_w - 4
    height = top + max(len(shown), 1) * row_h + 4
    changes = [(float(r["a"]) - float(r["b"])) / abs(float(r["b"])) if float(r["b"]) else None for r in shown]
    scale = max([abs(c) for c in changes if c is not None] + [0.01])
    cx, half = width - change_w / 2, change_w / 2 - 8
    body: list[str] = [_text(cx, 11, f"change from {b_label}", "muted", "middle", 10)] if shown else []
    if shown:
        body.append(f'<line class="gridline" x1="{_f(cx)}" y1="{top}" x2="{_f(cx)}" y2="{_f(height - 4)}"/>')
    for i, r in enumerate(shown):
        y = top + i * row_h
        a, b = float(r["a"]), float(r["b"])
        lo, hi = min(0.0, a, b), max(0.0, a, b)
        span = (hi - lo) or 1.0

        def bx(v: float, lo: float = lo, span: float = span) -> float:
            return label_w + (v - lo) / span * plot_w

        name = r["name"] if len(r["name"]) <= 15 else r["name"][:14] + "…"
        body.append(_text(label_w - 8, y + row_h / 2 + 3, name, "", "end"))
        zero = bx(0.0)
        for k, (val, cls, lab) in enumerate(((a, "bar-a", a_label), (b, "bar-b", b_label))):
            by = y + 4 + k * 15
            x0, x1 = sorted((zero, bx(val)))
            body.append(f'<rect class="{cls}" x="{_f(x0)}" y="{_f(by)}" width="{_f(max(x1 - x0, 1))}" height="12">'
                        f"<title>{escape(r['name'])}: {escape(lab)} {escape(number(val))}</title></rect>")
            body.append(_text(label_w + plot_w + 4, by + 10, number(val), "muted" if k else "", "start", 11))
        change = changes[i]
        if change is None:
            body.append(_text(cx, y + 22, "—", "muted", "middle", 11))
            continue
        w = abs(change) / scale * half
        up = change > 0
        cls = "bar-up" if up else "bar-down" if change < 0 else "bar-b"
        x0 = cx if up else cx - w
        body.append(f'<rect class="{cls}" x="{_f(x0)}" y="{_f(y + 6)}" width="{_f(max(w, 1))}" height="10"/>')
        sign = "▲ +" if up else "▼ −" if change < 0 else "±"
        body.append(_text(cx, y + 30, f"{sign}{abs(change) * 100:.2g}%", "up" if up else "down" if change < 0 else "muted",
                          "middle", 11))
    if not shown:
        body.append(_text(8, top + 20, "no metric has both values", "muted"))
    desc = "; ".join(f"{r['name']}: {a_label} {number(float(r['a']))}, {b_label} {number(float(r['b']))}"
                     + (f" ({'+' if c > 0 else ''}{c * 100:.2g}%)" if c is not None else "")
                     for r, c in zip(shown, changes, strict=True))
    return _svg(chart_id, width, height, f"{a_label} against {b_label}, metric by metric", desc or "No values.",
                body, "pairs")


# --- drift --------------------------------------------------------------------------------

def drift_scores(features: Sequence[Mapping[str, Any]], *, psi_threshold: float, ks_threshold: float,
                 chart_id: str, width: int = 560, limit: int = 30) -> Markup:
    """PSI per feature as bars against the PSI threshold (dashed line), drifted features marked ✗
    and drawn in the alarm colour; each numeric feature's KS p-value is written beside its bar
    with ✗ when it is below the (Bonferroni-corrected) per-feature threshold. The axis stops at
    five times the threshold: a bar that runs past it ends in › and its value is still printed."""
    shown = list(features[:limit])
    mark_w, label_w, value_w, note_w, row_h, top = 14, 168, 52, 96, 20, 22
    plot_x = mark_w + label_w
    plot_w = width - plot_x - value_w - note_w
    height = top + max(len(shown), 1) * row_h + 8
    scores = [float(f["psi"]) for f in shown if f.get("psi") is not None]
    axis_max = max(2 * psi_threshold, min(max(scores, default=0.0), 5 * psi_threshold))
    tx = plot_x + psi_threshold / axis_max * plot_w
    body = [f'<line class="threshold" x1="{_f(tx)}" y1="{top - 6}" x2="{_f(tx)}" y2="{_f(height - 4)}"/>',
            _text(tx, top - 9, f"PSI threshold {number(psi_threshold)}", "muted", "middle", 10),
            _text(width - note_w + 4, top - 9, f"KS p (< {number(ks_threshold)})", "muted", "start", 10)]
    for i, f in enumerate(shown):
        y = top + i * row_h
        name = f["name"] if len(f["name"]) <= 24 else f["name"][:23] + "…"
        if f["drifted"]:
            body.append(_text(2, y + 14, "✗", "drifted", "start", 11))
        body.append(_text(plot_x - 6, y + 14, name, "drifted" if f["drifted"] else "", "end", 11))
        psi = f.get("psi")
        if psi is not None:
            w = min(float(psi), axis_max) / axis_max * plot_w
            cls = "bar-bad" if f["drifted"] else "bar-b"
            body.append(f'<rect class="{cls}" x="{plot_x}" y="{_f(y + 4)}" width="{_f(max(w, 1))}" height="12">'
                        f"<title>{escape(f['name'])}: PSI {escape(number(float(psi)))}</title></rect>")
            over = float(psi) > axis_max
            # a short bar's value goes past the threshold line rather than through it
            vx = plot_x + w + 4 if f["drifted"] or plot_x + w + 4 > tx else tx + 4
            body.append(_text(vx, y + 14, ("› " if over else "") + number(float(psi)),
                              "drifted" if f["drifted"] else "muted", "start", 10))
        ks = f.get("ks_pvalue")
        if ks is not None:
            below = float(ks) < ks_threshold
            shown_p = "≈ 0" if float(ks) == 0 else number(float(ks))
            body.append(_text(width - note_w + 4, y + 14, ("✗ " if below else "") + shown_p,
                              "drifted" if below else "muted", "start", 10))
    drifted = [f["name"] for f in features if f["drifted"]]
    desc = (f"{len(drifted)} of {len(features)} features drifted" + (f": {', '.join(drifted)}" if drifted else "")
            + f". PSI threshold {number(psi_threshold)}, KS p-value threshold {number(ks_threshold)} per feature.")
    return _svg(chart_id, width, height, "Drift per feature (PSI and KS p-value)", desc, body, "drift")


def distribution(name: str, bins: Sequence[Mapping[str, Any]], *, chart_id: str, width: int = 480,
                 height: int = 190) -> Markup:
    """Reference shares (outlined) beside this batch's (filled) on the same bins."""
    left, right, top, bottom = 40, 8, 10, 52
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([float(b["reference"]) for b in bins] + [float(b["current"]) for b in bins] + [0.01])
    lo, hi, ticks = nice_range([0.0, peak])
    lo = 0.0
    body: list[str] = []

    def y(v: float) -> float:
        return top + plot_h - (v - lo) / (hi - lo) * plot_h

    for t in ticks:
        if t >= 0:
            body.append(f'<line class="gridline" x1="{left}" y1="{_f(y(t))}" x2="{width - right}" y2="{_f(y(t))}"/>')
            body.append(_text(left - 4, y(t) + 4, f"{t * 100:.0f}%", "muted", "end", 10))
    slot = plot_w / max(len(bins), 1)
    bar = max(min(slot * 0.38, 22), 2)
    for i, b in enumerate(bins):
        cx = left + (i + 0.5) * slot
        for k, (key, cls) in enumerate((("reference", "bar-ref"), ("current", "bar-cur"))):
            v = float(b[key])
            bx = cx - bar + k * bar
            body.append(f'<rect class="{cls}" x="{_f(bx)}" y="{_f(y(v))}" width="{_f(bar - 1)}" '
                        f'height="{_f(max(y(0) - y(v), 0.5))}"><title>{escape(b["label"])}: {key} '
                        f"{v * 100:.1f}%</title></rect>")
        label = b["label"] if len(b["label"]) <= 12 else b["label"][:11] + "…"
        body.append(_text(cx, height - bottom + 12, label, "muted", "end", 10,
                          f' transform="rotate(-35 {_f(cx)} {_f(height - bottom + 12)})"'))
    moved = max(bins, key=lambda b: float(b["current"]) - float(b["reference"]), default=None)
    desc = (f"{len(bins)} bins. Largest gain: {moved['label']} holds {float(moved['current']) * 100:.0f}% of this "
            f"batch against {float(moved['reference']) * 100:.0f}% of the reference." if moved else "No bins.")
    return _svg(chart_id, width, height, f"{name}: reference against this batch", desc, body, "dist")
