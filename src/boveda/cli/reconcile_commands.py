"""`boveda reconcile`, `boveda statement` and `boveda height`: a reserve's book against the chain at a height,
and the height of a day."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import click

from boveda.cli.common import (
    EXIT_CHECK_FAILED,
    FORCE_OPTION,
    JSON_OPTION,
    REFRESH_OPTION,
    _echo_json,
    _open_book,
    refresh_book,
    say,
    source_given,
    source_options,
)
from boveda.cli.params import HEIGHT, PERIOD_DATE, SafePath
from boveda.money import format_btc
from boveda.outfiles import check_target, write_text
from boveda.reconcile.explain import explain
from boveda.report.i18n import LANGUAGES
from boveda.report.render_csv import render_csv
from boveda.report.render_html import render_html
from boveda.report.render_json import render_json
from boveda.report.render_pdf import pdf_engine, render_pdf, write_pdf
from boveda.report.render_table import render_table
from boveda.service.chain import ChainOptions
from boveda.service.periods import UTC, block_of_day
from boveda.service.reserve import known_reserve, reserve_statement, reserve_view

RENDERERS = {"table": render_table, "json": render_json, "csv": render_csv, "html": render_html}


@click.command("reconcile")
@click.option("--reserve", required=True, help="The reserve's code.")
@click.option("--at", "at_height", type=HEIGHT, help="Block height (default: the last synced).")
@REFRESH_OPTION
@source_options
@JSON_OPTION
@click.pass_context
def reconcile_command(ctx: click.Context, reserve: str, at_height: int | None, refresh: bool, datadir: Path | None,
                      network_name: str | None, rpc_url: str | None, use_cookie: bool, as_json: bool) -> None:
    """Classify every movement of a reserve on chain and match it with the journal; exit 1 on a critical discrepancy.

    With --refresh (or --rpc-url, --rpc, --datadir) the book is synced to the chain's tip first.

    \b
    Example:
      boveda reconcile --reserve SV --at 850000 --json
      boveda reconcile --reserve SV --refresh --rpc
    """
    with _open_book(ctx) as book:
        known_reserve(book, reserve)  # before a refresh: a typo costs no sync
        if refresh or source_given(ctx):
            refresh_book(book, ChainOptions(datadir, network_name, rpc_url, use_cookie))
        result = reserve_view(book, reserve, at_height).reconciliation
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        say(f"reserve {result.reserve} at height {result.height} ({result.block_hash_hex})")
        say(f"  chain {format_btc(result.chain_balance_sat)} BTC, book {format_btc(result.book_balance_sat)} BTC; "
            f"{len(result.movements)} movements, {len(result.discrepancies)} discrepancies")
        for sentence in explain(result):
            say(f"  - {sentence}")
    if result.has_critical:
        ctx.exit(EXIT_CHECK_FAILED)


@click.command("statement")
@click.option("--reserve", required=True, help="The reserve's code.")
@click.option("--at", "at_height", type=HEIGHT, help="Block height (default: the last synced).")
@click.option("--from", "period_from", type=PERIOD_DATE, metavar="YYYY-MM-DD", help="First day of the period (default: the beginning).")
@click.option("--to", "period_to", type=PERIOD_DATE, metavar="YYYY-MM-DD",
              help="Last day of the period (UTC): the statement is at that day's last synced block (not with --at).")
@click.option("--currency", default="USD", show_default=True, metavar="CODE",
              help="Currency of the fiat figures (ISO 4217), priced from the book's price table.")
@click.option("--format", "output_format", type=click.Choice(sorted([*RENDERERS, "pdf"])), default="table",
              show_default=True)
@click.option("--out", type=SafePath(path_type=Path, dir_okay=False), help="Write to FILE instead of stdout.")
@click.option("--lang", type=click.Choice(LANGUAGES), default="en", show_default=True,
              help="Language of the HTML and PDF statement.")
@FORCE_OPTION
@click.pass_context
def statement_command(ctx: click.Context, reserve: str, at_height: int | None, period_from: datetime.date | None,
                      period_to: datetime.date | None, currency: str, output_format: str, out: Path | None,
                      force: bool, lang: str = "en") -> None:
    """A reserve's statement: holdings per wallet, movements by kind, fees, discrepancies in plain words, and
    the period's roll-forward (opening balance, inflows, outflows, internal moves, fees, closing balance) on
    the chain and in the book, with the value at the period end, the cost basis and the unrealised gain.

    Holdings and discrepancies are those of the period's last block (--to's day, UTC; else --at or the synced
    tip); movements are those of the blocks after the last block of the day before --from. A period ending
    after the synced tip's day is refused. The HTML form is one self-contained file with charts, printable
    on A4; CSV has one row per movement, then the roll-forward.

    \b
    Example:
      boveda statement --reserve SV --from 2025-08-01 --to 2025-08-31 --format html --out sv.html
      boveda statement --reserve SV --from 2025-08-01 --to 2025-08-15 --currency USD --format json
      boveda statement --reserve SV --from 2025-08-01 --to 2025-08-31 --format pdf --lang es --out sv.pdf
    """
    if lang != "en" and output_format not in ("html", "pdf"):
        raise click.UsageError("--lang applies to --format html and pdf")
    if output_format == "pdf":
        if out is None:
            raise click.UsageError("--format pdf writes a binary file: name it with --out FILE.pdf")
        pdf_engine()  # before any work: a machine without WeasyPrint or Pango is told what to install
    if out is not None:
        check_target(out, force=force)  # before any work: a refused file costs nothing
    if period_from and period_to and period_from > period_to:
        raise click.BadParameter("--from comes after --to", param_hint="--from")
    with _open_book(ctx) as book:
        statement = reserve_statement(book, reserve, at_height, period_from, period_to, currency=currency)
        head = book.audit_head()
    if output_format == "pdf":
        write_pdf(out, render_pdf(statement, audit_head=head, lang=lang), force=force)
        return say(f"statement of {statement.reserve} at height {statement.height} written to {out} (PDF)")
    text = (render_html(statement, lang=lang, audit_head=head) if output_format == "html"
            else RENDERERS[output_format](statement))
    if out is None:
        click.echo(text, nl=not text.endswith("\n"))
    else:
        write_text(out, text, force=force)
        say(f"statement of {statement.reserve} at height {statement.height} written to {out}")


@click.command("height")
@click.option("--date", "day", type=PERIOD_DATE, metavar="YYYY-MM-DD", required=True, help="The day.")
@click.option("--tz", "zone", default=UTC, show_default=True, metavar="ZONE",
              help="The day's time zone (IANA, e.g. America/El_Salvador).")
@JSON_OPTION
@click.pass_context
def height_command(ctx: click.Context, day: datetime.date, zone: str, as_json: bool) -> None:
    """The last synced block at or before the end of a day (23:59:59 in --tz): the height a statement for a
    period ending that day is made at. A day after the synced tip's day, or before the first synced block,
    is refused.

    \b
    Example:
      boveda height --date 2025-08-15
      boveda height --date 2025-08-15 --tz America/El_Salvador --json
    """
    with _open_book(ctx) as book:
        found = block_of_day(book, day, zone)
    if as_json:
        _echo_json(found.to_json())
    else:
        say(f"{found.height}  block {found.block_hash_hex}  at {found.block_datetime.isoformat()} — the last synced "
            f"block of {found.day} ({found.zone})")


def register(cli: click.Group) -> None:
    cli.add_command(reconcile_command)
    cli.add_command(statement_command)
    cli.add_command(height_command)
