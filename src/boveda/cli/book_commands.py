"""`boveda init`, `reserve`, `partner`, `case`, `lot`, `purchase`, `transfer`, `lots`,
`balances`: the book's commands (`journal`, `entry` and `prices` are in entry_commands).

Each parses its options, calls one :class:`boveda.book.Book` method and renders the result;
the rules live in the book. Amounts are BTC strings parsed exactly by :func:`boveda.money.parse_btc`.
"""

from __future__ import annotations

import click

from boveda.book import Book, BookError
from boveda.book.domain import Lot, LotTransition
from boveda.book.json_forms import audit_head_json, balance_json, lot_json
from boveda.book.store import describe
from boveda.cli.common import DATE_OPTION, JSON_OPTION, _echo_json, _group, _location, _open_book, _table, done
from boveda.cli.params import BTC, LOT_ID, PERCENT, USD_PRICE
from boveda.money import format_btc

# -- commands -----------------------------------------------------------------------------------


@click.command("init")
@JSON_OPTION
@click.pass_context
def init_command(ctx: click.Context, as_json: bool) -> None:
    """Create an empty book (or migrate an older one to the current schema).

    \b
    Example:
      boveda init
      boveda --book postgresql://boveda@db.example/reserve init
    """
    result = Book.init(_location(ctx))
    verb = "created" if result.created else f"migrated from schema {result.revision_before} to"
    done(as_json, {"book": describe(result.location), "created": result.created, "schema_before": result.revision_before,
                   "schema": result.revision_after},
         f"book {describe(result.location)} {verb} schema {result.revision_after}")


@click.command("add")
@click.argument("code")
@click.option("--name", required=True, help="The reserve's full name.")
@click.option("--no-sale", is_flag=True, help="Policy: coins may never be sold from this reserve.")
@click.option("--address-cap", "address_cap_sat", type=BTC, metavar="BTC", help="Policy: most BTC any one address may hold.")
@JSON_OPTION
@click.pass_context
def reserve_add(ctx: click.Context, code: str, name: str, no_sale: bool, address_cap_sat: int | None,
                as_json: bool) -> None:
    """Add a reserve CODE (capital letters, digits, '-').

    \b
    Example:
      boveda reserve add US-SBR --name "US Strategic Bitcoin Reserve" --no-sale
      boveda reserve add SV --name "El Salvador" --address-cap 500
    """
    cap_sat = address_cap_sat
    with _open_book(ctx) as book:
        reserve = book.add_reserve(code, name=name, no_sale=no_sale, address_cap_sat=cap_sat)
    policy = "no-sale" if reserve.no_sale else "sales allowed"
    cap = "" if cap_sat is None else f", at most {format_btc(cap_sat)} BTC per address"
    done(as_json, {"reserve": reserve.code}, f"reserve {reserve.code} added ({policy}{cap})")


@click.command("add")
@click.argument("code")
@click.option("--name", required=True, help="The partner government's name.")
@JSON_OPTION
@click.pass_context
def partner_add(ctx: click.Context, code: str, name: str, as_json: bool) -> None:
    """Add a partner government CODE that may receive a share of forfeited coins.

    \b
    Example:
      boveda partner add DE --name "Germany"
    """
    with _open_book(ctx) as book:
        partner = book.add_partner(code, name=name)
    done(as_json, {"partner": partner.code}, f"partner {partner.code} added")


@click.command("add")
@click.argument("number")
@click.option("--agency", required=True, help="The seizing agency.")
@click.option("--court", help="The court hearing the case.")
@JSON_OPTION
@click.pass_context
def case_add(ctx: click.Context, number: str, agency: str, court: str | None, as_json: bool) -> None:
    """Add a criminal or civil case NUMBER; its seized coins are held in custody:NUMBER.

    \b
    Example:
      boveda case add 1:21-cr-00399 --agency FBI --court "D.D.C."
    """
    with _open_book(ctx) as book:
        case = book.add_case(number, agency=agency, court=court)
    done(as_json, {"case": case.number, "account": f"custody:{case.number}"},
         f"case {case.number} added (custody:{case.number})")


@click.command("seize")
@click.option("--case", "case_number", required=True, help="The case the lot is seized in.")
@click.option("--amount", "amount_sat", required=True, type=BTC, metavar="BTC",
              help="Amount seized, e.g. 1.5 (at most 8 decimals).")
@click.option("--txid", required=True, help="The transaction that moved the coins into government custody.")
@click.option("--outpoint", "outpoints", multiple=True, metavar="TXID:N", help="A seized output (repeatable).")
@click.option("--order", help="Seizure warrant or order reference.")
@DATE_OPTION
@JSON_OPTION
@click.pass_context
def lot_seize(ctx: click.Context, case_number: str, amount_sat: int, txid: str, outpoints: tuple[str, ...],
              order: str | None, date_text: str | None, as_json: bool) -> None:
    """Record a new lot seized in a case; it starts in state 'seized'.

    \b
    Example:
      boveda lot seize --case 1:21-cr-00399 --amount 94636.7 --txid 4f3c…e1 --date 2022-02-01
    """
    with _open_book(ctx) as book:
        lot = book.seize_lot(case=case_number, amount_sat=amount_sat, txid=txid, outpoints=outpoints,
                             date=date_text, order=order)
        entry_id = max(e.entry_id for e in book.entries_citing(lot.seizure_txid) if e.lot_id == lot.lot_id)
    done(as_json, {"lot_id": lot.lot_id, "entry_id": entry_id, "state": lot.state.value},
         f"lot {lot.lot_id} seized: {format_btc(lot.amount_sat)} BTC in case {lot.case_number}")


