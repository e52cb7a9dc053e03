"""What every command module shares: the book option, JSON output, plain tables, command groups."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from boveda.book import Book

EXIT_CHECK_FAILED = 1  # a check ran and failed: tampering, a discrepancy, a proof that does not verify
EXIT_BAD_INPUT = 2  # bad input or broken infrastructure, refused with one line on stderr

JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
DATE_OPTION = click.option("--date", "date_text", metavar="YYYY-MM-DD", help="Effective date (default: today, UTC).")


def _location(ctx: click.Context) -> str:
    obj = ctx.find_root().obj or {}
    return obj.get("book", "boveda.db")


@contextmanager
def _open_book(ctx: click.Context) -> Iterator[Book]:
    with Book.open(_location(ctx)) as book:
        yield book


def _group(cli: click.Group, name: str, help_text: str) -> click.Group:
    """The group ``name`` of ``cli``: reused if another module registered it, else created."""
    existing = cli.commands.get(name)
    if isinstance(existing, click.Group):
        return existing
    group = click.Group(name, help=help_text)
    cli.add_command(group)
    return group


def _echo_json(document: Any) -> None:
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))


def _table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
