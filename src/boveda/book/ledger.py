"""The journal's rules: an entry balances, names known accounts in the right roles, cites an
authority when the law requires one, respects a reserve's no-sale policy, and never drives a
holding (``reserve:`` or ``custody:``) below zero.

:func:`check_entry` is pure: it reads the book through a :class:`~boveda.book.state.StateView`
and returns the new balances, or raises :class:`BookError` and changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from boveda.book.checks import check_amount_sat, check_stored_text, check_txid, check_usd_cents
from boveda.book.corrections import check_correction
from boveda.book.domain import Account, AccountKind, Entry, EntryKind, check_account
from boveda.book.errors import BookError
from boveda.money import format_btc

if TYPE_CHECKING:
    from boveda.book.state import StateView

_K = AccountKind

# kind -> (account families that may give coins, account families that may receive them).
# expense:fees may additionally receive whenever a holding gives: moving coins costs a fee.
ENTRY_ROLES: dict[EntryKind, tuple[frozenset[AccountKind], frozenset[AccountKind]]] = {
    EntryKind.PURCHASE: (frozenset({_K.EXCHANGE}), frozenset({_K.RESERVE})),
    EntryKind.SEIZURE: (frozenset({_K.CLAIMANT}), frozenset({_K.CUSTODY})),
    EntryKind.FORFEITURE_TRANSFER: (frozenset({_K.CUSTODY}), frozenset({_K.RESERVE})),
    EntryKind.RESTITUTION: (frozenset({_K.CUSTODY, _K.RESERVE}), frozenset({_K.VICTIMS})),
    EntryKind.SHARING: (frozenset({_K.CUSTODY, _K.RESERVE, _K.PARTNER}), frozenset({_K.PARTNER, _K.RESERVE})),
    EntryKind.RELEASE: (frozenset({_K.CUSTODY, _K.RESERVE}), frozenset({_K.CLAIMANT})),
    EntryKind.INTERNAL_TRANSFER: (frozenset({_K.RESERVE, _K.CUSTODY}), frozenset({_K.RESERVE, _K.CUSTODY})),
    EntryKind.FEE: (frozenset({_K.RESERVE, _K.CUSTODY}), frozenset({_K.FEES})),
    EntryKind.DONATION: (frozenset({_K.DONOR}), frozenset({_K.RESERVE})),
    EntryKind.MINING: (frozenset({_K.MINER}), frozenset({_K.RESERVE})),
    EntryKind.SALE: (frozenset({_K.RESERVE}), frozenset({_K.EXCHANGE})),
}

# The law names an order or agreement for these; an entry without one is refused.
KINDS_NEEDING_AUTHORITY = frozenset(
    {EntryKind.RESTITUTION, EntryKind.RELEASE, EntryKind.SHARING, EntryKind.FORFEITURE_TRANSFER}
)

# These exist only as the coin movement of a lot's transition (boveda lot …).
LOT_KINDS = frozenset({EntryKind.SEIZURE, EntryKind.FORFEITURE_TRANSFER})


def check_entry(state: StateView, entry: Entry, *, from_lot: bool = False) -> dict[Account, int]:
    """Check ``entry`` against the book; return ``{account: new balance_sat}`` for its accounts.

    ``from_lot`` is true when the entry is the coin movement of a lot transition, the only
    way coins may leave ``custody:`` for a reserve, victims, a partner or the claimant.
    """
    if not isinstance(entry.kind, EntryKind):
        raise BookError(f"unknown entry kind {entry.kind!r}")
    if type(entry.entry_id) is not int or entry.entry_id != state.next_entry_id():
        raise BookError(f"entry id {entry.entry_id} is out of sequence (next is {state.next_entry_id()})")
    accounts = _check_postings(entry, same_holding=entry.from_wallet is not None)
    for account in accounts:
        _check_account_exists(state, account)
    if entry.corrects_entry_id is not None:
        check_correction(state, entry)  # a correction takes the roles of the entry it corrects, reversed or not
    else:
        _check_roles(state, entry, accounts, from_lot=from_lot)
        if entry.resolves is not None:
            raise BookError("only a correction (boveda entry reverse/adjust) resolves a finding")
    if entry.from_wallet is not None or entry.to_wallet is not None:
        _check_internal_move(state, entry, accounts)
    if entry.kind in KINDS_NEEDING_AUTHORITY:
        check_stored_text(entry.authority_ref, what=f"{entry.kind.value} order/agreement reference")
    elif entry.authority_ref is not None:
        check_stored_text(entry.authority_ref, what="authority reference", required=False)
    if entry.memo is not None:
        check_stored_text(entry.memo, what="reason", required=False)
    for txid in entry.txids:
        if check_txid(txid) != txid:
            raise BookError(f"txid {txid!r} is not in canonical lower-case form")
    if len(set(entry.txids)) != len(entry.txids):
        raise BookError("an entry cites each txid at most once")
    if entry.price_usd_cents is not None:
        if entry.kind not in (EntryKind.PURCHASE, EntryKind.SALE):
            raise BookError(f"a USD price belongs to a purchase or sale, not a {entry.kind.value}")
        check_usd_cents(entry.price_usd_cents)
    if (entry.lot_id is not None) != from_lot:
        raise BookError("only a lot transition's entry may name a lot")
    return _new_balances(state, entry, accounts)


def _check_internal_move(state: StateView, entry: Entry, accounts: list[Account]) -> None:
    """An internal move names the paying and the receiving wallet, each of the holding on its side."""
    if entry.kind is not EntryKind.INTERNAL_TRANSFER:
        raise BookError("only an internal transfer names the wallets coins moved between")
    if entry.from_wallet is None or entry.to_wallet is None or entry.from_wallet == entry.to_wallet:
        raise BookError("an internal move names two different wallets: --wallets FROM:TO")
    givers = [a for a, p in zip(accounts, entry.postings) if p.amount_sat < 0]
    takers = [a for a, p in zip(accounts, entry.postings) if p.amount_sat > 0 and a.kind is not _K.FEES]
    for name, side, holdings in ((entry.from_wallet, "paying", givers), (entry.to_wallet, "receiving", takers)):
        wallet = state.wallet(name)
        if wallet is None:
            raise BookError(f"unknown wallet {name!r}: see boveda wallet list")
        if len(holdings) != 1 or wallet.owner != holdings[0]:
            raise BookError(f"wallet {name} belongs to {wallet.owner}, not to the {side} side of the move")


def _check_postings(entry: Entry, *, same_holding: bool = False) -> list[Account]:
    if len(entry.postings) < 2:
        raise BookError("an entry needs at least two postings (one account gives, one receives)")
    accounts: list[Account] = []
    debits_sat = credits_sat = 0
    for posting in entry.postings:
        if isinstance(posting.amount_sat, bool) or not isinstance(posting.amount_sat, int) or posting.amount_sat == 0:
            raise BookError(f"posting to {posting.account} must be a non-zero whole number of satoshis")
        check_amount_sat(abs(posting.amount_sat), what=f"posting to {posting.account}")
        accounts.append(check_account(posting.account))
        if posting.amount_sat > 0:
            debits_sat += posting.amount_sat
        else:
            credits_sat -= posting.amount_sat
    if len(set(accounts)) != len(accounts):
        repeated = {a for a in accounts if accounts.count(a) > 1}
        # A move between two wallets of one holding gives from and receives into the same account, once each.
        if not (same_holding and len(repeated) == 1 and next(iter(repeated)).kind.is_holding
                and accounts.count(next(iter(repeated))) == 2):
            raise BookError("an entry names each account at most once")
    if debits_sat != credits_sat:
        raise BookError(
            f"entry does not balance: {format_btc(debits_sat)} BTC received but {format_btc(credits_sat)} BTC given"
        )
    return accounts


def _check_account_exists(state: StateView, account: Account) -> None:
    if account.kind is AccountKind.RESERVE and state.reserve(account.name) is None:
        raise BookError(f"unknown reserve {account.name!r}: add it with boveda reserve add")
    if account.kind is AccountKind.CUSTODY and state.case(account.name) is None:
        raise BookError(f"unknown case {account.name!r}: add it with boveda case add")
    if account.kind is AccountKind.PARTNER and state.partner(account.name) is None:
        raise BookError(f"unknown partner {account.name!r}: add it with boveda partner add")


def _check_roles(state: StateView, entry: Entry, accounts: list[Account], *, from_lot: bool) -> None:
    givers = [a for a, p in zip(accounts, entry.postings) if p.amount_sat < 0]
    takers = [a for a, p in zip(accounts, entry.postings) if p.amount_sat > 0]
    kind = entry.kind
    if not from_lot and any(a.kind is AccountKind.CUSTODY for a in givers):
        for taker in takers:
            if taker.kind is AccountKind.RESERVE and _is_no_sale(state, taker):
                raise BookError(
                    f"only forfeited lots may enter no-sale reserve {taker.name}: use boveda lot allocate"
                )
        if kind not in (EntryKind.INTERNAL_TRANSFER, EntryKind.FEE):
            raise BookError(
                "coins leave custody only through a lot: boveda lot allocate or boveda lot release"
            )
    if kind in LOT_KINDS and not from_lot:
        verb = "boveda lot seize" if kind is EntryKind.SEIZURE else "boveda lot allocate"
        raise BookError(f"a {kind.value} is recorded with {verb}, not as a plain entry")
    if kind is EntryKind.SALE:
        for giver in givers:
            if _is_no_sale(state, giver):
                raise BookError(f"reserve {giver.name} has a no-sale policy: a sale from it is refused")
    may_give, may_take = ENTRY_ROLES[kind]
    gives_from_holding = any(a.kind.is_holding for a in givers)
    for giver in givers:
        if giver.kind not in may_give:
            raise BookError(f"a {kind.value} cannot take coins from {giver}")
    for taker in takers:
        if taker.kind not in may_take and not (taker.kind is AccountKind.FEES and gives_from_holding):
            raise BookError(f"a {kind.value} cannot give coins to {taker}")
    if kind is EntryKind.INTERNAL_TRANSFER and len({a.kind for a in givers + takers if a.kind is not _K.FEES}) != 1:
        raise BookError("an internal transfer stays among reserves or among custody holdings")
    if kind is EntryKind.SHARING and not any(a.kind is AccountKind.PARTNER for a in accounts):
        raise BookError("sharing needs a partner government (partner:CODE)")


def _is_no_sale(state: StateView, account: Account) -> bool:
    reserve = state.reserve(account.name) if account.kind is AccountKind.RESERVE else None
    return reserve is not None and reserve.no_sale


def _new_balances(state: StateView, entry: Entry, accounts: list[Account]) -> dict[Account, int]:
    net: dict[Account, int] = {}
    for account, posting in zip(accounts, entry.postings):
        net[account] = net.get(account, 0) + posting.amount_sat
    new_balances: dict[Account, int] = {}
    for account, amount_sat in net.items():
        before_sat = state.balance(account) or 0
        after_sat = before_sat + amount_sat
        if after_sat < 0 and account.kind.is_holding:
            raise BookError(
                f"{account} would go negative: it holds {format_btc(before_sat)} BTC "
                f"and the entry takes {format_btc(-amount_sat)} BTC"
            )
        new_balances[account] = after_sat
    return new_balances