def _lot_done(book: Book, lot: Lot, as_json: bool) -> None:
    """The lot's new state; with --json its id, the transition's and its entry's, and any remainder lot."""
    step = book.lot_transitions(lot.lot_id)[-1]
    remainders = book.lots(parent_lot_id=lot.lot_id)
    document = {"lot_id": lot.lot_id, "state": lot.state.value, "transition_id": step.transition_id,
                "entry_id": step.entry_id, "remainder_lot_ids": [r.lot_id for r in remainders]}
    lines = [f"lot {lot.lot_id} is now {lot.state.value}"]
    lines += [f"lot {r.lot_id} holds the remaining {format_btc(r.amount_sat)} BTC, still forfeited" for r in remainders]
    done(as_json, document, "\n".join(lines))


@click.command("forfeiture-pending")
@click.argument("lot_id", metavar="LOT", type=LOT_ID)
@click.option("--order", required=True, help="The complaint or notice opening forfeiture proceedings.")
@DATE_OPTION
@JSON_OPTION
@click.pass_context
def lot_pending(ctx: click.Context, lot_id: int, order: str, date_text: str | None, as_json: bool) -> None:
    """Move a seized LOT to forfeiture_pending (proceedings opened).

    \b
    Example:
      boveda lot forfeiture-pending 1 --order "Complaint 22-cv-0123"
    """
    with _open_book(ctx) as book:
        _lot_done(book, book.mark_forfeiture_pending(lot_id, order=order, date=date_text), as_json)


@click.command("forfeit")
@click.argument("lot_id", metavar="LOT", type=LOT_ID)
@click.option("--order", required=True, help="The final order of forfeiture.")
@DATE_OPTION
@JSON_OPTION
@click.pass_context
def lot_forfeit(ctx: click.Context, lot_id: int, order: str, date_text: str | None, as_json: bool) -> None:
    """Move a LOT from forfeiture_pending to forfeited (final order).

    \b
    Example:
      boveda lot forfeit 1 --order "Final order of forfeiture, ECF 212"
    """
    with _open_book(ctx) as book:
        _lot_done(book, book.forfeit_lot(lot_id, order=order, date=date_text), as_json)


@click.command("allocate")
@click.argument("lot_id", metavar="LOT", type=LOT_ID)
@click.option("--to", "to", required=True, metavar="reserve:CODE|restitution|sharing:PARTNER",
              help="Where the forfeited coins go.")
@click.option("--order", required=True, help="Court order or sharing agreement reference.")
@click.option("--percent", "percent_bp", type=PERCENT, metavar="P",
              help="Sharing only: the partner's share in percent (e.g. 25 or 33.33).")
@click.option("--txid", help="The transaction that moved the coins, when known.")
@DATE_OPTION
@JSON_OPTION
@click.pass_context
def lot_allocate(ctx: click.Context, lot_id: int, to: str, order: str, percent_bp: int | None, txid: str | None,
                 date_text: str | None, as_json: bool) -> None:
    """Allocate a forfeited LOT: to a reserve, to victims (restitution) or to a partner (sharing).

    Only forfeited lots may enter a no-sale reserve. With sharing, the partner receives P %
    (rounded down to the satoshi) and the rest stays in custody as a new forfeited lot.

    \b
    Example:
      boveda lot allocate 1 --to reserve:US-SBR --order "EO 14233"
      boveda lot allocate 2 --to restitution --order "Restitution order ECF 301"
      boveda lot allocate 3 --to sharing:DE --percent 25 --order "MLAT 2023-17"
    """
    with _open_book(ctx) as book:
        lot = book.allocate_lot(lot_id, to=to, order=order, percent_bp=percent_bp, txid=txid, date=date_text)
        _lot_done(book, lot, as_json)


@click.command("release")
@click.argument("lot_id", metavar="LOT", type=LOT_ID)
@click.option("--order", required=True, help="The order returning the coins to the claimant.")
@click.option("--txid", help="The transaction that returned the coins, when known.")
@DATE_OPTION
@JSON_OPTION
@click.pass_context
def lot_release(ctx: click.Context, lot_id: int, order: str, txid: str | None, date_text: str | None,
                as_json: bool) -> None:
    """Release a seized or forfeiture-pending LOT back to the claimant.

    \b
    Example:
      boveda lot release 4 --order "Order granting petition, ECF 88"
    """
    with _open_book(ctx) as book:
        _lot_done(book, book.release_lot(lot_id, order=order, txid=txid, date=date_text), as_json)


