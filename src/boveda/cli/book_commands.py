"""`boveda init`, `reserve`, `partner`, `case`, `lot`, `purchase`, `transfer`, `wallet`, `lots`,
`journal`, `balances`, `audit`, `export`, `import`: the book's commands.

Each parses its options, calls one :class:`boveda.book.Book` method and renders the result;
the rules live in the book. Amounts are BTC strings parsed exactly by :func:`boveda.money.parse_btc`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any

import click

from boveda.book import Book
from boveda.book.domain import (
    Balance,
    Entry,
    Lot,
    LotTransition,
    Wallet,
    format_percent_bp,
    parse_percent_bp,
    parse_usd_cents,
)
from boveda.book.store import describe
from boveda.cli.common import DATE_OPTION, JSON_OPTION, _echo_json, _group, _location, _open_book, _table
from boveda.bitcoin.network import Network
from boveda.money import format_btc, parse_btc
from boveda.wallets.descriptors import DescriptorError
from boveda.wallets.registry import register_wallet
from boveda.wallets.sync import parse_network, stored_network
from boveda.wallets.watch import DEFAULT_GAP_LIMIT

EXIT_CHECK_FAILED = 1

def _stream_json_list(key: str, items: Iterable[dict[str, Any]], extra: dict[str, Any] | None = None) -> None:
    """Write ``{"<key>": [...], **extra}`` item by item (a journal may hold millions of entries)."""
    click.echo("{" + json.dumps(key) + ": [", nl=False)
    first = True
    for item in items:
        click.echo(("\n  " if first else ",\n  ") + json.dumps(item, ensure_ascii=False), nl=False)
        first = False
    tail = "".join(f", {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in (extra or {}).items())
    click.echo(("\n" if not first else "") + "]" + tail + "}")


def _amount(text: str) -> int:
    return parse_btc(text)


# -- JSON forms ---------------------------------------------------------------------------------


def lot_json(lot: Lot, transitions: Iterable[LotTransition] = ()) -> dict[str, Any]:
    return {
        "lot_id": lot.lot_id,
        "case": lot.case_number,
        "amount_sat": lot.amount_sat,
        "amount_btc": format_btc(lot.amount_sat),
        "state": lot.state.value,
        "seizure_txid": lot.seizure_txid,
        "seizure_outpoints": list(lot.seizure_outpoints),
        "seized_on": lot.seized_on.isoformat(),
        "seizure_ref": lot.seizure_ref,
        "parent_lot_id": lot.parent_lot_id,
        "transitions": [transition_json(t) for t in transitions],
    }


def transition_json(t: LotTransition) -> dict[str, Any]:
    return {
        "transition_id": t.transition_id,
        "from": t.from_state.value,
        "to": t.to_state.value,
        "authority_ref": t.authority_ref,
        "date": t.effective_date.isoformat(),
        "txid": t.txid,
        "destination": t.destination,
        "share_percent": None if t.share_bp is None else format_percent_bp(t.share_bp),
        "entry_id": t.entry_id,
    }


def entry_json(entry: Entry) -> dict[str, Any]:
    return {
        "entry_id": entry.entry_id,
        "kind": entry.kind.value,
        "date": entry.effective_date.isoformat(),
        "amount_sat": entry.amount_sat,
        "fee_sat": entry.fee_sat,
        "postings": [{"account": p.account, "amount_sat": p.amount_sat} for p in entry.postings],
        "txids": list(entry.txids),
        "authority_ref": entry.authority_ref,
        "memo": entry.memo,
        "lot_id": entry.lot_id,
        "price_usd_cents": entry.price_usd_cents,
    }


def balance_json(balance: Balance) -> dict[str, Any]:
    return {"account": balance.account, "balance_sat": balance.balance_sat,
            "balance_btc": format_btc(balance.balance_sat)}


def wallet_json(wallet: Wallet) -> dict[str, Any]:
    return {"name": wallet.name, "owner": wallet.owner, "descriptor": wallet.descriptor,
            "birth_height": wallet.birth_height}


def _short(txid: str | None) -> str:
    return "-" if not txid else txid[:16] + "…"


# -- commands -----------------------------------------------------------------------------------


@click.command("init")
@click.pass_context
def init_command(ctx: click.Context) -> None:
    """Create an empty book (or migrate an older one to the current schema).

    \b
    Example:
      boveda init
      boveda --book postgresql://boveda@db.example/reserve init
    """
    result = Book.init(_location(ctx))
    verb = "created" if result.created else f"migrated from schema {result.revision_before} to"
    click.echo(f"book {describe(result.location)} {verb} schema {result.revision_after}")


@click.command("add")
@click.argument("code")
@click.option("--name", required=True, help="The reserve's full name.")
@click.option("--no-sale", is_flag=True, help="Policy: coins may never be sold from this reserve.")
@click.option("--address-cap", metavar="BTC", help="Policy: most BTC any one address may hold.")
@click.pass_context
def reserve_add(ctx: click.Context, code: str, name: str, no_sale: bool, address_cap: str | None) -> None:
    """Add a reserve CODE (capital letters, digits, '-').

    \b
    Example:
      boveda reserve add US-SBR --name "US Strategic Bitcoin Reserve" --no-sale
      boveda reserve add SV --name "El Salvador" --address-cap 500
    """
    cap_sat = None if address_cap is None else _amount(address_cap)
    with _open_book(ctx) as book:
        reserve = book.add_reserve(code, name=name, no_sale=no_sale, address_cap_sat=cap_sat)
    policy = "no-sale" if reserve.no_sale else "sales allowed"
    cap = "" if cap_sat is None else f", at most {format_btc(cap_sat)} BTC per address"
    click.echo(f"reserve {reserve.code} added ({policy}{cap})")


@click.command("add")
@click.argument("code")
@click.option("--name", required=True, help="The partner government's name.")
@click.pass_context
def partner_add(ctx: click.Context, code: str, name: str) -> None:
    """Add a partner government CODE that may receive a share of forfeited coins.

    \b
    Example:
      boveda partner add DE --name "Germany"
    """
    with _open_book(ctx) as book:
        partner = book.add_partner(code, name=name)
    click.echo(f"partner {partner.code} added")


@click.command("add")
@click.argument("number")
@click.option("--agency", required=True, help="The seizing agency.")
@click.option("--court", help="The court hearing the case.")
@click.pass_context
def case_add(ctx: click.Context, number: str, agency: str, court: str | None) -> None:
    """Add a criminal or civil case NUMBER; its seized coins are held in custody:NUMBER.

    \b
    Example:
      boveda case add 1:21-cr-00399 --agency FBI --court "D.D.C."
    """
    with _open_book(ctx) as book:
        case = book.add_case(number, agency=agency, court=court)
    click.echo(f"case {case.number} added (custody:{case.number})")


@click.command("seize")
@click.option("--case", "case_number", required=True, help="The case the lot is seized in.")
@click.option("--amount", required=True, metavar="BTC", help="Amount seized, e.g. 1.5 (at most 8 decimals).")
@click.option("--txid", required=True, help="The transaction that moved the coins into government custody.")
@click.option("--outpoint", "outpoints", multiple=True, metavar="TXID:N", help="A seized output (repeatable).")
@click.option("--order", help="Seizure warrant or order reference.")
@DATE_OPTION
@click.pass_context
def lot_seize(ctx: click.Context, case_number: str, amount: str, txid: str, outpoints: tuple[str, ...],
              order: str | None, date_text: str | None) -> None:
    """Record a new lot seized in a case; it starts in state 'seized'.

    \b
    Example:
      boveda lot seize --case 1:21-cr-00399 --amount 94636.7 --txid 4f3c…e1 --date 2022-02-01
    """
    amount_sat = _amount(amount)
    with _open_book(ctx) as book:
        lot = book.seize_lot(case=case_number, amount_sat=amount_sat, txid=txid, outpoints=outpoints,
                             date=date_text, order=order)
    click.echo(f"lot {lot.lot_id} seized: {format_btc(lot.amount_sat)} BTC in case {lot.case_number}")


def _lot_done(lot: Lot) -> None:
    click.echo(f"lot {lot.lot_id} is now {lot.state.value}")


@click.command("forfeiture-pending")
@click.argument("lot_id", metavar="LOT", type=int)
@click.option("--order", required=True, help="The complaint or notice opening forfeiture proceedings.")
@DATE_OPTION
@click.pass_context
def lot_pending(ctx: click.Context, lot_id: int, order: str, date_text: str | None) -> None:
    """Move a seized LOT to forfeiture_pending (proceedings opened).

    \b
    Example:
      boveda lot forfeiture-pending 1 --order "Complaint 22-cv-0123"
    """
    with _open_book(ctx) as book:
        _lot_done(book.mark_forfeiture_pending(lot_id, order=order, date=date_text))


@click.command("forfeit")
@click.argument("lot_id", metavar="LOT", type=int)
@click.option("--order", required=True, help="The final order of forfeiture.")
@DATE_OPTION
@click.pass_context
def lot_forfeit(ctx: click.Context, lot_id: int, order: str, date_text: str | None) -> None:
    """Move a LOT from forfeiture_pending to forfeited (final order).

    \b
    Example:
      boveda lot forfeit 1 --order "Final order of forfeiture, ECF 212"
    """
    with _open_book(ctx) as book:
        _lot_done(book.forfeit_lot(lot_id, order=order, date=date_text))


@click.command("allocate")
@click.argument("lot_id", metavar="LOT", type=int)
@click.option("--to", "to", required=True, metavar="reserve:CODE|restitution|sharing:PARTNER",
              help="Where the forfeited coins go.")
@click.option("--order", required=True, help="Court order or sharing agreement reference.")
@click.option("--percent", metavar="P", help="Sharing only: the partner's share in percent (e.g. 25 or 33.33).")
@click.option("--txid", help="The transaction that moved the coins, when known.")
@DATE_OPTION
@click.pass_context
def lot_allocate(ctx: click.Context, lot_id: int, to: str, order: str, percent: str | None, txid: str | None,
                 date_text: str | None) -> None:
    """Allocate a forfeited LOT: to a reserve, to victims (restitution) or to a partner (sharing).

    Only forfeited lots may enter a no-sale reserve. With sharing, the partner receives P %
    (rounded down to the satoshi) and the rest stays in custody as a new forfeited lot.

    \b
    Example:
      boveda lot allocate 1 --to reserve:US-SBR --order "EO 14233"
      boveda lot allocate 2 --to restitution --order "Restitution order ECF 301"
      boveda lot allocate 3 --to sharing:DE --percent 25 --order "MLAT 2023-17"
    """
    percent_bp = None if percent is None else parse_percent_bp(percent)
    with _open_book(ctx) as book:
        lot = book.allocate_lot(lot_id, to=to, order=order, percent_bp=percent_bp, txid=txid, date=date_text)
        _lot_done(lot)
        remainder = book.lots(parent_lot_id=lot_id)
    for rest in remainder:
        click.echo(f"lot {rest.lot_id} holds the remaining {format_btc(rest.amount_sat)} BTC, still forfeited")


@click.command("release")
@click.argument("lot_id", metavar="LOT", type=int)
@click.option("--order", required=True, help="The order returning the coins to the claimant.")
@click.option("--txid", help="The transaction that returned the coins, when known.")
@DATE_OPTION
@click.pass_context
def lot_release(ctx: click.Context, lot_id: int, order: str, txid: str | None, date_text: str | None) -> None:
    """Release a seized or forfeiture-pending LOT back to the claimant.

    \b
    Example:
      boveda lot release 4 --order "Order granting petition, ECF 88"
    """
    with _open_book(ctx) as book:
        _lot_done(book.release_lot(lot_id, order=order, txid=txid, date=date_text))


@click.command("add")
@click.option("--reserve", required=True, help="The reserve that bought.")
@click.option("--amount", required=True, metavar="BTC", help="BTC received, e.g. 1 or 0.5.")
@click.option("--txid", required=True, help="The transaction that delivered the coins.")
@click.option("--price-usd", metavar="N", help="Price paid in USD per BTC.")
@click.option("--exchange", default="unspecified", show_default=True, help="Where the coins were bought.")
@DATE_OPTION
@click.pass_context
def purchase_add(ctx: click.Context, reserve: str, amount: str, txid: str, price_usd: str | None, exchange: str,
                 date_text: str | None) -> None:
    """Record a purchase of bitcoin for a reserve.

    \b
    Example:
      boveda purchase add --reserve SV --amount 1 --txid 9b1d…07 --price-usd 104250 --date 2025-03-04
    """
    amount_sat = _amount(amount)
    price = None if price_usd is None else parse_usd_cents(price_usd)
    with _open_book(ctx) as book:
        entry = book.add_purchase(reserve=reserve, amount_sat=amount_sat, txid=txid, exchange=exchange,
                                  price_usd_cents=price, date=date_text)
    click.echo(f"entry {entry.entry_id}: purchase of {format_btc(amount_sat)} BTC for reserve {reserve}")


@click.command("add")
@click.option("--from", "from_account", required=True, metavar="ACCOUNT", help="Account the coins leave.")
@click.option("--to", "to_account", required=True, metavar="ACCOUNT", help="Account the coins reach.")
@click.option("--amount", required=True, metavar="BTC", help="BTC received by --to.")
@click.option("--txid", required=True, help="The transaction that moved the coins.")
@click.option("--reason", required=True, help="Why the coins moved.")
@click.option("--order", help="Order or agreement (required for restitution, release and sharing).")
@click.option("--fee", metavar="BTC", help="Miners' fee paid by --from on top of --amount.")
@DATE_OPTION
@click.pass_context
def transfer_add(ctx: click.Context, from_account: str, to_account: str, amount: str, txid: str, reason: str,
                 order: str | None, fee: str | None, date_text: str | None) -> None:
    """Record coins moving between two accounts; the entry's kind follows from them.

    \b
    Accounts: reserve:CODE, custody:CASE, partner:CODE, external:exchange:NAME,
    external:victims, external:claimant, external:miner, external:donor, expense:fees.
    reserve → reserve is an internal transfer, reserve → external:exchange a sale
    (refused from a no-sale reserve), reserve → expense:fees a fee, reserve → external:victims
    restitution, partner ↔ reserve sharing. Coins leave custody only through boveda lot.

    \b
    Example:
      boveda transfer add --from reserve:SV --to reserve:SV-COLD --amount 100 --txid 5e…a0 --reason "cold storage"
    """
    amount_sat = _amount(amount)
    fee_sat = None if fee is None else _amount(fee)
    with _open_book(ctx) as book:
        entry = book.add_transfer(from_account=from_account, to_account=to_account, amount_sat=amount_sat,
                                  txid=txid, reason=reason, order=order, fee_sat=fee_sat, date=date_text)
    click.echo(f"entry {entry.entry_id}: {entry.kind.value} of {format_btc(amount_sat)} BTC "
               f"from {from_account} to {to_account}")


@click.command("add")
@click.argument("name")
@click.option("--reserve", help="The reserve the wallet belongs to.")
@click.option("--case", "case_number", help="The case whose custody the wallet holds.")
@click.option("--descriptor", required=True, help="Output descriptor with its checksum (…#abcdefgh).")
@click.option("--birth-height", type=click.IntRange(min=0), help="First block that can hold its coins.")
@click.option("--gap-limit", type=click.IntRange(1, 10_000), default=DEFAULT_GAP_LIMIT, show_default=True,
              help="Unused addresses watched past the last used one, per branch.")
@click.option("--network", "network_name", help="main, testnet4, signet or regtest (default: the book's, else main).")
@click.pass_context
def wallet_add(ctx: click.Context, name: str, reserve: str | None, case_number: str | None, descriptor: str,
               birth_height: int | None, gap_limit: int, network_name: str | None) -> None:
    """Register a watch-only wallet NAME of a reserve or of a case's custody, and derive its first scripts.

    \b
    Example:
      boveda wallet add sv-cold --reserve SV --birth-height 800000 \\
        --descriptor "wpkh([d34db33f/84h/0h/0h]xpub6C…/<0;1>/*)#8lqz2vvm"
    """
    if (reserve is None) == (case_number is None):
        raise click.UsageError("give exactly one of --reserve CODE or --case NUMBER")
    with _open_book(ctx) as book:
        network = parse_network(network_name) if network_name else stored_network(book.store)
        try:
            wallet = register_wallet(book, name, descriptor, network=network or Network.MAIN, reserve=reserve,
                                     case=case_number, birth_height=birth_height, gap_limit=gap_limit)
        except DescriptorError as exc:
            hint = "" if network else " (checked for mainnet: pass --network for another network)"
            raise DescriptorError(f"{exc}{hint}") from None
    click.echo(f"wallet {wallet.name} registered for {wallet.owner}")


@click.command("list")
@JSON_OPTION
@click.pass_context
def wallet_list(ctx: click.Context, as_json: bool) -> None:
    """List the registered wallets.

    \b
    Example:
      boveda wallet list --json
    """
    with _open_book(ctx) as book:
        wallets = book.wallets()
    if as_json:
        _echo_json({"wallets": [wallet_json(w) for w in wallets]})
        return
    _table([(w.name, w.owner, "-" if w.birth_height is None else str(w.birth_height), w.descriptor)
            for w in wallets], ("NAME", "OWNER", "BIRTH", "DESCRIPTOR"))


@click.command("lots")
@JSON_OPTION
@click.pass_context
def lots_command(ctx: click.Context, as_json: bool) -> None:
    """List every lot with its state (and, with --json, its transitions).

    \b
    Example:
      boveda lots --json
    """
    with _open_book(ctx) as book:
        lots = book.lots()
        transitions: dict[int, list[LotTransition]] = {}
        for t in book.lot_transitions():
            transitions.setdefault(t.lot_id, []).append(t)
    if as_json:
        _echo_json({"lots": [lot_json(lot, transitions.get(lot.lot_id, ())) for lot in lots]})
        return
    _table(
        [(str(lot.lot_id), lot.case_number, format_btc(lot.amount_sat), lot.state.value, lot.seized_on.isoformat(),
          (transitions.get(lot.lot_id) or [None])[-1].authority_ref if transitions.get(lot.lot_id) else "-")
         for lot in lots],
        ("LOT", "CASE", "BTC", "STATE", "SEIZED", "LAST AUTHORITY"),
    )


@click.command("journal")
@JSON_OPTION
@click.pass_context
def journal_command(ctx: click.Context, as_json: bool) -> None:
    """List every journal entry, oldest first.

    \b
    Example:
      boveda journal
      boveda journal --json > journal.json
    """
    with _open_book(ctx) as book:
        if as_json:
            _stream_json_list("entries", (entry_json(e) for e in book.iter_journal()))
            return
        header = ("ID", "DATE", "KIND", "BTC", "FROM", "TO", "TXID", "AUTHORITY")
        click.echo("  ".join(header))
        for e in book.iter_journal():
            givers = ",".join(p.account for p in e.postings if p.amount_sat < 0)
            takers = ",".join(p.account for p in e.postings if p.amount_sat > 0)
            click.echo(f"{e.entry_id}  {e.effective_date.isoformat()}  {e.kind.value}  {format_btc(e.amount_sat)}  "
                       f"{givers}  {takers}  {_short(e.txids[0] if e.txids else None)}  {e.authority_ref or '-'}")


@click.command("balances")
@JSON_OPTION
@click.pass_context
def balances_command(ctx: click.Context, as_json: bool) -> None:
    """Show every account's balance (holdings positive; sources such as exchanges negative).

    \b
    Example:
      boveda balances --json
    """
    with _open_book(ctx) as book:
        balances = book.balances()
        head = book.audit_head()
    if as_json:
        _echo_json({"balances": [balance_json(b) for b in balances],
                    "audit_head": {"seq": head.seq, "hash": head.hash_hex}})
        return
    _table([(b.account, format_btc(b.balance_sat)) for b in balances], ("ACCOUNT", "BTC"))


@click.command("verify")
@JSON_OPTION
@click.option("--expect-head", metavar="HASH", help="A head published earlier; fail if the log no longer contains it.")
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
        click.echo(f"audit log intact: {report.events_checked} events, head {report.head.hash_hex}")
    else:
        for problem in report.problems:
            click.echo(problem.message)
    if not report.ok:
        first = report.problems[0]
        where = f"first bad event: {report.first_bad_seq}" if report.first_bad_seq is not None else "tables"
        click.echo(f"audit verify failed ({where}): {first.message}", err=True)
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
        _echo_json({"seq": head.seq, "hash": head.hash_hex})
    else:
        click.echo(f"{head.hash_hex}  (event {head.seq})")


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
            book.write_export(sys.stdout)
            return
        for event in book.iter_audit_events():
            click.echo(f"{event.seq}  {event.recorded_at}  {event.hash_hex}  {event.kind}  {event.payload_json}")


@click.command("export")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
@click.pass_context
def export_command(ctx: click.Context, file: str) -> None:
    """Write the whole book (its audit log) to FILE as JSON; boveda import reads it back exactly.

    \b
    Example:
      boveda export book.json
    """
    with _open_book(ctx) as book:
        head = book.export(file)
    click.echo(f"exported {head.seq} events to {file} (head {head.hash_hex})")


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--quiet", is_flag=True, help="No progress on stderr.")
@click.pass_context
def import_command(ctx: click.Context, file: str, quiet: bool) -> None:
    """Replay an export FILE into the book, in one transaction (all or nothing).

    The book must be empty (it is created if missing) or be an earlier state of the same
    book: every event is checked against its hash and the rules, and keeps its hash.

    \b
    Example:
      boveda --book copy.db import book.json
    """
    def progress(count: int) -> None:
        if not quiet:
            click.echo(f"imported {count} events (uncommitted)…", err=True)

    with Book.open(_location(ctx), create=True) as book:
        result = book.import_file(file, progress=progress)
    click.echo(f"imported {result.events_applied} of {result.events_in_file} events; head {result.head.hash_hex}")


def register(cli: click.Group) -> None:
    """Add the book's commands to the root group."""
    cli.add_command(init_command)
    _group(cli, "reserve", "Reserves: one government's book of coins.").add_command(reserve_add)
    _group(cli, "partner", "Partner governments under sharing agreements.").add_command(partner_add)
    _group(cli, "case", "Criminal and civil cases whose seized coins are held in custody.").add_command(case_add)
    lot = _group(cli, "lot", "Seized lots through their legal lifecycle.")
    for command in (lot_seize, lot_pending, lot_forfeit, lot_allocate, lot_release):
        lot.add_command(command)
    _group(cli, "purchase", "Purchases of bitcoin for a reserve.").add_command(purchase_add)
    _group(cli, "transfer", "Coins moving between accounts.").add_command(transfer_add)
    wallet = _group(cli, "wallet", "Watch-only wallets (output descriptors) of reserves and custody holdings.")
    wallet.add_command(wallet_add)
    if "list" not in wallet.commands:
        wallet.add_command(wallet_list)
    for command in (lots_command, journal_command, balances_command, export_command, import_command):
        cli.add_command(command)
    audit = _group(cli, "audit", "The hash-chained audit log of every change to the book.")
    for command in (audit_verify, audit_head_command, audit_export):
        audit.add_command(command)


__all__ = ["register"]
