"""`boveda journal`, `entry reverse/adjust` and `prices import/list`: reading the journal, correcting it
without rewriting it, and the office's own prices per BTC.

Each parses its options, calls one :class:`boveda.book.Book` method and renders the result; the
rules (what may be corrected, how a price is read) live in the book.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click

from boveda.book import Book, Entry, EntryKind
from boveda.book.checks import MAX_ID
from boveda.book.domain import ACCOUNT_FEES, Account
from boveda.book.errors import BookError
from boveda.book.json_forms import entry_json, price_json
from boveda.book.prices import check_currency, format_price_minor, read_price_file
from boveda.book.queries import Actor, JournalFilter
from boveda.cli.common import DATE_OPTION, JSON_OPTION, _echo_json, _group, _open_book, _table, done, say
from boveda.cli.params import BTC, PERIOD_DATE, SafePath, whole_number
from boveda.labels import labels_for
from boveda.money import format_btc
from boveda.text import escape_json_text

ENTRY_ID = whole_number("entry id", minimum=1, maximum=MAX_ID)


def _stream_json_list(key: str, items: Iterable[dict[str, Any]], extra: dict[str, Any] | None = None) -> None:
    """Write ``{"<key>": [...], **extra}`` item by item (a journal may hold millions of entries)."""
    click.echo("{" + json.dumps(key) + ": [", nl=False)
    first = True
    for item in items:
        click.echo(("\n  " if first else ",\n  ") + escape_json_text(json.dumps(item, ensure_ascii=False)), nl=False)
        first = False
    tail = "".join(f", {json.dumps(k)}: {escape_json_text(json.dumps(v, ensure_ascii=False))}"
                   for k, v in (extra or {}).items())
    click.echo(("\n" if not first else "") + "]" + tail + "}")


def _kind(text: str | None) -> EntryKind | None:
    if text is None:
        return None
    try:
        return EntryKind(text)
    except ValueError:
        raise BookError(f"--kind: unknown entry kind {text!r}: one of {', '.join(k.value for k in EntryKind)}") from None


def _actor_text(actor: Actor | None) -> str:
    if actor is None:
        return "-"
    return actor.operator if actor.approved_by is None else f"{actor.operator} (approved: {actor.approved_by})"


class _Corrections:
    """The journal's corrections, both ways: what each correction corrects, and what corrects each entry."""

    def __init__(self, book: Book) -> None:
        self.by_original = book.corrections_by_entry()
        self.originals = {oid: book.entry(oid) for oid in self.by_original}

    def signed_sat(self, entry: Entry) -> int:
        """A correction's change of what its original claims (−0.1 for 1.1 → 1.0); any other entry's amount."""
        original = self.originals.get(entry.corrects_entry_id) if entry.corrects_entry_id is not None else None
        if original is None:
            return entry.amount_sat
        receiver = next((p.account for p in original.postings if p.amount_sat > 0 and p.account != ACCOUNT_FEES),
                        None)
        return sum(p.amount_sat for p in entry.postings if p.account == receiver)

    def sides(self, entry: Entry) -> tuple[str, str]:
        shown = self.originals.get(entry.corrects_entry_id) if entry.corrects_entry_id is not None else None
        postings = (shown or entry).postings
        givers = ",".join(dict.fromkeys(str(p.account) for p in postings if p.amount_sat < 0))
        takers = ",".join(dict.fromkeys(str(p.account) for p in postings
                                        if p.amount_sat > 0 and p.account != ACCOUNT_FEES)) or str(ACCOUNT_FEES)
        return givers, takers

    def note(self, entry: Entry) -> str:
        parts = []
        if entry.corrects_entry_id is not None:
            parts.append(f"corrects #{entry.corrects_entry_id}")
        if entry.resolves:
            parts.append(f"resolves {entry.resolves}")
        corrected_by = self.by_original.get(entry.entry_id, ())
        if corrected_by:
            parts.append("corrected by " + ", ".join(f"#{i}" for i in corrected_by))
        if entry.from_wallet:
            parts.append(f"{entry.from_wallet} → {entry.to_wallet}")
        if entry.memo and (entry.corrects_entry_id is not None or entry.from_wallet):
            parts.append(entry.memo)
        return "; ".join(parts) or "-"