@click.command("add")
@click.option("--reserve", required=True, help="The reserve that bought.")
@click.option("--amount", "amount_sat", required=True, type=BTC, metavar="BTC", help="BTC received, e.g. 1 or 0.5.")
@click.option("--txid", required=True, help="The transaction that delivered the coins.")
@click.option("--price-usd", "price_usd_cents", type=USD_PRICE, metavar="N", help="Price paid in USD per BTC.")
@click.option("--exchange", default="unspecified", show_default=True, help="Where the coins were bought.")
@DATE_OPTION
@JSON_OPTION
@click.pass_context
def purchase_add(ctx: click.Context, reserve: str, amount_sat: int, txid: str, price_usd_cents: int | None,
                 exchange: str, date_text: str | None, as_json: bool) -> None:
    """Record a purchase of bitcoin for a reserve.

    \b
    Example:
      boveda purchase add --reserve SV --amount 1 --txid 9b1d…07 --price-usd 104250 --date 2025-03-04
    """
    with _open_book(ctx) as book:
        entry = book.add_purchase(reserve=reserve, amount_sat=amount_sat, txid=txid, exchange=exchange,
                                  price_usd_cents=price_usd_cents, date=date_text)
    done(as_json, {"entry_id": entry.entry_id, "kind": entry.kind.value},
         f"entry {entry.entry_id}: purchase of {format_btc(amount_sat)} BTC for reserve {reserve}")


@click.command("add")
@click.option("--from", "from_account", required=True, metavar="ACCOUNT", help="Account the coins leave.")
@click.option("--to", "to_account", required=True, metavar="ACCOUNT", help="Account the coins reach.")
@click.option("--amount", "amount_sat", required=True, type=BTC, metavar="BTC", help="BTC received by --to.")
@click.option("--txid", required=True, help="The transaction that moved the coins.")
@click.option("--reason", required=True, help="Why the coins moved.")
@click.option("--order", help="Order or agreement (required for restitution, release and sharing).")
@click.option("--fee", "fee_sat", type=BTC, metavar="BTC", help="Miners' fee paid by --from on top of --amount.")
@click.option("--wallets", metavar="FROM:TO", help="The paying and the receiving wallet (required, with --fee, for a "
                                                   "move between two wallets of one reserve or case).")
@DATE_OPTION
@JSON_OPTION
@click.pass_context
def transfer_add(ctx: click.Context, from_account: str, to_account: str, amount_sat: int, txid: str, reason: str,
                 order: str | None, fee_sat: int | None, wallets: str | None, date_text: str | None,
                 as_json: bool) -> None:
    """Record coins moving between two accounts; the entry's kind follows from them.

    \b
    Accounts: reserve:CODE, custody:CASE, partner:CODE, external:exchange:NAME,
    external:victims, external:claimant, external:miner, external:donor, expense:fees.
    reserve → reserve is an internal transfer, reserve → external:exchange a sale
    (refused from a no-sale reserve), reserve → expense:fees a fee, reserve → external:victims
    restitution, partner ↔ reserve sharing. Coins leave custody only through boveda lot.

    \b
    A move between two wallets of one reserve (--from reserve:SV --to reserve:SV) names them
    with --wallets FROM:TO and its miners' fee (--fee): the reserve's balance falls by the fee.

    \b
    Example:
      boveda transfer add --from reserve:SV --to reserve:SV-COLD --amount 100 --txid 5e…a0 --reason "cold storage"
      boveda transfer add --from reserve:SV --to reserve:SV --wallets sv-hot:sv-cold --amount 5 --fee 0.0001 \\
        --txid 5e…a0 --reason "to cold storage"
    """
    pair = None
    if wallets is not None:
        paying, sep, receiving = wallets.partition(":")
        if not sep or not paying or not receiving:
            raise BookError(f"--wallets takes FROM:TO, two wallet names, not {wallets!r}")
        pair = (paying, receiving)
    with _open_book(ctx) as book:
        entry = book.add_transfer(from_account=from_account, to_account=to_account, amount_sat=amount_sat,
                                  txid=txid, reason=reason, order=order, fee_sat=fee_sat, date=date_text,
                                  wallets=pair)
    moved = f" (wallet {entry.from_wallet} to {entry.to_wallet})" if entry.from_wallet else ""
    fee = f", fee {format_btc(entry.fee_sat)} BTC" if entry.fee_sat else ""
    done(as_json, {"entry_id": entry.entry_id, "kind": entry.kind.value},
         f"entry {entry.entry_id}: {entry.kind.value} of {format_btc(amount_sat)} BTC "
         f"from {from_account} to {to_account}{moved}{fee}")


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
                    "audit_head": audit_head_json(head)})
        return
    _table([(b.account, format_btc(b.balance_sat)) for b in balances], ("ACCOUNT", "BTC"))


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
    for command in (lots_command, balances_command):
        cli.add_command(command)


__all__ = ["register"]
