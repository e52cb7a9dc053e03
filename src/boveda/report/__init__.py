"""Statements of a reserve at a block, rendered as a terminal table, JSON, CSV or one
self-contained HTML file. Renderers only format: every figure comes from the Statement."""

from boveda.report.render_csv import render_csv
from boveda.report.render_html import render_html
from boveda.report.render_json import render_json
from boveda.report.render_table import render_table
from boveda.report.statement import (
    Holding,
    JournalLine,
    KindSummary,
    SeriesBasis,
    SeriesPoint,
    Statement,
    build_statement,
    holdings_by_source,
    holdings_by_wallet,
)

__all__ = [
    "Holding",
    "JournalLine",
    "KindSummary",
    "SeriesBasis",
    "SeriesPoint",
    "Statement",
    "build_statement",
    "holdings_by_source",
    "holdings_by_wallet",
    "render_csv",
    "render_html",
    "render_json",
    "render_table",
]
