"""The statement as CSV: one row per movement of the period, amounts in satoshis and in BTC; then, after
one empty line, the period's roll-forward as a second table (one row per line, chain and book side)."""

from __future__ import annotations

import csv
import io

from boveda.money import format_btc
from boveda.reconcile.model import parties_text
from boveda.report.rollforward import RollForward
from boveda.report.statement import Statement
from boveda.text import escape

COLUMNS = (
    "date", "height", "tx_index", "txid", "kind", "amount_sat", "amount_btc", "fee_sat", "fee_btc",
    "counterparty", "transfer", "entry_id", "entry_ids", "discrepancies", "label",
)


def render_csv(statement: Statement) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    flagged = statement.discrepancy_kinds_by_txid()
    for m in statement.movements:
        writer.writerow(escape(str(cell)) for cell in (
            m.block_date.isoformat(), m.height, m.tx_index, m.txid_hex, m.kind.value, m.amount_sat,
            format_btc(m.amount_sat), "" if m.fee_sat is None else m.fee_sat,
            "" if m.fee_sat is None else format_btc(m.fee_sat), parties_text(m.counterparty),
            "yes" if m.is_transfer else "no",
            "" if m.entry_id is None else m.entry_id, " ".join(str(i) for i in m.entry_ids),
            " ".join(flagged.get(m.txid_hex, ())), statement.labels.get(m.txid_hex, ""),
        ))  # cells escaped: a CSV opened in a terminal or a spreadsheet shows no control or bidi character
    if statement.rollforward is not None:
        out.write("\n")
        _rollforward(writer, statement.rollforward)
    return out.getvalue()


ROLLFORWARD_COLUMNS = ("rollforward", "chain_sat", "chain_btc", "chain_count", "book_sat", "book_btc", "book_count")


def _rollforward(writer, rf: RollForward) -> None:
    """Lines in the order they add up (the JSON statement's ``rollforward`` has the period's days and blocks)."""
    writer.writerow(ROLLFORWARD_COLUMNS)
    c, b = rf.chain, rf.book
    for line, chain_sat, book_sat, chain_count, book_count in (
        ("opening_balance", c.opening_sat, b.opening_sat, "", ""),
        ("inflows", c.inflows_sat, b.inflows_sat, c.inflow_count, b.inflow_count),
        ("outflows", c.outflows_sat, b.outflows_sat, c.outflow_count, b.outflow_count),
        ("fees", c.fees_sat, b.fees_sat, "", ""),
        ("mixed_net", c.mixed_net_sat, b.mixed_net_sat, c.mixed_count, b.mixed_count),
        ("closing_balance", c.closing_sat, b.closing_sat, "", ""),
        ("internal_moved", c.internal_moved_sat, b.internal_moved_sat, c.internal_count, b.internal_count),
    ):
        writer.writerow((line, chain_sat, format_btc(chain_sat), chain_count, book_sat, format_btc(book_sat),
                         book_count))
    writer.writerow(("adds_up", "yes" if c.adds_up else "no", "", "", "yes" if b.adds_up else "no", "", ""))
