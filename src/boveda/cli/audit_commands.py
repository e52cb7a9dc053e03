"""`boveda audit verify/head/export`, `export`, `import`: the audit log and the whole book as a file."""

from __future__ import annotations

import sys
from typing import TextIO

import click

from boveda.book import Book
from boveda.book.json_forms import audit_head_json
from boveda.cli.common import (
    EXIT_CHECK_FAILED,
    FORCE_OPTION,
    JSON_OPTION,
    _echo_json,
    _group,
    _location,
    _open_book,
    say,
)
from boveda.cli.params import AUDIT_HASH, SafePath
from boveda.service.wallets import import_book
from boveda.text import escape_json_text


@click.command("verify")
@JSON_OPTION
@click.option("--expect-head", type=AUDIT_HASH, metavar="HASH", help="A head published earlier; fail if the log no longer contains it.")
@click.pass_context
def audit_verify(ctx: click.Context, as_json: bool, expect_head: str | None) -> None:
    """Check the audit chain and that every table matches it; exit 1 and name the first bad event if not.

    \b
    Example:
      boveda audit verify
      boveda audit verify --expect-head 6861f11d…304d --json
    """
    with _open_book(ctx) as book:
        report = book.verify(expected_head=expect_head)
    if as_json:
        _echo_json(report.to_json())
    elif report.ok:
        say(f"audit log intact: {report.events_checked} events, head {report.head.hash_hex}")
    else:
        for problem in report.problems:
            say(problem.message)
    if not report.ok:
        first = report.problems[0]
        where = f"first bad event: {report.first_bad_seq}" if report.first_bad_seq is not None else "tables"
        say(f"audit verify failed ({where}): {first.message}", err=True)
        ctx.exit(EXIT_CHECK_FAILED)


@click.command("head")
@JSON_OPTION
@click.pass_context
def audit_head_command(ctx: click.Context, as_json: bool) -> None:
    """Print the audit log's head hash, for publication.

    \b
    Example:
      boveda audit head
    """
    with _open_book(ctx) as book:
        head = book.audit_head()
    if as_json:
        _echo_json(audit_head_json(head))
    else:
        say(f"{head.hash_hex}  (event {head.seq})")


@click.command("export")
@JSON_OPTION
@click.pass_context
def audit_export(ctx: click.Context, as_json: bool) -> None:
    """Print the audit log: one event per line, or with --json the export document.

    \b
    Example:
      boveda audit export | less
      boveda audit export --json > audit.json
    """
    with _open_book(ctx) as book:
        if as_json:
            book.write_export(_InertJSON(sys.stdout))
            return
        for event in book.iter_audit_events():
            say(f"{event.seq}  {event.recorded_at}  {event.hash_hex}  {event.kind}  {event.payload_json}")


class _InertJSON:
    """A text stream that writes JSON with the characters `json.dumps` leaves raw (C1 controls, line-separator
    and bidi characters) as \\uXXXX escapes: the same document for `boveda import`, inert on a terminal."""

    def __init__(self, out: TextIO) -> None:
        self._out = out

    def write(self, text: str) -> int:
        return self._out.write(escape_json_text(text))


@click.command("export")
@click.argument("file", type=SafePath(dir_okay=False))
@FORCE_OPTION
@click.pass_context
def export_command(ctx: click.Context, file: str, force: bool) -> None:
    """Write the whole book (its audit log) to FILE as JSON; boveda import reads it back exactly.

    \b
    Example:
      boveda export book.json
    """
    with _open_book(ctx) as book:
        head = book.export(file, force=force)
    say(f"exported {head.seq} events to {file} (head {head.hash_hex})")


@click.command("import")
@click.argument("file", type=SafePath(exists=True, dir_okay=False))
@click.option("--quiet", is_flag=True, help="No progress on stderr.")
@click.pass_context
def import_command(ctx: click.Context, file: str, quiet: bool) -> None:
    """Replay an export FILE into the book, in one transaction (all or nothing).

    The book must be empty (it is created if missing) or be an earlier state of the same
    book: every event is checked against its hash and the rules, and keeps its hash; the file's
    stated head must name its last event, and each wallet's descriptor must parse as `wallet add`
    would parse it.

    \b
    Example:
      boveda --book copy.db import book.json
    """
    def progress(count: int) -> None:
        if not quiet:
            say(f"imported {count} events (uncommitted)…", err=True)

    with Book.open(_location(ctx), create=True) as book:
        result = import_book(book, file, progress=progress)
    say(f"imported {result.events_applied} of {result.events_in_file} events; head {result.head.hash_hex}")


def register(cli: click.Group) -> None:
    for command in (export_command, import_command):
        cli.add_command(command)
    audit = _group(cli, "audit", "The hash-chained audit log of every change to the book.")
    for command in (audit_verify, audit_head_command, audit_export):
        audit.add_command(command)
