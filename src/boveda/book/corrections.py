"""Corrections that keep history: a wrong entry is never edited or deleted; a new entry of the same
kind, citing the same transactions, names it (``corrects_entry_id``) and posts the difference.

- a **reversal** posts the negation of what the entry (with its earlier adjustments) still
  claims, so together they claim nothing; it needs an order reference;
- an **adjustment** posts the difference to a new amount, so together they claim that amount.

:func:`check_correction` is the rule both pass (when recorded, imported or verified); the builders
make the entry a command records. All refusals are :class:`BookError` and change nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

from boveda.book.checks import check_stored_text
from boveda.book.domain import ACCOUNT_FEES, Account, Entry, EntryKind, Posting
from boveda.book.errors import BookError
from boveda.money import format_btc

if TYPE_CHECKING:
    from boveda.book.state import StateView


def net_postings(entries: Sequence[Entry]) -> dict[Account, int]:
    """The postings of an entry and its corrections added up, per account, in the original's account order."""
    net: dict[Account, int] = {}
    for entry in entries:
        for posting in entry.postings:
            net[posting.account] = net.get(posting.account, 0) + posting.amount_sat
    return net


def is_reversed(entries: Sequence[Entry]) -> bool:
    """Whether an entry and its corrections (``entries``, the original first) claim nothing any more."""
    return len(entries) > 1 and all(v == 0 for v in net_postings(entries).values())


def claimed_amount_sat(original: Entry, corrections: Sequence[Entry]) -> int:
    """What an entry claims once corrected: the value moved to its receiving accounts, fees excluded."""
    net = net_postings((original, *corrections))
    moved_sat = sum(v for v in net.values() if v > 0)
    fee_sat = net.get(ACCOUNT_FEES, 0)
    return moved_sat if original.kind is EntryKind.FEE else moved_sat - max(fee_sat, 0)


def _original(state: StateView, entry_id: int) -> tuple[Entry, tuple[Entry, ...]]:
    original = state.entry(entry_id) if type(entry_id) is int else None
    if original is None:
        raise BookError(f"unknown entry #{entry_id}: see boveda journal for the entries' numbers")
    if original.corrects_entry_id is not None:
        raise BookError(f"entry #{entry_id} is itself a correction of entry #{original.corrects_entry_id}: "
                        f"correct entry #{original.corrects_entry_id} instead")
    if original.lot_id is not None:
        raise BookError(f"entry #{entry_id} is the coin movement of lot {original.lot_id}'s lifecycle: it is "
                        "corrected through the lot (boveda lot …), not as a plain entry")
    corrections = state.corrections(entry_id)
    if is_reversed((original, *corrections)):
        reversal = corrections[-1].entry_id
        raise BookError(f"entry #{entry_id} is already reversed (by entry #{reversal}): a reversed entry is "
                        "neither reversed again nor adjusted; record a new entry instead")
    return original, corrections


def check_correction(state: StateView, entry: Entry) -> None:
    """``entry`` corrects an existing entry as a reversal or an adjustment may (see the module's text)."""
    original, corrections = _original(state, entry.corrects_entry_id)  # type: ignore[arg-type]
    oid = original.entry_id
    if entry.kind is not original.kind:
        raise BookError(f"a correction of entry #{oid} is a {original.kind.value}, like it, not a {entry.kind.value}")
    if entry.txids != original.txids:
        raise BookError(f"a correction of entry #{oid} cites the transactions it cites")
    if entry.price_usd_cents is not None or entry.from_wallet is not None or entry.to_wallet is not None:
        raise BookError("a correction carries no price and no wallets: those of the entry it corrects stand")
    if entry.effective_date < original.effective_date:
        raise BookError(f"a correction is dated on or after the entry it corrects "
                        f"(#{oid} is dated {original.effective_date.isoformat()})")
    check_stored_text(entry.memo, what="reason of a correction (--reason)")
    check_stored_text(entry.resolves, what="finding the correction resolves (--resolves)", required=False)
    before = net_postings((original, *corrections))
    for posting in entry.postings:
        if posting.account not in before:
            raise BookError(f"a correction of entry #{oid} posts only to its accounts, not to {posting.account}")
    after = net_postings((original, *corrections, entry))
    if all(v == 0 for v in after.values()):
        check_stored_text(entry.authority_ref, what="order or decision reference of a reversal (--order)")
        return
    for account, original_sat in before.items():
        if (after[account] > 0) != (original_sat > 0) or after[account] == 0:
            raise BookError(f"an adjustment of entry #{oid} keeps every account on its side: use boveda entry "
                            "reverse to undo an entry, then record the right one")


def reversal_entry(original: Entry, corrections: Sequence[Entry], *, entry_id: int, effective_date: date,
                   reason: str, order: str, resolves: str | None) -> Entry:
    """The entry that undoes what ``original`` (with its ``corrections``) still claims."""
    net = net_postings((original, *corrections))
    postings = tuple(Posting(account, -amount_sat) for account, amount_sat in net.items() if amount_sat)
    return Entry(entry_id=entry_id, kind=original.kind, effective_date=effective_date, postings=postings,
                 txids=original.txids, authority_ref=order, memo=reason, corrects_entry_id=original.entry_id,
                 resolves=resolves)


def adjustment_entry(original: Entry, corrections: Sequence[Entry], *, amount_sat: int, entry_id: int,
                     effective_date: date, reason: str, order: str | None, resolves: str | None) -> Entry:
    """The entry that moves what ``original`` claims to ``amount_sat`` (fees excluded; a fee entry's: its fee).

    Only an entry with one giving and one receiving account besides the fee can be adjusted this way.
    """
    oid = original.entry_id
    net = net_postings((original, *corrections))
    is_fee = original.kind is EntryKind.FEE
    lines = [(a, v) for a, v in net.items() if is_fee or a != ACCOUNT_FEES]
    givers = [a for a, v in lines if v < 0]
    takers = [a for a, v in lines if v > 0]
    if len(givers) != 1 or len(takers) != 1:
        raise BookError(f"entry #{oid} moves coins between more than two accounts: reverse it "
                        "(boveda entry reverse) and record the right entries")
    current_sat = net[takers[0]]
    if amount_sat == current_sat:
        raise BookError(f"entry #{oid} already claims {format_btc(amount_sat)} BTC: nothing to adjust")
    delta_sat = amount_sat - current_sat
    postings = (Posting(givers[0], -delta_sat), Posting(takers[0], delta_sat))
    return Entry(entry_id=entry_id, kind=original.kind, effective_date=effective_date, postings=postings,
                 txids=original.txids, authority_ref=order, memo=reason, corrects_entry_id=oid, resolves=resolves)


def correctable(state: StateView, entry_id: int) -> tuple[Entry, tuple[Entry, ...]]:
    """The entry ``entry_id`` and its corrections so far, if it may be corrected; else BookError saying why."""
    return _original(state, entry_id)
