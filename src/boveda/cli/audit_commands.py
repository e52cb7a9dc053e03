"""`boveda audit verify/head/export`, `export`, `import`: the audit log and the whole book as a file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

import click

from boveda.book import Book
from boveda.book.audit import AuditEvent
from boveda.book.json_forms import audit_head_json
from boveda.cli.common import (
    EXIT_CHECK_FAILED,
    FORCE_OPTION,
    JSON_OPTION,
    _echo_json,
    _group,
    _location,
    _open_book,
    done,
    say,
    source_given,
    source_options,
)
from boveda.cli.params import AUDIT_HASH, SafePath
from boveda.service.anchors import AnchorCheck, verify_anchors
from boveda.service.chain import ChainOptions
from boveda.service.integrity import verify_book
from boveda.service.wallets import import_book
from boveda.text import escape_json_text


@click.command("verify")
@JSON_OPTION
@click.option("--expect-head", type=AUDIT_HASH, metavar="HASH", help="A head published earlier; fail if the log no longer contains it.")
@click.option("--anchors", "check_anchors", is_flag=True,
              help="Also find every audit anchor on chain (read from the node or datadir, not from the book) and "
                   "check the log still holds each anchored head at its seq.")
@source_options
@click.pass_context
def audit_verify(ctx: click.Context, as_json: bool, expect_head: str | None, check_anchors: bool,
                 datadir: Path | None, network_name: str | None, rpc_url: str | None, use_cookie: bool) -> None:
    """Check the audit chain, that every table matches it, and the chain facts against their seal; exit 1 and
    name the first bad event (or block of chain facts) if not.

    With --anchors, also read from the chain (--rpc-url, --rpc or --datadir; default: the route the book
    remembers) every transaction that spent one of the book's wallets' coins, and check each audit anchor
    (`boveda audit anchor`) in them: its hash must be the log's event at its seq, its seq within the log and
    never below an earlier anchor's. A whole database replaced by one with a consistently re-hashed log
    passes the first checks but fails this one, naming the anchor it breaks. Which transactions spent the
    wallets' coins comes from the chain facts: their seal is checked here and `boveda facts verify` rescans
    them against the chain.

    \b
    Example:
      boveda audit verify
      boveda audit verify --expect-head 6861f11d…304d --json
      boveda audit verify --anchors --rpc
    """
    chain = ChainOptions(datadir, network_name, rpc_url, use_cookie)
    if not check_anchors and (source_given(ctx) or network_name is not None):
        raise click.UsageError("--rpc-url, --rpc, --datadir and --network are read with --anchors only")
    with _open_book(ctx) as book:
        report = verify_book(book, expected_head=expect_head)
        anchors = verify_anchors(book, chain) if check_anchors else None
    ok = report.ok and (anchors is None or anchors.ok)
    if as_json:
        document = report.to_json()
        if anchors is not None:
            document = {**document, "ok": ok, "anchors": anchors.to_json()}
        _echo_json(document)
    elif report.ok:
        say(f"audit log intact: {report.events_checked} events, head {report.head.hash_hex}")
    else:
        for problem in report.problems:
            say(problem.message)
    if anchors is not None and not as_json:
        _say_anchors(anchors)
    if not report.ok:
        first = report.problems[0]
        where = (f"first bad event: {report.first_bad_seq}" if report.first_bad_seq is not None
                 else "chain facts" if first.message.startswith("chain facts") else "tables")
        say(f"audit verify failed ({where}): {first.message}", err=True)
    elif anchors is not None and not anchors.ok:
        say(f"audit verify failed (anchors): {anchors.problems[0]}", err=True)
    if not ok:
        ctx.exit(EXIT_CHECK_FAILED)


def _say_anchors(check: AnchorCheck) -> None:
    for anchor in check.anchors:
        if anchor.problem is None:
            say(f"anchor {anchor.txid_hex} (height {anchor.height}): event {anchor.seq}, hash {anchor.anchored_hex} "
                "— in the log")
        else:
            say(anchor.problem)
    for problem in check.problems[sum(a.problem is not None for a in check.anchors):]:
        say(problem)
    for note in check.notes:
        say(f"note: {note}")
    verdict = "hold" if check.ok else "do not all hold"
    read = check.transactions_read
    if not check.anchors:
        say(f"anchors: none found on chain in the {read} transaction{'s' * (read != 1)} spending the book's wallets' "
            f"coins (to height {check.synced_height}): make one with boveda audit anchor")
        return
    say(f"anchors: {len(check.anchors)} found on chain in the {read} transaction{'s' * (read != 1)} spending the "
        f"book's wallets' coins (to height {check.synced_height}); they {verdict}")


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
    """Print the audit log: one event per line with who recorded (and approved) it, or with --json the export document.

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
            say(f"{event.seq}  {event.recorded_at}  {event.hash_hex}  {event.kind}  {_actor_words(event)}  "
                f"{event.payload_json}")


def _actor_words(event: AuditEvent) -> str:
    """``by NAME`` (and ``approved by NAME``); ``by -`` for events recorded before operators were."""
    approved = "" if event.approved_by is None else f" approved by {event.approved_by}"
    return f"by {event.operator or '-'}{approved}"


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
@JSON_OPTION
@click.pass_context
def import_command(ctx: click.Context, file: str, quiet: bool, as_json: bool) -> None:
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
    done(as_json, {"events_applied": result.events_applied, "events_in_file": result.events_in_file,
                   "head": audit_head_json(result.head)},
         f"imported {result.events_applied} of {result.events_in_file} events; head {result.head.hash_hex}")


def register(cli: click.Group) -> None:
    for command in (export_command, import_command):
        cli.add_command(command)
    audit = _group(cli, "audit", "The hash-chained audit log of every change to the book.")
    for command in (audit_verify, audit_head_command, audit_export):
        audit.add_command(command)
