"""The statement as plain text for a terminal: fixed-width sections, BTC with 8 decimals."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from boveda.money import format_btc
from boveda.reconcile.model import parties_text
from boveda.report.statement import Statement
from boveda.text import escape

WIDTH = 100


def render_table(statement: Statement) -> str:
    s = statement
    lines: list[str] = []
    name = f" ({s.reserve_name})" if s.reserve_name else ""
    lines.append(f"Bóveda statement — {s.reserve}{name}")
    when = f", {s.block_date}" if s.block_date else ""
    lines.append(f"At height {s.height}{when}   block {s.block_hash_hex}")
    lines.append(f"Period {_period(s)}")

    lines += _section("Book vs chain")
    rows = [("Chain balance", s.chain_balance_sat), ("Book balance", s.book_balance_sat),
            ("Difference (book − chain)", s.difference_sat)]
    for label, amount_sat in rows:
        lines.append(f"  {label:<28}{format_btc(amount_sat):>22} BTC")
    if s.fees_unbooked_sat:
        lines.append(f"  {'of which fees not booked':<28}{format_btc(s.fees_unbooked_sat):>22} BTC")

    lines += _section("Irregularities")
    if s.explanations:
        for e in s.explanations:
            tag = f"[{e.severity.value}] " if e.severity else ""
            lines += textwrap.wrap(tag + e.text, WIDTH, initial_indent="  • ", subsequent_indent="    ")
    else:
        lines.append("  None: every movement matches the book.")

    lines += _section(f"Holdings at height {s.height}")
    lines += _table(("wallet", "balance BTC"), [(h.wallet, format_btc(h.balance_sat)) for h in s.holdings]
                    + [("total", format_btc(s.holdings_total_sat))], right=(1,))

    lines += _section(f"Movements {_period(s)}, by kind")
    lines += _table(("kind", "count", "amount BTC", "fees BTC"),
                    [(k.kind.value, str(k.count), format_btc(k.amount_sat), format_btc(k.fee_sat)) for k in s.by_kind]
                    + [("fees paid", "", "", format_btc(s.fees_sat))], right=(1, 2, 3))

    lines += _section("Movements")
    flagged = s.discrepancy_kinds_by_txid()
    if s.movements:
        lines += _table(
            ("date", "height", "txid", "kind", "amount BTC", "fee BTC", "counterparty", "entry", "findings"),
            [(m.block_date.isoformat(), str(m.height), m.txid_hex[:16] + "…", m.kind.value, format_btc(m.amount_sat),
              "" if m.fee_sat is None else format_btc(m.fee_sat), parties_text(m.counterparty),
              "" if m.entry_id is None else f"#{m.entry_id}", " ".join(flagged.get(m.txid_hex, ())))
             for m in s.movements],
            right=(1, 4, 5),
        )
    else:
        lines.append("  None in the period.")

    lines += _section("Discrepancies")
    if s.discrepancies:
        lines += _table(
            ("severity", "kind", "date", "txid", "amount BTC", "entry"),
            [(d.severity.value, d.kind.value, str(d.on or ""), (d.txid_hex or "")[:16] + "…",
              format_btc(d.amount_sat), "" if d.entry_id is None else f"#{d.entry_id}") for d in s.discrepancies],
            right=(4,),
        )
    else:
        lines.append("  None.")

    lines += _section("Journal entries citing no transaction")
    if s.journal:
        lines += _table(
            ("entry", "date", "kind", "change BTC", "other accounts", "authority"),
            [(f"#{j.entry_id}", j.on.isoformat(), j.kind.value, format_btc(j.delta_sat),
              ", ".join(map(str, j.other_accounts)),
              j.authority_ref or "") for j in s.journal],
            right=(3,),
        )
    else:
        lines.append("  None in the period.")
    return "\n".join(escape(line) for line in lines) + "\n"  # names from the book print as one inert line each


def _period(s: Statement) -> str:
    return f"{s.period_from or 'start'}..{s.period_to or s.block_date or 'height ' + str(s.height)}"


def _section(title: str) -> list[str]:
    return ["", title.upper(), "-" * len(title)]


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], *, right: Sequence[int] = ()) -> list[str]:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        cells = [str(cell).rjust(w) if i in right else str(cell).ljust(w) for i, (cell, w) in
                 enumerate(zip(row, widths))]
        return ("  " + "  ".join(cells)).rstrip()

    return [line(header), "  " + "  ".join("-" * w for w in widths), *(line(row) for row in rows)]
