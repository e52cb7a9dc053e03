"""The custody lifecycle of a seized lot (docs/design.md) and the coin movements it implies.

```
seized ──► forfeiture_pending ──► forfeited ──► allocated:reserve      (only forfeited lots may enter a no-sale reserve)
   │               │                  ├───────► allocated:restitution  (order reference required)
   │               │                  └───────► allocated:sharing      (agreement reference + share %)
   └───────────────┴────────────────────────────► released            (order reference required)
```

Everything here is pure. The entry of a transition is *derived* from the lot and the
transition (:func:`transition_entry`), so a stored event whose entry disagrees with its
transition is refused on replay.
"""

from __future__ import annotations

from boveda.book.domain import (
    ACCOUNT_CLAIMANT,
    ACCOUNT_VICTIMS,
    Account,
    AccountKind,
    Entry,
    EntryKind,
    Lot,
    LotState,
    LotTransition,
    Posting,
    Reserve,
)
from boveda.book.errors import BookError

S = LotState

NEXT_STATES: dict[LotState, tuple[LotState, ...]] = {
    S.SEIZED: (S.FORFEITURE_PENDING, S.RELEASED),
    S.FORFEITURE_PENDING: (S.FORFEITED, S.RELEASED),
    S.FORFEITED: (S.ALLOCATED_RESERVE, S.ALLOCATED_RESTITUTION, S.ALLOCATED_SHARING),
    S.ALLOCATED_RESERVE: (),
    S.ALLOCATED_RESTITUTION: (),
    S.ALLOCATED_SHARING: (),
    S.RELEASED: (),
}

# The transitions that move coins out of custody, the entry kind that records the move, and
# the family of the account the coins go to.
MOVING_STATES: dict[LotState, tuple[EntryKind, AccountKind]] = {
    S.ALLOCATED_RESERVE: (EntryKind.FORFEITURE_TRANSFER, AccountKind.RESERVE),
    S.ALLOCATED_RESTITUTION: (EntryKind.RESTITUTION, AccountKind.VICTIMS),
    S.ALLOCATED_SHARING: (EntryKind.SHARING, AccountKind.PARTNER),
    S.RELEASED: (EntryKind.RELEASE, AccountKind.CLAIMANT),
}


def check_transition(lot: Lot, to_state: LotState, *, reserve: Reserve | None = None) -> None:
    """Refuse a transition the lifecycle does not allow, naming the missing step.

    ``reserve`` is the receiving reserve of an ``allocated:reserve`` transition.
    """
    if lot.state.is_final:
        raise BookError(f"lot {lot.lot_id} is already {lot.state.value}, a final state: it cannot become {to_state.value}")
    if to_state is S.ALLOCATED_RESERVE and reserve is not None and reserve.no_sale and lot.state is not S.FORFEITED:
        raise BookError(
            f"only forfeited lots may enter no-sale reserve {reserve.code}: lot {lot.lot_id} is {lot.state.value}"
        )
    allowed = NEXT_STATES[lot.state]
    if to_state in allowed:
        return
    missing = [step for step in allowed if to_state in NEXT_STATES[step]]
    if missing:
        raise BookError(
            f"lot {lot.lot_id} is {lot.state.value}: it must become {missing[0].value} before {to_state.value}"
        )
    raise BookError(
        f"lot {lot.lot_id} is {lot.state.value}: it may only become " + " or ".join(s.value for s in allowed)
    )


def destination_for(
    to_state: LotState, *, reserve_code: str | None = None, partner_code: str | None = None
) -> Account:
    """The account coins go to when a lot reaches ``to_state``."""
    if to_state is S.ALLOCATED_RESERVE:
        return Account.reserve(reserve_code or "")
    if to_state is S.ALLOCATED_SHARING:
        return Account.partner(partner_code or "")
    if to_state is S.ALLOCATED_RESTITUTION:
        return ACCOUNT_VICTIMS
    if to_state is S.RELEASED:
        return ACCOUNT_CLAIMANT
    raise BookError(f"no coins move when a lot becomes {to_state.value}")


def shared_amount_sat(lot: Lot, share_bp: int) -> int:
    """The partner's share of a lot, rounded down to the satoshi (the remainder stays in custody)."""
    return lot.amount_sat * share_bp // 10_000


def seizure_entry(lot: Lot, entry_id: int) -> Entry:
    """The entry of a seizure: the lot's coins move from the claimant into ``custody:CASE``."""
    return Entry(
        entry_id=entry_id,
        kind=EntryKind.SEIZURE,
        effective_date=lot.seized_on,
        postings=(
            Posting(ACCOUNT_CLAIMANT, -lot.amount_sat),
            Posting(Account.custody(lot.case_number), lot.amount_sat),
        ),
        txids=(lot.seizure_txid,),
        authority_ref=lot.seizure_ref,
        lot_id=lot.lot_id,
    )


def transition_entry(lot: Lot, transition: LotTransition) -> Entry | None:
    """The entry recording the coins a transition moves, or ``None`` when none move."""
    if transition.to_state not in MOVING_STATES:
        return None
    kind, family = MOVING_STATES[transition.to_state]
    if transition.destination is None:
        raise BookError(f"a lot that becomes {transition.to_state.value} goes to a {family.value} account, not None")
    amount_sat = (
        shared_amount_sat(lot, transition.share_bp or 0)
        if transition.to_state is S.ALLOCATED_SHARING
        else lot.amount_sat
    )
    return Entry(
        entry_id=transition.entry_id if transition.entry_id is not None else -1,
        kind=kind,
        effective_date=transition.effective_date,
        postings=(
            Posting(Account.custody(lot.case_number), -amount_sat),
            Posting(transition.destination, amount_sat),
        ),
        txids=() if transition.txid is None else (transition.txid,),
        authority_ref=transition.authority_ref,
        lot_id=lot.lot_id,
    )


def remainder_lot(lot: Lot, transition: LotTransition, lot_id: int) -> Lot | None:
    """What stays in custody, still forfeited, when a partner receives less than the whole lot."""
    if transition.to_state is not S.ALLOCATED_SHARING:
        return None
    rest_sat = lot.amount_sat - shared_amount_sat(lot, transition.share_bp or 0)
    if rest_sat == 0:
        return None
    return Lot(
        lot_id=lot_id,
        case_number=lot.case_number,
        amount_sat=rest_sat,
        seizure_txid=lot.seizure_txid,
        seizure_outpoints=lot.seizure_outpoints,
        seized_on=lot.seized_on,
        state=S.FORFEITED,
        seizure_ref=lot.seizure_ref,
        parent_lot_id=lot.lot_id,
    )
