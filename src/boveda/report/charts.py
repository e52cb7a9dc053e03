"""Inline SVG charts for the HTML statement, drawn here so the file needs nothing else:
holdings over time as stacked steps, and movements by kind as bars."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from html import escape

from boveda.money import format_btc
from boveda.report.statement import KindSummary, SeriesPoint

# Okabe–Ito: tells layers apart for colour-blind readers and in greyscale print.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")
KIND_COLOURS = {"inflow": "#009E73", "outflow": "#D55E00", "internal": "#0072B2", "mixed": "#CC79A7"}

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


def holdings_chart(labels: Sequence[str], points: Sequence[SeriesPoint], *, title: str) -> str:
    """Stacked step areas: each layer holds its value from one point to the next."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = [_svg_open("holdings-chart", title)]
    if not points or not labels:
        parts.append(_empty(plot_w, plot_h, "No holdings history to draw."))
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

    parts.append(_y_axis(step_sat, top_sat, y, plot_w))
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
    parts.append(f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}" class="axis"/>')
    return "".join(parts) + "</svg>"


def kinds_chart(by_kind: Sequence[KindSummary], *, title: str) -> str:
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
        count = f"{kind.count} tx"
        fee = f" · fee {format_btc(kind.fee_sat)}" if kind.fee_sat else ""
        parts.append(
            f'<text x="{label_w - 8}" y="{top + row_h / 2 + 4:.1f}" text-anchor="end" class="label">{name}</text>'
            f'<rect x="{label_w}" y="{top}" width="{plot_w}" height="{row_h}" class="track"/>'
            f'<rect class="bar" x="{label_w}" y="{top}" width="{max(length, 1 if kind.count else 0):.1f}" '
            f'height="{row_h}" fill="{KIND_COLOURS[name]}"><title>{name}: {format_btc(kind.amount_sat)} BTC in '
            f'{count}</title></rect>'
            f'<text x="{label_w + plot_w + 8}" y="{top + row_h / 2 - 2:.1f}" class="value">'
            f'{format_btc(kind.amount_sat)} BTC</text>'
            f'<text x="{label_w + plot_w + 8}" y="{top + row_h / 2 + 12:.1f}" class="note">{count}{fee}</text>'
        )
    return "".join(parts) + "</svg>"


def _svg_open(css_id: str, title: str, *, height: int = HEIGHT) -> str:
    return (
        f'<svg id="{css_id}" class="chart" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'role="img" aria-labelledby="{css_id}-title" preserveAspectRatio="xMinYMin meet">'
        f'<title id="{css_id}-title">{escape(title)}</title>'
    )


def _empty(plot_w: int, plot_h: int, message: str) -> str:
    return (f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" class="track"/>'
            f'<text x="{LEFT + plot_w / 2}" y="{TOP + plot_h / 2}" text-anchor="middle" class="note">'
            f"{escape(message)}</text>")


def _y_axis(step_sat: int, top_sat: int, y: Callable[[int], float], plot_w: int) -> str:
    lines = []
    for level in range(0, top_sat + 1, step_sat):
        py = y(level)
        lines.append(f'<line x1="{LEFT}" y1="{py:.1f}" x2="{LEFT + plot_w}" y2="{py:.1f}" class="grid"/>'
                     f'<text x="{LEFT - 6}" y="{py + 4:.1f}" text-anchor="end" class="tick">'
                     f"{btc_label(level)}{' BTC' if level == top_sat else ''}</text>")
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
        marks.append(f'<line x1="{px:.1f}" y1="{TOP + plot_h}" x2="{px:.1f}" y2="{TOP + plot_h + 4}" class="axis"/>'
                     f'<text x="{px:.1f}" y="{TOP + plot_h + 18}" text-anchor="{anchor}" class="tick">'
                     f"{day.isoformat()}</text>")
    return "".join(marks)


def _between(first: date, last: date, count: int = 3) -> list[date]:
    span = (last - first).days
    if span < count + 1:
        return []
    return [first + timedelta(days=span * k // (count + 1)) for k in range(1, count + 1)]
