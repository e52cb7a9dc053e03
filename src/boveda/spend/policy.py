"""The governance rules a proposal must pass before anything is written; each refusal names its rule.

Pure: the caller gathers the holding, its reserve policy, the lot, the destination as the book
knows it, and the amounts. Rules:

- ``order-required``: every proposal cites an order or agreement reference;
- ``no-sale``: a no-sale reserve never sells and never pays an exchange;
- ``purpose``: the purpose fits the holding and the destination (internal pays the book's own
  wallets; other purposes pay outside them; an exchange is paid only by a sale);
- ``custody-lot``, ``custody-lot-state``, ``lot-amount``: custody coins move only through a lot of
  that case, in the state the purpose needs (forfeited to a reserve, restitution or sharing;
  seized or pending forfeiture for a release), for the lot's amount (sharing: a whole
  basis-point share of it);
- ``address-cap``, ``address-reuse``: an output to a reserve's own address respects its
  per-address cap and goes to an address never paid before;
- ``amount-available``: the book's balance of the holding covers the amount and the fee.
"""

from __future__ import annotations

from dataclasses import dataclass

from boveda.book.domain import Account, AccountKind, Lot, LotState, Reserve
from boveda.money import format_btc
from boveda.spend.errors import PolicyRefusal
from boveda.spend.model import Purpose, PurposeKind, is_exchange

_CUSTODY_STATES = {
    PurposeKind.FORFEITURE: (LotState.FORFEITED,),
    PurposeKind.RESTITUTION: (LotState.FORFEITED,),
    PurposeKind.SHARING: (LotState.FORFEITED,),
    PurposeKind.RELEASE: (LotState.SEIZED, LotState.FORFEITURE_PENDING),
}


@dataclass(frozen=True, slots=True)
class Proposed:
    """What a proposal asks, with what the book knows of its parties."""

    holding: Account
    reserve: Reserve | None  # the holding's own policy, when it is a reserve
    purpose: Purpose
    order_ref: str | None
    counterparty: Account
    destination_owner: Account | None  # the book's holding whose wallet the destination address is
    lot: Lot | None


def check_proposal(p: Proposed) -> None:
    """PolicyRefusal naming the first rule the proposal breaks."""
    if p.purpose.kind is PurposeKind.AUDIT_ANCHOR:
        raise PolicyRefusal("purpose", "an audit anchor is proposed with boveda audit anchor --wallet W, never paid")
    if not p.order_ref:
        raise PolicyRefusal("order-required", "every spend cites the order or agreement that authorises it (--order)")
    if p.reserve is not None and p.reserve.no_sale:
        if p.purpose.kind is PurposeKind.SALE:
            raise PolicyRefusal("no-sale", f"reserve {p.reserve.code} is a no-sale reserve: its coins are never sold")
        if is_exchange(p.counterparty):
            raise PolicyRefusal("no-sale", f"reserve {p.reserve.code} is a no-sale reserve: it never pays an exchange "
                                           f"({p.counterparty})")
    if is_exchange(p.counterparty) and p.purpose.kind is not PurposeKind.SALE:
        raise PolicyRefusal("purpose", f"paying {p.counterparty} is a sale, not {p.purpose}")
    _check_destination(p)
    if p.holding.kind is AccountKind.CUSTODY:
        _check_custody(p)
    elif p.purpose.kind is PurposeKind.FORFEITURE:
        raise PolicyRefusal("purpose", "forfeiture moves a custody lot to a reserve; a reserve spends with another "
                                       "purpose")


def _check_destination(p: Proposed) -> None:
    owner = p.destination_owner
    if p.purpose.kind in (PurposeKind.INTERNAL, PurposeKind.FORFEITURE):
        if owner is None:
            raise PolicyRefusal("purpose", f"{p.purpose} pays one of the book's own wallets; the destination is none "
                                           "of them")
        if p.purpose.kind is PurposeKind.FORFEITURE and owner.kind is not AccountKind.RESERVE:
            raise PolicyRefusal("purpose", f"forfeiture pays a reserve's wallet, not {owner}'s")
        if p.holding.kind is AccountKind.CUSTODY and owner.kind is AccountKind.RESERVE \
                and p.purpose.kind is PurposeKind.INTERNAL:
            raise PolicyRefusal("custody-lot-state", "custody coins enter a reserve only by forfeiture: --purpose "
                                                     "forfeiture --lot N with a forfeited lot")
        return
    if owner is not None:
        raise PolicyRefusal("purpose", f"the destination is a wallet of {owner}: a payment to the book's own wallets "
                                       "is --purpose internal (or forfeiture)")