@click.command("journal")
@click.option("--account", metavar="ACCOUNT", help="Only entries posting to ACCOUNT (reserve:SV, custody:CASE, …).")
@click.option("--from", "from_date", type=PERIOD_DATE, metavar="YYYY-MM-DD", help="Only entries dated on or after this day.")
@click.option("--to", "to_date", type=PERIOD_DATE, metavar="YYYY-MM-DD", help="Only entries dated on or before this day.")
@click.option("--kind", "kind_text", metavar="KIND", help="Only entries of this kind (purchase, sale, …).")
@click.option("--txid", help="Only entries citing this transaction.")
@JSON_OPTION
@click.pass_context
def journal_command(ctx: click.Context, account: str | None, from_date: Any, to_date: Any, kind_text: str | None,
                    txid: str | None, as_json: bool) -> None:
    """List the journal's entries by date, with their fees, who recorded them and their corrections.

    \b
    Example:
      boveda journal
      boveda journal --account reserve:SV --from 2025-08-01 --to 2025-08-31 --kind purchase
      boveda journal --txid 9b1d…07 --json
    """
    where = JournalFilter(account=None if account is None else Account.parse(account), from_date=from_date,
                          to_date=to_date, kind=_kind(kind_text), txid=txid)
    with _open_book(ctx) as book:
        actors = book.entry_actors()
        corrections = _Corrections(book)
        entries = book.journal_where(where)
        if as_json:
            _stream_json_list("entries", (
                entry_json(e, operator=getattr(actors.get(e.entry_id), "operator", None),
                           approved_by=getattr(actors.get(e.entry_id), "approved_by", None),
                           corrected_by=corrections.by_original.get(e.entry_id, ()))
                for e in entries))
            return
        entries = list(entries)
        labels = labels_for(book, [t for e in entries for t in e.txids[:1]])  # BIP-329, of the txid shown
        rows = []
        for e in entries:
            givers, takers = corrections.sides(e)
            txids = e.txids[0] + (f" (+{len(e.txids) - 1})" if len(e.txids) > 1 else "") if e.txids else "-"
            rows.append((str(e.entry_id), e.effective_date.isoformat(), e.kind.value,
                         format_btc(corrections.signed_sat(e)), format_btc(e.fee_sat) if e.fee_sat else "-",
                         givers, takers, txids, e.authority_ref or "-", _actor_text(actors.get(e.entry_id)),
                         corrections.note(e), labels.get(e.txids[0], "") if e.txids else ""))
    if not rows:
        say("no entry matches")
        return
    _table(rows, ("ID", "DATE", "KIND", "BTC", "FEE", "FROM", "TO", "TXID", "AUTHORITY", "BY", "NOTE", "LABEL"))


_REASON = click.option("--reason", required=True, help="Why the entry is corrected.")
_RESOLVES = click.option("--resolves", metavar="FINDING",
                         help="The reconciliation finding this resolves, e.g. \"amount_mismatch 9b1d…07\".")


@click.command("reverse")
@click.argument("entry_id", metavar="N", type=ENTRY_ID)
@_REASON
@click.option("--order", required=True, help="The order or decision that voids the entry.")
@_RESOLVES
@DATE_OPTION
@JSON_OPTION
@click.pass_context
def entry_reverse(ctx: click.Context, entry_id: int, reason: str, order: str, resolves: str | None,
                  date_text: str | None, as_json: bool) -> None:
    """Append an entry undoing entry N; N stays in the journal, and the two together claim nothing.

    \b
    Example:
      boveda entry reverse 32 --reason "booked twice" --order "Treasury memo 2025-14"
    """
    with _open_book(ctx) as book:
        entry = book.reverse_entry(entry_id, reason=reason, order=order, resolves=resolves, date=date_text)
    done(as_json, {"entry_id": entry.entry_id, "corrects_entry_id": entry_id, "kind": entry.kind.value},
         f"entry {entry.entry_id}: reverses entry {entry_id} ({entry.kind.value})")


