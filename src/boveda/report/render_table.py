"""The statement as plain text for a terminal: fixed-width sections, BTC with 8 decimals."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from boveda.money import format_btc
from boveda.reconcile.model import parties_text
from boveda.report.fiat import ENTRY_PRICE_SOURCE, ROUNDING, FiatSummary, format_minor
from boveda.report.rollforward import RollForward, day_before
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

    if s.rollforward is not None:
        lines += _rollforward(s.rollforward)
    if s.fiat is not None:
        lines += _fiat(s.fiat)

    lines += _section("Findings in plain words")
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
        labelled = ("label",) if s.labels else ()  # a column only when a BIP-329 label names one of them
        lines += _table(
            ("date", "height", "txid", "kind", "amount BTC", "fee BTC", "counterparty", "entry", "findings", *labelled),
            [(m.block_date.isoformat(), str(m.height), m.txid_hex[:16] + "…", m.kind.value, format_btc(m.amount_sat),
              "" if m.fee_sat is None else format_btc(m.fee_sat), parties_text(m.counterparty),
              "" if m.entry_id is None else f"#{m.entry_id}", " ".join(flagged.get(m.txid_hex, ())),
              *((s.labels.get(m.txid_hex, ""),) if labelled else ()))
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
    if s.anchors:
        lines += _section("Audit anchors on chain (the audit log's head committed in a transaction)")
        lines += _table(("height", "txid", "event", "audit head"),
                        [(str(a.height), a.txid_hex, str(a.seq), a.head_hex) for a in s.anchors], right=(0, 2))
    return "\n".join(escape(line) for line in lines) + "\n"  # names from the book print as one inert line each


def _rollforward(rf: RollForward) -> list[str]:
    lines = _section(f"Roll-forward {rf.period_from}..{rf.period_to}" if rf.period_from
                     else f"Roll-forward up to {rf.period_to}")
    first = "the first synced block" if rf.opening_height is None else f"block {rf.opening_height + 1}"
    dated = f"from {rf.period_from} to {rf.period_to}" if rf.period_from else f"up to {rf.period_to}"
    lines += textwrap.wrap(f"Chain: the blocks from {first} to block {rf.closing_height}; book: the entries dated "
                           f"{dated}.", WIDTH, initial_indent="  ", subsequent_indent="  ")
    before = day_before(rf.period_from)
    where = "before the first synced block" if rf.opening_height is None else f"block {rf.opening_height}"
    opening = f"Opening balance ({where})" if before is None else f"Opening balance (end of {before}, {where})"
    c, b = rf.chain, rf.book
    rows: list[tuple[str, str, str]] = [
        (opening, format_btc(c.opening_sat), format_btc(b.opening_sat)),
        (f"+ inflows ({c.inflow_count} / {b.inflow_count})", format_btc(c.inflows_sat), format_btc(b.inflows_sat)),
        (f"− outflows ({c.outflow_count} / {b.outflow_count})", format_btc(c.outflows_sat),
         format_btc(b.outflows_sat)),
        ("− fees", format_btc(c.fees_sat), format_btc(b.fees_sat)),
    ]
    if c.mixed_count or c.mixed_net_sat or b.mixed_net_sat:
        rows.append((f"± mixed, net ({c.mixed_count})", format_btc(c.mixed_net_sat), format_btc(b.mixed_net_sat)))
    rows.append((f"= Closing balance (end of {rf.period_to}, block {rf.closing_height})", format_btc(c.closing_sat),
                 format_btc(b.closing_sat)))
    rows.append((f"internal moves ({c.internal_count} / {b.internal_count}), balance unchanged but the fee",
                 format_btc(c.internal_moved_sat), "" if not b.internal_moved_sat else format_btc(b.internal_moved_sat)))
    lines += _table(("", "chain BTC", "book BTC"), rows, right=(1, 2))
    verdict = "adds up on both sides" if rf.adds_up else (
        "DOES NOT ADD UP: " + ", ".join(side for side, ok in (("chain", c.adds_up), ("book", b.adds_up)) if not ok))
    lines += textwrap.wrap(f"Opening + inflows − outflows − fees = closing: {verdict}. Counts are chain / book.",
                           WIDTH, initial_indent="  ", subsequent_indent="  ")
    return lines


def _fiat(f: FiatSummary) -> list[str]:
    lines = _section(f"Value in {f.currency} at the end of {f.on}")
    if f.price is None:
        lines += textwrap.wrap(f"Price of 1 BTC: no price for {f.on} in {f.currency} in the book's price table "
                               "(boveda prices import): no value shown.", WIDTH, initial_indent="  ",
                               subsequent_indent="  ")
    else:
        lines.append(f"  Price of 1 BTC: {format_minor(f.price.price_minor)} {f.price.currency} on {f.price.on} "
                     f"(source: {f.price.source})")
    money = [("Holdings (chain)", format_btc(f.holdings_sat), _minor(f.value_minor))]
    if f.cost_basis_minor is None:
        money.append(("Purchases with a recorded price (cost basis in USD only)", format_btc(f.purchased_sat), "—"))
    else:
        money += [("Purchases with a recorded price: cost basis", format_btc(f.purchased_sat),
                   _minor(f.cost_basis_minor)),
                  ("  their value at the period end", "", _minor(f.purchases_value_minor)),
                  ("  unrealised gain on them", "", _minor(f.unrealised_gain_minor))]
    if f.unpriced_sat:
        money.append(("Purchases without a recorded price (no cost basis)", format_btc(f.unpriced_sat), ""))
    lines += _table(("", "BTC", f.currency), money, right=(1, 2))
    note = f"Cost basis: {ENTRY_PRICE_SOURCE}. " if f.cost_basis_minor is not None else ""
    lines.append(f"  {note}Amounts {ROUNDING}.")
    return lines


def _minor(amount_minor: int | None) -> str:
    return "—" if amount_minor is None else format_minor(amount_minor)


def _period(s: Statement) -> str:
    return f"from {s.period_from or 'the first record'} to {s.period_to or s.block_date or 'height ' + str(s.height)}"


def _section(title: str) -> list[str]:
    return ["", title.upper(), "-" * len(title)]


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], *, right: Sequence[int] = ()) -> list[str]:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        cells = [str(cell).rjust(w) if i in right else str(cell).ljust(w) for i, (cell, w) in
                 enumerate(zip(row, widths))]
        return ("  " + "  ".join(cells)).rstrip()

    return [line(header), "  " + "  ".join("-" * w for w in widths), *(line(row) for row in rows)]