def _check_custody(p: Proposed) -> None:
    if p.purpose.kind in (PurposeKind.SALE, PurposeKind.FEE_PAYMENT):
        raise PolicyRefusal("custody-lot-state", f"custody coins move only as their lot's state allows, never as "
                                                 f"{p.purpose.kind.value}")
    if p.purpose.kind is PurposeKind.INTERNAL:
        return  # between the case's own wallets: the lot stays as it is
    if p.lot is None:
        raise PolicyRefusal("custody-lot", f"coins leave {p.holding} only through a lot: give --lot N")
    if p.lot.case_number != p.holding.name:
        raise PolicyRefusal("custody-lot", f"lot {p.lot.lot_id} belongs to case {p.lot.case_number}, not {p.holding}")
    allowed = _CUSTODY_STATES[p.purpose.kind]
    if p.lot.state not in allowed:
        wanted = " or ".join(s.value for s in allowed)
        what = "sent to a reserve" if p.purpose.kind is PurposeKind.FORFEITURE else f"spent for {p.purpose.kind.value}"
        raise PolicyRefusal("custody-lot-state", f"lot {p.lot.lot_id} is {p.lot.state.value}: a lot {what} must be "
                                                 f"{wanted}")


def share_bp_for(lot: Lot, amount_sat: int) -> int:
    """The basis-point share of ``lot`` that is exactly ``amount_sat``; PolicyRefusal when none is."""
    share_bp = amount_sat * 10_000 // lot.amount_sat
    if not 1 <= share_bp <= 10_000 or lot.amount_sat * share_bp // 10_000 != amount_sat:
        near = max(1, min(10_000, share_bp))
        raise PolicyRefusal("lot-amount", f"a sharing of lot {lot.lot_id} ({format_btc(lot.amount_sat)} BTC) pays a "
                                          f"whole basis-point share of it; {format_btc(amount_sat)} BTC is not one "
                                          f"(e.g. {format_btc(lot.amount_sat * near // 10_000)} BTC is {near / 100} %)")
    return share_bp


def check_lot_amount(p: Proposed, amount_sat: int, fee_sat: int) -> int | None:
    """The sharing's basis points (None for other purposes); PolicyRefusal when the amount does not fit the lot.

    A lot moved whole pays the miners' fee from its own coins: what leaves custody (amount + fee) is
    the lot's amount, as its allocation or release entry records.
    """
    if p.holding.kind is not AccountKind.CUSTODY or p.lot is None or p.purpose.kind is PurposeKind.INTERNAL:
        return None
    if p.purpose.kind is PurposeKind.SHARING:
        return share_bp_for(p.lot, amount_sat)
    if amount_sat + fee_sat != p.lot.amount_sat:
        raise PolicyRefusal("lot-amount", f"{p.purpose.kind.value} moves lot {p.lot.lot_id} whole: the amount and "
                                          f"its fee must be the lot's {format_btc(p.lot.amount_sat)} BTC, not "
                                          f"{format_btc(amount_sat + fee_sat)} (use --all)")
    return None


def check_own_output(reserve: Reserve | None, value_sat: int, *, used: bool, what: str) -> None:
    """An output to one of a reserve's own addresses: within its cap, to an address never paid before."""
    if used:
        raise PolicyRefusal("address-reuse", f"{what} goes to an address already paid: reuse reveals the reserve's "
                                             "holdings; use a fresh address")
    if reserve is not None and reserve.address_cap_sat is not None and value_sat > reserve.address_cap_sat:
        raise PolicyRefusal("address-cap", f"{what} of {format_btc(value_sat)} BTC exceeds reserve {reserve.code}'s "
                                           f"per-address cap of {format_btc(reserve.address_cap_sat)} BTC")


def check_available(holding: Account, book_balance_sat: int, needed_sat: int) -> None:
    if book_balance_sat < needed_sat:
        raise PolicyRefusal("amount-available", f"the book holds {format_btc(book_balance_sat)} BTC in {holding}; "
                                                f"the spend and its fee need {format_btc(needed_sat)} BTC")