@click.command("adjust")
@click.argument("entry_id", metavar="N", type=ENTRY_ID)
@click.option("--amount", "amount_sat", required=True, type=BTC, metavar="BTC",
              help="What entry N should have recorded, e.g. 1.0 (fees excluded).")
@_REASON
@click.option("--order", help="The order or decision behind the correction, when there is one.")
@_RESOLVES
@DATE_OPTION
@JSON_OPTION
@click.pass_context
def entry_adjust(ctx: click.Context, entry_id: int, amount_sat: int, reason: str, order: str | None,
                 resolves: str | None, date_text: str | None, as_json: bool) -> None:
    """Append an entry bringing entry N to --amount; N stays in the journal, and the two together claim it.

    \b
    Example:
      boveda entry adjust 32 --amount 1.0 --reason "typed 1.1 for 1.0" --resolves "amount_mismatch 9b1d…07"
    """
    with _open_book(ctx) as book:
        entry = book.adjust_entry(entry_id, amount_sat=amount_sat, reason=reason, order=order, resolves=resolves,
                                  date=date_text)
    done(as_json, {"entry_id": entry.entry_id, "corrects_entry_id": entry_id, "kind": entry.kind.value,
                   "amount_sat": amount_sat},
         f"entry {entry.entry_id}: adjusts entry {entry_id} to {format_btc(amount_sat)} BTC ({entry.kind.value})")


@click.command("import")
@click.argument("file", type=SafePath(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", help="Where the prices come from (required unless the file has a source column).")
@click.option("--replace", is_flag=True, help="Change a day's stored price when the file gives another.")
@JSON_OPTION
@click.pass_context
def prices_import(ctx: click.Context, file: Path, source: str | None, replace: bool, as_json: bool) -> None:
    """Import prices per BTC from a CSV FILE with columns date,currency,price[,source] (all or nothing).

    Prices are in the currency's units (64123.45), read exactly. A day already priced with another
    price is refused unless --replace.

    \b
    Example:
      boveda prices import usd.csv --source "Banco Central de Reserva, daily close"
    """
    prices = read_price_file(file, source=source)
    with _open_book(ctx) as book:
        stored = book.import_prices(prices, replace=replace)
        head = book.audit_head()
    currencies = sorted({p.currency for p in prices})
    first, last = min(p.on for p in prices), max(p.on for p in prices)
    done(as_json, {"audit_seq": head.seq, "prices": len(prices), "stored": len(stored), "currencies": currencies,
                   "from": first.isoformat(), "to": last.isoformat()},
         f"imported {len(prices)} prices ({len(stored)} new or changed) for {', '.join(currencies)} from "
         f"{first.isoformat()} to {last.isoformat()}; audit event {head.seq}")


@click.command("list")
@click.option("--currency", help="Only this currency (USD, EUR, …).")
@JSON_OPTION
@click.pass_context
def prices_list(ctx: click.Context, currency: str | None, as_json: bool) -> None:
    """List the stored prices per BTC, by currency and day, with their sources.

    \b
    Example:
      boveda prices list --currency USD
    """
    with _open_book(ctx) as book:
        prices = book.prices(None if currency is None else check_currency(currency.upper()))
    if as_json:
        _echo_json({"prices": [price_json(p) for p in prices]})
        return
    _table([(p.on.isoformat(), p.currency, format_price_minor(p.price_minor), p.source) for p in prices],
           ("DATE", "CURRENCY", "PRICE PER BTC", "SOURCE"))


def register(cli: click.Group) -> None:
    cli.add_command(journal_command)
    entry = _group(cli, "entry", "Corrections of journal entries that keep history (reverse, adjust).")
    for command in (entry_reverse, entry_adjust):
        entry.add_command(command)
    prices = _group(cli, "prices", "The office's own prices per BTC, by day and currency.")
    for command in (prices_import, prices_list):
        prices.add_command(command)


__all__ = ["register"]
