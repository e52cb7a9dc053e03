"""Records a built scenario's book: its actors, its wallets by descriptor, and what each event claims.

What a scenario's `book` table says is recorded as written, including the planted
irregularities; the reconciliation is what must find them.
"""

from __future__ import annotations

from boveda.bitcoin.network import Network
from boveda.book import Book, EntryKind
from boveda.book.domain import ACCOUNT_FEES, Account
from boveda.errors import ScenarioError
from boveda.money import parse_btc
from boveda.scenario.run import BookRecord, BuiltScenario
from boveda.wallets.registry import register_wallet


def record_book(book: Book, built: BuiltScenario, network: Network = Network.REGTEST) -> None:
    """Everything in one transaction: a scenario's book is recorded whole or not at all."""
    scenario = built.scenario
    with book.atomic():
        for reserve in scenario.reserves:
            book.add_reserve(reserve.code, name=reserve.name, no_sale=reserve.no_sale,
                             address_cap_sat=reserve.address_cap_sat)
        for partner in scenario.partners:
            book.add_partner(partner.code, name=partner.name)
        for case in scenario.cases:
            book.add_case(case.number, agency=case.agency, court=case.court)
        for wallet in built.wallets:
            kind, _, code = wallet.owner.partition(":")
            if kind in ("reserve", "custody"):
                register_wallet(book, wallet.name, wallet.descriptor, network=network,
                                reserve=code if kind == "reserve" else None, case=code if kind == "custody" else None,
                                birth_height=wallet.birth_height)
        lots: dict[str, int] = {}
        owners = {w.name: w.owner for w in scenario.wallets}
        for record in built.book_records:
            try:
                _record(book, record, lots, owners)
            except KeyError as exc:
                raise ScenarioError(f"book record of {record.date}: missing {exc.args[0]!r} in its book table") from None


def _record(book: Book, record: BookRecord, lots: dict[str, int], owners: dict[str, str]) -> None:
    kind = record.get("kind")
    fields = dict(record.fields)
    date = record.date
    if kind == "purchase":
        amount_sat = parse_btc(fields["recorded_btc"]) if "recorded_btc" in fields else record.chain_amount_sat
        price = fields.get("price_usd")
        book.add_purchase(reserve=fields["reserve"], amount_sat=amount_sat, txid=record.txid_hex,
                          exchange=fields.get("exchange", "unspecified"),
                          price_usd_cents=int(price) * 100 if price else None, date=date,
                          memo=fields.get("note"))
    elif kind == "internal_transfer":
        # Between wallets of one reserve the holding does not change; only the miners' fee leaves it.
        holding = Account.reserve(fields["reserve"])
        book.record_entry(EntryKind.INTERNAL_TRANSFER, [(holding, -record.fee_sat), (ACCOUNT_FEES, record.fee_sat)],
                          txids=(record.txid_hex,), memo=fields.get("reason"), date=date)
    elif kind == "seizure":
        lot = book.seize_lot(case=fields["case"], amount_sat=record.chain_amount_sat, txid=record.txid_hex, date=date)
        lots[fields["lot"]] = lot.lot_id
    elif kind == "forfeit":
        lot_id = lots[fields["lot"]]
        book.mark_forfeiture_pending(lot_id, order=fields["order"], date=date)
        book.forfeit_lot(lot_id, order=fields["order"], date=date)
    elif kind == "allocate":
        lot_id = lots[fields["lot"]]
        lot_amount_sat = book.lot(lot_id).amount_sat
        percent = fields.get("percent")
        book.allocate_lot(lot_id, to=fields["to"], order=fields["order"], txid=record.txid_hex, date=date,
                          percent_bp=int(percent * 100) if percent is not None else None)
        destination = fields["to"]
        if destination.startswith("reserve:"):
            # The move's fee came out of the lot: the reserve received less than the lot.
            fee_sat = lot_amount_sat - record.chain_amount_sat
            if fee_sat > 0:
                book.record_entry(EntryKind.FEE, [(Account.parse(destination), -fee_sat), (ACCOUNT_FEES, fee_sat)],
                                  txids=(record.txid_hex,), memo="miners' fee of the allocation", date=date)
        elif destination.startswith("sharing:"):
            # The partner government puts what it was given into its own reserve.
            partner = destination.split(":", 1)[1]
            book.add_transfer(from_account=Account.partner(partner), to_account=Account.reserve(partner),
                              amount_sat=record.chain_amount_sat, txid=record.txid_hex,
                              reason="coins shared under an asset-sharing agreement", order=fields["order"],
                              date=date)
    else:
        raise ScenarioError(f"book record of {date}: unknown kind {kind!r}")
