"""Inline SVG charts for the HTML and PDF statement, drawn here so the file needs nothing else:
holdings over time as stacked steps, coins in and out per day as bars, and movements by kind.

Every style is a presentation attribute on the element (not a CSS rule of the page), so the
charts look the same in a browser and in the PDF engine, which renders SVG on its own."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from html import escape

from boveda.money import format_btc
from boveda.reconcile.model import Movement, MovementKind
from boveda.report.statement import KindSummary, SeriesPoint

# Okabe–Ito: tells layers apart for colour-blind readers and in greyscale print.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")
KIND_COLOURS = {"inflow": "#009E73", "outflow": "#D55E00", "internal": "#0072B2", "mixed": "#CC79A7"}
INK, MUTED, GRID, TRACK, FLAG = "#1b1f24", "#5b6470", "#d9dde3", "#f5f6f8", "#b00020"
FONT = 'font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif"'

WIDTH, HEIGHT = 720, 280
LEFT, RIGHT, TOP, BOTTOM = 84, 16, 14, 34


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def btc_label(amount_sat: int) -> str:
    """BTC for an axis: exact, trailing zeros dropped (``150000000 -> "1.5"``)."""
    text = format_btc(amount_sat)
    return text.rstrip("0").rstrip(".") if "." in text else text


def nice_step_sat(max_sat: int, ticks: int = 5) -> int:
    """A round tick step (1, 2 or 5 × a power of ten satoshis) giving about ``ticks`` ticks."""
    raw = max(1, max_sat // ticks)
    step = 1
    while step * 10 <= raw:
        step *= 10
    for factor in (1, 2, 5, 10):
        if step * factor >= raw:
            return step * factor
    return step * 10


def holdings_chart(labels: Sequence[str], points: Sequence[SeriesPoint], *, title: str,
                   empty: str = "No holdings history to draw.") -> str:
    """Stacked step areas: each layer holds its value from one point to the next."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = [_svg_open("holdings-chart", title)]
    if not points or not labels:
        parts.append(_empty(plot_w, plot_h, empty))
        return "".join(parts) + "</svg>"
    first, last = points[0].on, points[-1].on
    span_days = max((last - first).days, 1)
    end = last + timedelta(days=max(1, span_days // 50))  # the last level gets a visible width
    total_days = (end - first).days
    max_sat = max(max(p.total_sat for p in points), 1)
    step_sat = nice_step_sat(max_sat)
    top_sat = -(-max_sat // step_sat) * step_sat

    def x(day: date) -> float:
        return LEFT + plot_w * (day - first).days / total_days

    def y(amount_sat: int) -> float:
        return TOP + plot_h * (1 - amount_sat / top_sat)

    parts.append(_y_axis(range(0, top_sat + 1, step_sat), top_sat, y, plot_w))
    parts.append(_x_axis([first, *_between(first, last), last], x, plot_h))
    xs = [x(p.on) for p in points] + [x(end)]
    lower = [0] * len(points)
    for index, label in enumerate(labels):
        upper = [low + p.values_sat[index] for low, p in zip(lower, points)]
        if any(upper[k] != lower[k] for k in range(len(points))):
            outline = []
            for k, level in enumerate(upper):
                outline += [(xs[k], y(level)), (xs[k + 1], y(level))]
            for k in range(len(lower) - 1, -1, -1):
                outline += [(xs[k + 1], y(lower[k])), (xs[k], y(lower[k]))]
            path = "M" + " L".join(f"{px:.1f},{py:.1f}" for px, py in outline) + " Z"
            held = format_btc(points[-1].values_sat[index])
            parts.append(
                f'<path class="layer" d="{path}" fill="{colour(index)}" fill-opacity="0.85" stroke="#fff" '
                f'stroke-width="0.6"><title>{escape(label)}: {held} BTC at the last point</title></path>'
            )
        lower = upper
    parts.append(_line(LEFT, TOP + plot_h, LEFT + plot_w, TOP + plot_h, INK))
    return "".join(parts) + "</svg>"


@dataclass(frozen=True, slots=True)
class DayFlow:
    """One day's movements: coins from outside, coins sent out (without fees), moved between own wallets."""

    on: date
    inflow_sat: int = 0
    outflow_sat: int = 0
    internal_sat: int = 0
    flagged: bool = False


def daily_flows(movements: Sequence[Movement], flagged_txids: frozenset[str] = frozenset()) -> tuple[DayFlow, ...]:
    """The movements summed per day; a mixed transaction counts as in or out by the sign of its net."""
    days: dict[date, list[int]] = {}
    marked: set[date] = set()
    for m in movements:
        sums = days.setdefault(m.block_date, [0, 0, 0])
        if m.kind is MovementKind.INFLOW or (m.kind is MovementKind.MIXED and m.amount_sat > 0):
            sums[0] += abs(m.amount_sat)
        elif m.kind is MovementKind.OUTFLOW or m.kind is MovementKind.MIXED:
            sums[1] += abs(m.amount_sat)
        else:
            sums[2] += m.amount_sat
        if m.txid_hex in flagged_txids:
            marked.add(m.block_date)
    return tuple(DayFlow(day, *sums, flagged=day in marked) for day, sums in sorted(days.items()))


def flows_chart(flows: Sequence[DayFlow], *, first: date | None, last: date | None, title: str,
                legend: tuple[str, str, str, str], empty: str) -> str:
    """Each day's coins in (up) and out (down) at a scale where a daily 1-BTC purchase shows beside a
    holding of thousands: the few days that dwarf the rest are clipped and labelled with their value.
    A diamond marks a move between the reserve's own wallets, a red disc a day with a critical finding.
    ``legend``: the words for received, sent out, moved between own wallets, critical discrepancy."""
    height = 230
    plot_w, plot_h = WIDTH - LEFT - RIGHT, height - TOP - BOTTOM - 22
    parts = [_svg_open("flows-chart", title, height=height)]
    if not flows:
        parts.append(_empty(plot_w, plot_h, empty))
        return "".join(parts) + "</svg>"
    first = min(first or flows[0].on, flows[0].on)
    last = max(last or flows[-1].on, flows[-1].on)
    days = (last - first).days + 1
    per_day = plot_w / days
    values = sorted(v for f in flows for v in (f.inflow_sat, f.outflow_sat) if v > 0) or [1]
    cap_sat = values[-1]
    if values[-1] > 8 * values[len(values) // 2]:  # a 6,000-BTC day among 1-BTC days: clip it
        cap_sat = 2 * values[len(values) // 2]
    step_sat = nice_step_sat(cap_sat, ticks=2)
    cap_sat = -(-cap_sat // step_sat) * step_sat
    has_out = any(f.outflow_sat for f in flows)
    up_h = plot_h * (0.7 if has_out else 1.0)
    zero_y = TOP + up_h
    down_h = plot_h - up_h

    def size(amount_sat: int, room: float) -> float:
        return max(room * min(amount_sat, cap_sat) / cap_sat, 1.5)

    levels = range(0, cap_sat + 1, step_sat)
    parts.append(_y_axis(levels, cap_sat, lambda sat: zero_y - up_h * sat / cap_sat, plot_w))
    if has_out:
        parts.append(_text(LEFT - 6, TOP + plot_h + 4, f"−{btc_label(cap_sat)}", anchor="end"))
    bar_w = max(min(per_day * 0.7, 16), 1.5)
    for f in flows:
        cx = LEFT + ((f.on - first).days + 0.5) * per_day
        words = [f"{f.on.isoformat()}:"] + [f"{label} {format_btc(sat)} BTC" for label, sat in
                                             zip(legend, (f.inflow_sat, f.outflow_sat, f.internal_sat)) if sat]
        group = [f'<g class="day"><title>{escape(" ".join(words))}</title>']
        for amount_sat, up in ((f.inflow_sat, True), (f.outflow_sat, False)):
            if not amount_sat:
                continue
            h = size(amount_sat, up_h if up else down_h)
            top = zero_y - h if up else zero_y
            group.append(f'<rect class="bar" x="{cx - bar_w / 2:.1f}" y="{top:.1f}" width="{bar_w:.1f}" '
                         f'height="{h:.1f}" fill="{KIND_COLOURS["inflow" if up else "outflow"]}"/>')
            if amount_sat > cap_sat:
                group.append(_clipped(cx, zero_y - h if up else zero_y + h, bar_w, amount_sat, above=up))
        if f.internal_sat:
            group.append(f'<path class="mark" d="M{cx:.1f},{zero_y - 5:.1f} L{cx + 5:.1f},{zero_y:.1f} '
                         f'L{cx:.1f},{zero_y + 5:.1f} L{cx - 5:.1f},{zero_y:.1f} Z" fill="#fff" '
                         f'stroke="{KIND_COLOURS["internal"]}" stroke-width="1.8"/>')
        if f.flagged:
            group.append(f'<circle class="flag" cx="{cx:.1f}" cy="{TOP + 4}" r="5" fill="{FLAG}"/>'
                         + _text(cx, TOP + 7.5, "!", anchor="middle", size=8, fill="#fff", weight="700"))
        parts.append("".join(group) + "</g>")
    parts.append(_line(LEFT, zero_y, LEFT + plot_w, zero_y, INK))
    ticks = [first, *_between(first, last), last]
    parts.append(_x_axis(ticks, lambda day: LEFT + ((day - first).days + 0.5) * per_day, plot_h))
    parts.append(_legend(legend, height - 8, critical=any(f.flagged for f in flows)))
    return "".join(parts) + "</svg>"


def kinds_chart(by_kind: Sequence[KindSummary], *, title: str, names: Sequence[str] | None = None,
                tx_word: str = "tx", fee_word: str = "fee") -> str:
    """One bar per movement kind: the value moved, with the count and the fees beside it."""
    row_h, gap = 34, 10
    height = TOP + len(by_kind) * (row_h + gap) + 8
    label_w, value_w = 120, 250
    plot_w = WIDTH - label_w - value_w - RIGHT
    widest = max((abs(k.amount_sat) for k in by_kind), default=0) or 1
    parts = [_svg_open("kinds-chart", title, height=height)]
    for row, kind in enumerate(by_kind):
        top = TOP + row * (row_h + gap)
        length = plot_w * abs(kind.amount_sat) / widest
        name = kind.kind.value
        shown = names[row] if names else name
        count = f"{kind.count} {tx_word}"
        fee = f" · {fee_word} {format_btc(kind.fee_sat)}" if kind.fee_sat else ""
        parts.append(
            _text(label_w - 8, top + row_h / 2 + 4, shown, anchor="end", size=13, weight="600", fill=INK)
            + f'<rect x="{label_w}" y="{top}" width="{plot_w}" height="{row_h}" fill="{TRACK}"/>'
            f'<rect class="bar" x="{label_w}" y="{top}" width="{max(length, 1 if kind.count else 0):.1f}" '
            f'height="{row_h}" fill="{KIND_COLOURS[name]}"><title>{escape(shown)}: {format_btc(kind.amount_sat)} '
            f'BTC, {count}</title></rect>'
            + _text(label_w + plot_w + 8, top + row_h / 2 - 2, f"{format_btc(kind.amount_sat)} BTC", size=12,
                    weight="600", fill=INK)
            + _text(label_w + plot_w + 8, top + row_h / 2 + 12, count + fee)
        )
    return "".join(parts) + "</svg>"


def _svg_open(css_id: str, title: str, *, height: int = HEIGHT) -> str:
    return (
        f'<svg id="{css_id}" class="chart" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'role="img" aria-labelledby="{css_id}-title" preserveAspectRatio="xMinYMin meet">'
        f'<title id="{css_id}-title">{escape(title)}</title>'
    )


def _text(x: float, y: float, text: str, *, anchor: str = "start", size: float = 11, fill: str = MUTED,
          weight: str = "400") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" font-weight="{weight}" '
            f'fill="{fill}" {FONT}>{escape(text)}</text>')


def _line(x1: float, y1: float, x2: float, y2: float, stroke: str) -> str:
    return f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}" stroke-width="1"/>'


def _empty(plot_w: int, plot_h: int, message: str) -> str:
    return (f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="{TRACK}"/>'
            + _text(LEFT + plot_w / 2, TOP + plot_h / 2, message, anchor="middle"))


def _y_axis(levels: Sequence[int], top_sat: int, y: Callable[[int], float], plot_w: int) -> str:
    lines = []
    for level in levels:
        py = y(level)
        lines.append(_line(LEFT, py, LEFT + plot_w, py, GRID)
                     + _text(LEFT - 6, py + 4, btc_label(level) + (" BTC" if level == top_sat else ""),
                             anchor="end"))
    return "".join(lines)


def _x_axis(days: list[date], x: Callable[[date], float], plot_h: int) -> str:
    seen: set[date] = set()
    marks = []
    for index, day in enumerate(days):
        if day in seen:
            continue
        seen.add(day)
        anchor = "start" if index == 0 else "end" if index == len(days) - 1 else "middle"
        px = x(day)
        marks.append(_line(px, TOP + plot_h, px, TOP + plot_h + 4, INK)
                     + _text(px, TOP + plot_h + 18, day.isoformat(), anchor=anchor))
    return "".join(marks)


def _clipped(cx: float, edge_y: float, bar_w: float, amount_sat: int, *, above: bool) -> str:
    """A white break across a clipped bar, and its true value beside it."""
    y0 = edge_y + (8 if above else -8)
    label_y = edge_y + (8 if above else -2)
    return (f'<path d="M{cx - bar_w / 2 - 2:.1f},{y0 + 2:.1f} L{cx + bar_w / 2 + 2:.1f},{y0 - 2:.1f}" '
            f'stroke="#fff" stroke-width="3"/>'
            + _text(cx + bar_w / 2 + 3, label_y, f"{btc_label(amount_sat)} BTC", size=10, weight="600", fill=INK))


def _legend(labels: tuple[str, str, str, str], y: float, *, critical: bool) -> str:
    parts, x = [], float(LEFT)
    items = [("inflow", labels[0]), ("outflow", labels[1]), ("internal", labels[2])]
    if critical:
        items.append(("critical", labels[3]))
    for kind, label in items:
        if kind == "internal":
            parts.append(f'<path d="M{x + 5},{y - 9} L{x + 10},{y - 4} L{x + 5},{y + 1} L{x},{y - 4} Z" fill="#fff" '
                         f'stroke="{KIND_COLOURS[kind]}" stroke-width="1.8"/>')
        elif kind == "critical":
            parts.append(f'<circle cx="{x + 5}" cy="{y - 4}" r="5" fill="{FLAG}"/>')
        else:
            parts.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{KIND_COLOURS[kind]}"/>')
        parts.append(_text(x + 15, y, label, fill=INK))
        x += 15 + 6.5 * len(label) + 18
    return "".join(parts)


def _between(first: date, last: date, count: int = 3) -> list[date]:
    span = (last - first).days
    if span < count + 1:
        return []
    return [first + timedelta(days=span * k // (count + 1)) for k in range(1, count + 1)]
