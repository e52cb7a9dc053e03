"""A synthetic, rule-abiding book of any size, written straight to an export file.

For the benchmark (``bench/book.py``) and the crash tests: recording a million entries one
command at a time would measure the command path, not import and verification. The book is
deterministic for a given seed, and the events for ``n`` entries are a prefix of those for
any larger ``n``, so a small file imported first is extended by a large one.

Shape: two reserves (``SV``, and the no-sale ``US-SBR``), a partner and a case; mostly
purchases into SV from two exchanges, with fees, sales and internal transfers mixed in, and
every 5,000 entries a lot seized, forfeited and allocated to US-SBR.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from boveda.book.audit import AuditEvent, seal
from boveda.book.custody import seizure_entry, transition_entry
from boveda.book.domain import (
    ACCOUNT_FEES,
    GENESIS_HASH,
    Account,
    AuditHead,
    Case,
    Entry,
    EntryKind,
    Lot,
    LotState,
    LotTransition,
    Partner,
    Posting,
    Reserve,
)
from boveda.book.events import (
    BookEvent,
    CaseAdded,
    EntryRecorded,
    LotSeized,
    LotTransitioned,
    PartnerAdded,
    ReserveAdded,
)
from boveda.book.export import write_events

_START = datetime(2024, 1, 1, tzinfo=UTC)
_CASE = "1:24-cr-00042"
_SV, _US = Account.reserve("SV"), Account.reserve("US-SBR")
_BITFINEX, _KRAKEN = Account.exchange("bitfinex"), Account.exchange("kraken")
_LOT_EVERY = 5_000


def synthetic_book_events(entries: int, *, seed: int = 1) -> Iterator[BookEvent]:
    """The events of a book with ``entries`` journal entries (plus a handful of setup events)."""
    rng = random.Random(seed)
    yield ReserveAdded(Reserve("SV", "El Salvador", False, 500 * 100_000_000))
    yield ReserveAdded(Reserve("US-SBR", "US Strategic Bitcoin Reserve", True, None))
    yield PartnerAdded(Partner("DE", "Germany"))
    yield CaseAdded(Case(_CASE, "FBI", "D.D.C."))
    sv_sat = 0
    entry_id = lot_id = transition_id = 0
    while entry_id < entries:
        entry_id += 1
        day = date(2024, 1, 1) + timedelta(days=entry_id // 2_000)
        txid = rng.randbytes(32).hex()
        if entry_id % _LOT_EVERY == 0 and entry_id + 1 <= entries:
            lot_id += 1
            lot = Lot(lot_id=lot_id, case_number=_CASE, amount_sat=rng.randrange(10_000_000, 50_000_000_000),
                      seizure_txid=txid, seizure_outpoints=(f"{txid}:0",), seized_on=day, state=LotState.SEIZED)
            yield LotSeized(lot, seizure_entry(lot, entry_id))
            for to_state in (LotState.FORFEITURE_PENDING, LotState.FORFEITED):
                transition_id += 1
                yield LotTransitioned(LotTransition(transition_id=transition_id, lot_id=lot_id, from_state=lot.state,
                                                    to_state=to_state, authority_ref=f"order {lot_id}",
                                                    effective_date=day))
                lot = replace(lot, state=to_state)
            entry_id += 1
            transition_id += 1
            t = LotTransition(transition_id=transition_id, lot_id=lot_id, from_state=LotState.FORFEITED,
                              to_state=LotState.ALLOCATED_RESERVE, authority_ref="EO 14233", effective_date=day,
                              txid=rng.randbytes(32).hex(), destination=_US, entry_id=entry_id)
            yield LotTransitioned(t, transition_entry(lot, t))
            continue
        roll = entry_id % 20
        if roll == 7 and sv_sat > 10_000:
            fee_sat = rng.randrange(200, 10_000)
            postings = (Posting(_SV, -fee_sat), Posting(ACCOUNT_FEES, fee_sat))
            yield EntryRecorded(Entry(entry_id=entry_id, kind=EntryKind.FEE, effective_date=day, postings=postings,
                                      txids=(txid,), memo="consolidation"))
            sv_sat -= fee_sat
        elif roll == 13 and sv_sat > 1_000_000:
            amount_sat = rng.randrange(1, sv_sat // 4)
            postings = (Posting(_SV, -amount_sat), Posting(_US, amount_sat))
            yield EntryRecorded(Entry(entry_id=entry_id, kind=EntryKind.INTERNAL_TRANSFER, effective_date=day,
                                      postings=postings, txids=(txid,), memo="transfer to the strategic reserve"))
            sv_sat -= amount_sat
        elif roll == 17 and sv_sat > 1_000_000:
            amount_sat = rng.randrange(1, sv_sat // 10)
            postings = (Posting(_SV, -amount_sat), Posting(_KRAKEN, amount_sat))
            yield EntryRecorded(Entry(entry_id=entry_id, kind=EntryKind.SALE, effective_date=day, postings=postings,
                                      txids=(txid,), memo="sale", price_usd_cents=rng.randrange(4_000_000, 11_000_000)))
            sv_sat -= amount_sat
        else:
            amount_sat = rng.randrange(100_000, 100_000_000)
            exchange = _BITFINEX if entry_id % 2 else _KRAKEN
            postings = (Posting(exchange, -amount_sat), Posting(_SV, amount_sat))
            yield EntryRecorded(Entry(entry_id=entry_id, kind=EntryKind.PURCHASE, effective_date=day,
                                      postings=postings, txids=(txid,),
                                      price_usd_cents=rng.randrange(4_000_000, 11_000_000)))
            sv_sat += amount_sat


def synthetic_audit_events(entries: int, *, seed: int = 1) -> Iterator[AuditEvent]:
    head = AuditHead(0, GENESIS_HASH)
    for n, event in enumerate(synthetic_book_events(entries, seed=seed), start=1):
        at = (_START + timedelta(seconds=n)).isoformat(timespec="microseconds").replace("+00:00", "Z")
        sealed = seal(head, event, at)
        head = AuditHead(sealed.seq, sealed.hash_hex)
        yield sealed


def write_synthetic_export(path: str | os.PathLike[str], entries: int, *, seed: int = 1) -> AuditHead:
    """Write the export file of a synthetic book with ``entries`` journal entries; return its head."""
    with open(Path(path), "w", encoding="utf-8", newline="\n") as out:
        return write_events(out, synthetic_audit_events(entries, seed=seed))
