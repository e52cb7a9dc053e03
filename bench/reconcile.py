"""Benchmark of reconciliation: N transactions' worth of chain facts against N journal entries.

    .venv/bin/python bench/reconcile.py                 # 1,000,000 × 1,000,000 (target: under 10 s)
    .venv/bin/python bench/reconcile.py --count 50000   # a quick run

The synthetic reserve SV buys from exchanges (inflows), receives forfeited coins from a
custody holding (paired transfers), sells and shares (outflows, half with a fee entry) and
consolidates (internal moves with a fee entry). One transaction in 10,000 carries a planted
irregularity; the run checks that exactly those are found. Two baselines run on the same data
in the same process: a naive dict join of txids (what matching costs at the least) and
classification alone.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from boveda.book.domain import ACCOUNT_FEES, Account, Entry, EntryKind, Posting
from boveda.reconcile import ChainTx, DiscrepancyKind, Owned, classify_account, reconcile

R = Account.reserve("SV")
CUSTODY = Account.custody("1:13-cr-00950")
CUSTODY_2 = Account.custody("2:20-cv-00811")
BITFINEX, BITSO = Account.exchange("bitfinex"), Account.exchange("bitso")
PLANT_EVERY = 10_000
BTC = 100_000_000
DAY0 = date(2021, 9, 7)


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def synthetic(count: int) -> tuple[list[ChainTx], list[Entry], dict[DiscrepancyKind, int]]:
    """``count`` transactions touching SV and ``count`` entries, with planted irregularities."""
    chain: list[ChainTx] = []
    entries: list[Entry] = []
    planted = dict.fromkeys(DiscrepancyKind, 0)
    days = [DAY0 + timedelta(days=d) for d in range(count // 144 + 2)]
    for i in range(count):
        txid = hashlib.sha256(i.to_bytes(8, "little")).hexdigest()
        height, day = 700_000 + i // 100, days[i // 144]
        amount = 1_000 + (i * 7919) % (5 * BTC)
        fee = 200 + i % 1_000
        role = i % 20
        plant = i % PLANT_EVERY == PLANT_EVERY - 1
        kind_of_plant = (i // PLANT_EVERY) % 4
        postings: tuple[Posting, ...]
        if role < 12:  # a purchase: an exchange pays SV
            tx = ChainTx(txid, height, i % 100 + 1, day, 2, 2, amount + 55_555,
                         (), (Owned(R, f"sv-{i % 50}", amount),))
            kind, postings = EntryKind.PURCHASE, (Posting(BITFINEX, -amount), Posting(R, amount))
        elif role < 14:  # forfeited coins arrive from custody: a transfer between two tracked books
            tx = ChainTx(txid, height, i % 100 + 1, day, 1, 1, amount,
                         (Owned(CUSTODY, "fbi-1", amount + fee),), (Owned(R, "sv-cold", amount),))
            kind, postings = EntryKind.FORFEITURE_TRANSFER, (Posting(CUSTODY, -amount), Posting(R, amount))
        elif role < 18:  # a sale: SV pays an exchange and keeps change
            change = 10_000 + i % 77_777
            tx = ChainTx(txid, height, i % 100 + 1, day, 1, 2, amount + change,
                         (Owned(R, "sv-hot", amount + change + fee),), (Owned(R, "sv-hot", change),))
            if i % 2:
                postings = (Posting(R, -(amount + fee)), Posting(BITSO, amount),
                            Posting(ACCOUNT_FEES, fee))
            else:
                postings = (Posting(R, -amount), Posting(BITSO, amount))
            kind = EntryKind.SALE
        else:  # a consolidation of two of SV's wallets, its fee booked
            tx = ChainTx(txid, height, i % 100 + 1, day, 2, 1, amount,
                         (Owned(R, "sv-a", amount // 2 + fee), Owned(R, "sv-b", amount - amount // 2)),
                         (Owned(R, "sv-cold", amount),))
            kind, postings = EntryKind.FEE, (Posting(R, -fee), Posting(ACCOUNT_FEES, fee))
        txids = (txid,)
        if plant:
            if kind_of_plant == 0:  # an outflow nobody booked: drop the entry, the chain shows an outflow
                tx = ChainTx(txid, height, i % 100 + 1, day, 1, 1, amount, (Owned(R, "sv-hot", amount + fee),), ())
                planted[DiscrepancyKind.UNRECORDED_OUTFLOW] += 1
            elif kind_of_plant == 1:  # a "purchase" that was a consolidation
                tx = ChainTx(txid, height, i % 100 + 1, day, 3, 1, amount,
                             tuple(Owned(R, f"sv-{k}", amount // 3 + (fee if k == 0 else 0) + (amount % 3 if k == 0
                                   else 0)) for k in range(3)), (Owned(R, "sv-cold", amount),))
                kind, postings = EntryKind.PURCHASE, (Posting(BITFINEX, -amount), Posting(R, amount))
                planted[DiscrepancyKind.CLAIMED_PURCHASE_IS_INTERNAL] += 1
            elif kind_of_plant == 2:  # the book overstates a purchase by 1 BTC
                tx = ChainTx(txid, height, i % 100 + 1, day, 2, 2, amount + 55_555,
                             (), (Owned(R, f"sv-{i % 50}", amount),))
                kind = EntryKind.PURCHASE
                postings = (Posting(BITFINEX, -(amount + BTC)), Posting(R, amount + BTC))
                planted[DiscrepancyKind.AMOUNT_MISMATCH] += 1
            else:  # the entry cites a transaction never confirmed; the real one goes unrecorded
                tx = ChainTx(txid, height, i % 100 + 1, day, 2, 2, amount + 55_555,
                             (), (Owned(R, f"sv-{i % 50}", amount),))
                kind, postings = EntryKind.PURCHASE, (Posting(BITFINEX, -amount), Posting(R, amount))
                txids = (hashlib.sha256(b"never" + txid.encode()).hexdigest(),)
                planted[DiscrepancyKind.UNCONFIRMED_ENTRY] += 1
                planted[DiscrepancyKind.UNRECORDED_INFLOW] += 1
        chain.append(tx)
        if not (plant and kind_of_plant == 0):
            entries.append(Entry(i + 1, kind, day, postings, txids))
    # Book-only records (forfeiture orders) keep the entry count at ``count``.
    while len(entries) < count:
        n = len(entries) + 1
        entries.append(Entry(count + n, EntryKind.INTERNAL_TRANSFER, days[-1],
                             (Posting(CUSTODY, -1), Posting(CUSTODY_2, 1))))
    return chain, entries, {k: v for k, v in planted.items() if v}


def naive_join(chain: list[ChainTx], entries: list[Entry]) -> int:
    by_txid = {entry.txids[0]: entry for entry in entries if entry.txids}
    return sum(1 for tx in chain if tx.txid_hex in by_txid)


def classify_only(chain: list[ChainTx]) -> int:
    return sum(1 for tx in chain if classify_account(R, tx) is not None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="transactions and entries (default 1,000,000)")
    args = parser.parse_args(argv)
    count = args.count

    print(f"building {count:,} chain transactions and {count:,} journal entries …", flush=True)
    seconds, (chain, entries, planted) = timed(lambda: synthetic(count))
    gc.collect()
    gc.freeze()  # the data outlive the run; sparing the collector from rescanning them is what a sync process does
    print(f"  built in {seconds:.1f} s", flush=True)

    join_s, joined = timed(lambda: naive_join(chain, entries))
    classify_s, classified = timed(lambda: classify_only(chain))
    reconcile_s, result = timed(lambda: reconcile(
        "SV", height=10**9, block_hash_hex="00" * 32, chain_txs=chain, entries=entries,
        chain_balance_sat=0, book_balance_sat=0,
    ))
    found: dict[DiscrepancyKind, int] = {}
    for d in result.discrepancies:
        found[d.kind] = found.get(d.kind, 0) + 1

    rows = [
        ("baseline: dict join of txids", join_s, joined),
        ("baseline: classification alone", classify_s, classified),
        ("reconcile (classify + match + findings)", reconcile_s, len(result.movements)),
    ]
    print(f"\n{'step':<42}{'seconds':>9}{'tx/s':>14}{'× join':>9}")
    for label, secs, _ in rows:
        print(f"{label:<42}{secs:>9.2f}{count / secs:>14,.0f}{secs / join_s:>9.1f}")
    print(f"\nmovements {len(result.movements):,}, entries {len(entries):,}, "
          f"matched entries {result.matched_entry_count:,}, book-only {len(result.book_only_entries):,}")
    print("planted:", {k.value: v for k, v in planted.items()})
    print("found:  ", {k.value: v for k, v in found.items()})
    ok = found == planted
    target = "under" if reconcile_s < 10 else "OVER"
    print(f"\nreconcile {count:,} × {count:,}: {reconcile_s:.2f} s ({target} the 10 s target), "
          f"{reconcile_s / join_s:.1f}× the naive dict join; findings {'exactly as planted' if ok else 'DIFFER'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
