"""`boveda reconcile` and `boveda statement`: a reserve's book against the chain at a height."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import click

from boveda.cli.common import EXIT_CHECK_FAILED, JSON_OPTION, _open_book
from boveda.money import format_btc
from boveda.reconcile.explain import explain
from boveda.report.render_csv import render_csv
from boveda.report.render_html import render_html
from boveda.report.render_json import render_json
from boveda.report.render_table import render_table
from boveda.service.reserve import reserve_statement, reserve_view

RENDERERS = {"table": render_table, "json": render_json, "csv": render_csv, "html": render_html}


@click.command("reconcile")
@click.option("--reserve", required=True, help="The reserve's code.")
@click.option("--at", "at_height", type=click.IntRange(min=0), help="Block height (default: the last synced).")
@JSON_OPTION
@click.pass_context
def reconcile_command(ctx: click.Context, reserve: str, at_height: int | None, as_json: bool) -> None:
    """Classify every movement of a reserve on chain and match it with the journal; exit 1 on a critical discrepancy.

    \b
    Example:
      boveda reconcile --reserve SV --at 850000 --json
    """
    with _open_book(ctx) as book:
        result = reserve_view(book, reserve, at_height).reconciliation
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        click.echo(f"reserve {result.reserve} at height {result.height} ({result.block_hash_hex})")
        click.echo(f"  chain {format_btc(result.chain_balance_sat)} BTC, book {format_btc(result.book_balance_sat)} BTC; "
                   f"{len(result.movements)} movements, {len(result.discrepancies)} discrepancies")
        for sentence in explain(result):
            click.echo(f"  - {sentence}")
    if result.has_critical:
        ctx.exit(EXIT_CHECK_FAILED)


def _day(text: str | None, option: str) -> datetime.date | None:
    if text is None:
        return None
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a date (YYYY-MM-DD)", param_hint=option) from None


@click.command("statement")
@click.option("--reserve", required=True, help="The reserve's code.")
@click.option("--at", "at_height", type=click.IntRange(min=0), help="Block height (default: the last synced).")
@click.option("--from", "date_from", metavar="YYYY-MM-DD", help="First day of the period (default: the beginning).")
@click.option("--to", "date_to", metavar="YYYY-MM-DD", help="Last day of the period (default: the height's day).")
@click.option("--format", "output_format", type=click.Choice(sorted(RENDERERS)), default="table", show_default=True)
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="Write to FILE instead of stdout.")
@click.pass_context
def statement_command(ctx: click.Context, reserve: str, at_height: int | None, date_from: str | None,
                      date_to: str | None, output_format: str, out: Path | None) -> None:
    """A reserve's statement: holdings per wallet, movements by kind, fees, discrepancies in plain words.

    The HTML form is one self-contained file with charts, printable on A4; CSV has one row per movement.

    \b
    Example:
      boveda statement --reserve SV --from 2025-08-01 --to 2025-08-31 --format html --out sv.html
    """
    period_from, period_to = _day(date_from, "--from"), _day(date_to, "--to")
    if period_from and period_to and period_from > period_to:
        raise click.BadParameter("--from comes after --to", param_hint="--from")
    with _open_book(ctx) as book:
        statement = reserve_statement(book, reserve, at_height, period_from, period_to)
    text = RENDERERS[output_format](statement)
    if out is None:
        click.echo(text, nl=not text.endswith("\n"))
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"statement of {statement.reserve} at height {statement.height} written to {out}")


def register(cli: click.Group) -> None:
    cli.add_command(reconcile_command)
    cli.add_command(statement_command)
