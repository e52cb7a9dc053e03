"""The site's charts, drawn on the server as SVG (no script, nothing fetched): a holding over time on
chain and as the book claims it, and its daily flows — where a daily 1-BTC purchase stays visible
beside a 6,000-BTC holding, because the few days that dwarf the rest are clipped and labelled, and
moves between the holding's own wallets are marked apart (no coins came or went)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from html import escape

from babel.numbers import get_decimal_symbol

from boveda.service.history import DayFlow, DayPoint
from boveda.web.i18n import Lang

WIDTH = 760
LEFT, RIGHT, TOP, BOTTOM = 92, 18, 30, 34
INK, MUTED, GRID = "#1b1f24", "#5b6470", "#e3e6ea"
CHAIN, BOOK, IN, OUT, MOVE, FLAG = "#0b5cad", "#c45a00", "#1e7b4a", "#b3261e", "#0b5cad", "#b00020"
SAT = 100_000_000


def nice_ceiling_sat(value_sat: int) -> int:
    """The smallest 1, 2 or 5 × 10^k satoshis at or above `value_sat` (at least 1 sat)."""
    step = 1
    while step * 10 <= max(value_sat, 1):
        step *= 10
    for factor in (1, 2, 5, 10):
        if step * factor >= value_sat:
            return step * factor
    return step * 10


def axis_step_sat(max_sat: int) -> tuple[int, int]:
    """A round step (1, 2, 2.5 or 5 × 10^k satoshis) and how many of them reach `max_sat`, at most five:
    the axis ends just above the data (8,000 for 6,126 BTC, not 10,000)."""
    step = 1
    while True:
        for factor in (10, 20, 25, 50):
            size = step * factor // 10
            if size and -(-max(max_sat, 1) // size) <= 5:
                return size, max(-(-max_sat // size), 1)
        step *= 10


def _short_btc(lang: Lang, amount_sat: int) -> str:
    """An axis label: whole BTC when round, else the 8 decimals trimmed."""
    text = lang.btc(amount_sat)
    decimal = get_decimal_symbol(lang.locale)
    if decimal in text:
        whole, frac = text.rsplit(decimal, 1)
        frac = frac.rstrip("0")
        return whole + (decimal + frac if frac else "")
    return text


def _svg(css_id: str, title: str, height: int) -> list[str]:
    opening = (f'<svg id="{css_id}" class="chart" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
               f'role="img" aria-labelledby="{css_id}-title" preserveAspectRatio="xMinYMin meet" '
               f'xmlns="http://www.w3.org/2000/svg"><title id="{css_id}-title">{escape(title)}</title>')
    return [opening]


def _x_scale(first: date, last: date, plot_w: float) -> tuple[Callable[[date], float], float]:
    days = max((last - first).days + 1, 1)
    per_day = plot_w / days
    return (lambda day: LEFT + (day - first).days * per_day), per_day


def _date_ticks(parts: list[str], lang: Lang, first: date, last: date, x: Callable[[date], float], base_y: float,
                per_day: float) -> None:
    span = (last - first).days
    marks = [first] if span < 1 else [first + timedelta(days=span * k // 4) for k in range(5)]
    if len(marks) == 1:
        parts.append(f'<text x="{x(first) + per_day / 2:.1f}" y="{base_y + 18:.1f}" text-anchor="middle" '
                     f'font-size="12" fill="{MUTED}">{escape(lang.day(first))}</text>')
        return
    seen = set()
    for index, day in enumerate(marks):
        if day in seen:
            continue
        seen.add(day)
        anchor = "start" if index == 0 else "end" if index == len(marks) - 1 else "middle"
        px = x(day) + (per_day if index == len(marks) - 1 else 0)
        parts.append(f'<text x="{px:.1f}" y="{base_y + 18:.1f}" text-anchor="{anchor}" font-size="12" '
                     f'fill="{MUTED}">{escape(lang.day(day))}</text>')


def _legend(parts: list[str], items: Sequence[tuple[str, str, str]]) -> None:
    x = LEFT
    for kind, color, label in items:
        if kind == "line":
            parts.append(f'<line x1="{x}" y1="14" x2="{x + 18}" y2="14" stroke="{color}" stroke-width="2.5" '
                         f'stroke-dasharray="5 3"/>')
        elif kind == "diamond":
            parts.append(f'<path d="M{x + 9},8 L{x + 15},14 L{x + 9},20 L{x + 3},14 Z" fill="#fff" stroke="{color}" '
                         f'stroke-width="2"/>')
        elif kind == "flag":
            parts.append(_flag(x + 9, 14))
        else:
            parts.append(f'<rect x="{x}" y="8" width="18" height="12" fill="{color}"/>')
        parts.append(f'<text x="{x + 24}" y="18" font-size="12" fill="{INK}">{escape(label)}</text>')
        x += 32 + 7 * len(label)


def holdings_chart(days: Sequence[DayPoint], lang: Lang, *, until: date, height: int = 260,
                   css_id: str = "holdings-chart") -> str:
    """On chain (area) and claimed by the book (dashed line), end of day, from the first day to `until`."""
    title = lang._("Holdings over time: on chain and as the book claims")
    parts = _svg(css_id, title, height)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, height - TOP - BOTTOM
    base_y = TOP + plot_h
    if not days:
        parts.append(f'<text x="{WIDTH / 2}" y="{height / 2}" text-anchor="middle" fill="{MUTED}">'
                     f'{escape(lang._("No coins yet."))}</text></svg>')
        return "".join(parts)
    first, last = days[0].on, max(until, days[-1].on)
    x, _ = _x_scale(first, last, plot_w)
    step_sat, intervals = axis_step_sat(max(max(p.chain_sat, p.book_sat) for p in days))
    top_sat = step_sat * intervals
    y = lambda sat: TOP + plot_h * (1 - max(sat, 0) / top_sat)
    for k in range(intervals + 1):
        level = step_sat * k
        parts.append(f'<line x1="{LEFT}" y1="{y(level):.1f}" x2="{LEFT + plot_w}" y2="{y(level):.1f}" '
                     f'stroke="{GRID}"/><text x="{LEFT - 8}" y="{y(level) + 4:.1f}" text-anchor="end" font-size="12" '
                     f'fill="{MUTED}">{escape(_short_btc(lang, level))}</text>')
    end_x = LEFT + plot_w

    def steps(values: list[tuple[date, int]]) -> list[tuple[float, float]]:
        points = []
        for index, (day, sat) in enumerate(values):
            next_x = x(values[index + 1][0]) if index + 1 < len(values) else end_x
            points += [(x(day), y(sat)), (next_x, y(sat))]
        return points

    chain = steps([(p.on, p.chain_sat) for p in days])
    area = f"M{chain[0][0]:.1f},{base_y:.1f} " + " ".join(f"L{px:.1f},{py:.1f}" for px, py in chain) + \
        f" L{end_x:.1f},{base_y:.1f} Z"
    parts.append(f'<path class="layer" d="{area}" fill="{CHAIN}" fill-opacity="0.16" stroke="{CHAIN}" '
                 f'stroke-width="2"><title>{escape(lang._("On chain"))}: {lang.btc(days[-1].chain_sat)} BTC</title>'
                 f'</path>')
    book = steps([(p.on, p.book_sat) for p in days])
    parts.append('<path class="layer" d="M' + " L".join(f"{px:.1f},{py:.1f}" for px, py in book) +
                 f'" fill="none" stroke="{BOOK}" stroke-width="2" stroke-dasharray="6 4"><title>'
                 f'{escape(lang._("Claimed by the book"))}: {lang.btc(days[-1].book_sat)} BTC</title></path>')
    parts.append(f'<line x1="{LEFT}" y1="{base_y}" x2="{end_x}" y2="{base_y}" stroke="{INK}"/>')
    _date_ticks(parts, lang, first, last, x, base_y, 0)
    _legend(parts, [("rect", CHAIN + "55", lang._("On chain")), ("line", BOOK, lang._("Claimed by the book"))])
    return "".join(parts) + "</svg>"


def flows_chart(flows: Sequence[DayFlow], lang: Lang, *, until: date | None = None, flagged: Sequence[date] = (),
                link: Callable[[date], str] | None = None, height: int = 250, css_id: str = "flows-chart") -> str:
    """Each day: coins received from outside (up), sent outside (down), moved between own wallets (a
    diamond: no coins came or went), and a flag on days with a critical discrepancy."""
    title = lang._("Coins in and out, per day")
    parts = _svg(css_id, title, height)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, height - TOP - BOTTOM
    if not flows:
        parts.append(f'<text x="{WIDTH / 2}" y="{height / 2}" text-anchor="middle" fill="{MUTED}">'
                     f'{escape(lang._("No movements yet."))}</text></svg>')
        return "".join(parts)
    first, last = flows[0].on, max(flows[-1].on, until or flows[-1].on)
    x, per_day = _x_scale(first, last, plot_w)
    values = sorted(v for f in flows for v in (f.inflow_sat, f.outflow_sat) if v > 0) or [SAT]
    # A few days that dwarf the rest (a 6,000-BTC transfer among daily 1-BTC buys) are clipped at twice
    # the typical day and labelled with their value, so that the ordinary days keep a readable height.
    cap_sat = nice_ceiling_sat(values[-1])
    if values[-1] > 8 * values[len(values) // 2]:
        cap_sat = nice_ceiling_sat(2 * values[len(values) // 2])
    has_out = any(f.outflow_sat for f in flows)
    up_h = plot_h * (0.68 if has_out else 0.9)
    zero_y = TOP + up_h
    down_h = plot_h - up_h - 6
    scale = lambda sat, room: room * min(sat, cap_sat) / cap_sat
    for k in (0, 1, 2):
        level = cap_sat * k // 2
        py = zero_y - scale(level, up_h - 8)
        parts.append(f'<line x1="{LEFT}" y1="{py:.1f}" x2="{LEFT + plot_w}" y2="{py:.1f}" stroke="{GRID}"/>'
                     f'<text x="{LEFT - 8}" y="{py + 4:.1f}" text-anchor="end" font-size="12" fill="{MUTED}">'
                     f'{escape(_short_btc(lang, level))}</text>')
    if has_out:
        py = zero_y + scale(cap_sat, down_h)
        parts.append(f'<text x="{LEFT - 8}" y="{py:.1f}" text-anchor="end" font-size="12" fill="{MUTED}">'
                     f'−{escape(_short_btc(lang, cap_sat))}</text>')
    bar_w = max(min(per_day * 0.7, 18), 1.5)
    flagged_days = set(flagged)
    for f in flows:
        cx = x(f.on) + per_day / 2
        group = [f'<g class="day"><title>{escape(lang.long_day(f.on))}: ' + escape("; ".join(_day_words(f, lang)))
                 + "</title>"]
        if f.inflow_sat:
            h = max(scale(f.inflow_sat, up_h - 8), 1.5)
            group.append(f'<rect class="bar" x="{cx - bar_w / 2:.1f}" y="{zero_y - h:.1f}" width="{bar_w:.1f}" '
                         f'height="{h:.1f}" fill="{IN}"/>')
            if f.inflow_sat > cap_sat:
                group.append(_clipped(cx, zero_y - h, bar_w, lang, f.inflow_sat, above=True))
        if f.outflow_sat:
            h = max(scale(f.outflow_sat, down_h), 1.5)
            group.append(f'<rect class="bar" x="{cx - bar_w / 2:.1f}" y="{zero_y:.1f}" width="{bar_w:.1f}" '
                         f'height="{h:.1f}" fill="{OUT}"/>')
            if f.outflow_sat > cap_sat:
                group.append(_clipped(cx, zero_y + h, bar_w, lang, f.outflow_sat, above=False))
        if f.internal_sat or f.mixed_net_sat:
            group.append(f'<path class="mark" d="M{cx:.1f},{zero_y - 6:.1f} L{cx + 6:.1f},{zero_y:.1f} '
                         f'L{cx:.1f},{zero_y + 6:.1f} L{cx - 6:.1f},{zero_y:.1f} Z" fill="#fff" stroke="{MOVE}" '
                         f'stroke-width="2"/>')
        if f.on in flagged_days:
            group.append(_flag(cx, TOP + 2))
        group.append("</g>")
        body = "".join(group)
        parts.append(f'<a href="{escape(link(f.on))}">{body}</a>' if link else body)
    parts.append(f'<line x1="{LEFT}" y1="{zero_y:.1f}" x2="{LEFT + plot_w}" y2="{zero_y:.1f}" stroke="{INK}"/>')
    _date_ticks(parts, lang, first, last, x, TOP + plot_h, per_day)
    legend = [("rect", IN, lang._("Received")), ("rect", OUT, lang._("Sent out")),
              ("diamond", MOVE, lang._("Moved between own wallets"))]
    if flagged_days:
        legend.append(("flag", FLAG, lang._("Critical discrepancy")))
    _legend(parts, legend)
    return "".join(parts) + "</svg>"


def _flag(cx: float, cy: float) -> str:
    """A critical finding that day: a red disc with an exclamation mark (not an arrow: nothing went up)."""
    return (f'<g class="flag"><circle cx="{cx:.1f}" cy="{cy:.1f}" r="6.5" fill="{FLAG}"/>'
            f'<text x="{cx:.1f}" y="{cy + 4:.1f}" text-anchor="middle" font-size="10" font-weight="700" '
            f'fill="#fff">!</text></g>')


def _clipped(cx: float, edge_y: float, bar_w: float, lang: Lang, amount_sat: int, *, above: bool) -> str:
    """A break across a clipped bar and its true value beside it."""
    y0 = edge_y + (10 if above else -10)
    zig = (f'<path d="M{cx - bar_w / 2 - 2:.1f},{y0 + 2:.1f} L{cx + bar_w / 2 + 2:.1f},{y0 - 2:.1f}" '
           f'stroke="#fff" stroke-width="3"/>')
    label_y = edge_y - 4 if above else edge_y + 13
    return zig + (f'<text class="clip" x="{cx + bar_w / 2 + 4:.1f}" y="{label_y + (8 if above else 0):.1f}" '
                  f'font-size="11" font-weight="600" fill="{INK}">{escape(_short_btc(lang, amount_sat))} BTC</text>')


def _day_words(flow: DayFlow, lang: Lang) -> list[str]:
    words = []
    for amount, label in ((flow.inflow_sat, "received"), (flow.outflow_sat, "sent out"),
                          (flow.internal_sat, "moved between own wallets"), (flow.mixed_net_sat, "mixed, net"),
                          (flow.fees_sat, "fees")):
        if amount:
            words.append(f"{lang._(label)} {lang.btc(amount)} BTC")
    return words
