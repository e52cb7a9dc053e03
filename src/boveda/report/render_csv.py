"""The statement as CSV: one row per movement of the period, amounts in satoshis and in BTC."""

from __future__ import annotations

import csv
import io

from boveda.money import format_btc
from boveda.reconcile.model import parties_text
from boveda.report.statement import Statement
from boveda.text import escape

COLUMNS = (
    "date", "height", "tx_index", "txid", "kind", "amount_sat", "amount_btc", "fee_sat", "fee_btc",
    "counterparty", "transfer", "entry_id", "entry_ids", "discrepancies",
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
            " ".join(flagged.get(m.txid_hex, ())),
        ))  # cells escaped: a CSV opened in a terminal or a spreadsheet shows no control or bidi character
    return out.getvalue()
