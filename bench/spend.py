"""Coin selection for a spend proposal over a wallet of 100,000 UTXOs: ms per proposal, against a named
baseline in the same run.

    .venv/bin/python bench/spend.py [--utxos N] [--proposals K]

Ours: `boveda.spend.selection.select` — branch-and-bound (Bitcoin Core's SelectCoinsBnB, 100,000
tries), then the smallest single coin, then largest first — and the PSBT built for the coins it
chose (every input's witness UTXO and BIP-32 derivation, the change output's derivation). The
baseline, "largest-first": sort the coins by value and take the largest until the amount, the fee
and a change output are covered — no search — and build the same PSBT. The ratio is ours / baseline
per proposal (above 1: ours is slower by that factor for what the search buys: change-free spends
and less excess). Fixed seed, so runs compare.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from boveda.bitcoin.network import Network
from boveda.keys.software_wallet import SoftwareWallet, seed_from_label
from boveda.spend.model import Output, Utxo
from boveda.spend.psbt_build import build_psbt, input_weight
from boveda.spend.selection import (
    DUST_SAT,
    TX_OVERHEAD_WEIGHT,
    SelectionRequest,
    fee_for,
    output_weight,
    select,
)
from boveda.wallets.descriptors import Branch, parse_descriptor

RATE_SAT_KVB = 2_000


def largest_first(request: SelectionRequest) -> tuple[int, ...]:
    """The baseline: largest coins first until amount + fee + a change output are covered."""
    order = sorted(range(len(request.values_sat)), key=lambda i: -request.values_sat[i])
    chosen, total = [], 0
    for i in order:
        chosen.append(i)
        total += request.values_sat[i]
        weight = request.fixed_weight + request.change_weight + request.input_weight * len(chosen)
        if total >= request.amount_sat + fee_for(weight, request.rate_sat_kvb) + DUST_SAT:
            return tuple(chosen)
    raise SystemExit("the bench wallet cannot pay the amount")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utxos", type=int, default=100_000)
    parser.add_argument("--proposals", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(322)
    wallet = SoftwareWallet.tr(seed_from_label("bench spend"), network=Network.REGTEST)
    descriptor = parse_descriptor(wallet.multipath_descriptor(), Network.REGTEST)
    scripts = [d.script_pubkey for d in descriptor.derive(Branch.RECEIVE, 0, 1000)]
    utxos = [Utxo(rng.randbytes(32), rng.randrange(4), rng.randint(10_000, 50_000_000), scripts[i % 1000],
                  "bench", 0, i % 1000, 800_000) for i in range(args.utxos)]
    values = [u.value_sat for u in utxos]
    destination = scripts[0]
    change_location = (1, 0)
    change_script = descriptor.derive(Branch.CHANGE, 0, 1)[0].script_pubkey
    amounts = [rng.randint(100_000, 500_000_000) for _ in range(args.proposals)]
    weight = input_weight(descriptor)

    def request(amount: int) -> SelectionRequest:
        return SelectionRequest(values, amount, RATE_SAT_KVB, weight, TX_OVERHEAD_WEIGHT + output_weight(34),
                                output_weight(34))

    def psbt_for(indexes, amount: int, change_sat: int) -> None:
        outputs = [Output(destination, amount)]
        if change_sat:
            outputs.append(Output(change_script, change_sat, is_change=True))
        build_psbt(descriptor, [utxos[i] for i in indexes], outputs, {}, change_location).to_base64()

    ours_ms, base_ms, algorithms, ours_inputs, base_inputs = [], [], {}, [], []
    for amount in amounts:
        started = time.perf_counter()
        chosen = select(request(amount))
        psbt_for(chosen.indexes, amount, chosen.change_sat)
        ours_ms.append((time.perf_counter() - started) * 1000)
        algorithms[chosen.algorithm] = algorithms.get(chosen.algorithm, 0) + 1
        ours_inputs.append(len(chosen.indexes))
        started = time.perf_counter()
        indexes = largest_first(request(amount))
        psbt_for(indexes, amount, 1)
        base_ms.append((time.perf_counter() - started) * 1000)
        base_inputs.append(len(indexes))
    ours, base = statistics.median(ours_ms), statistics.median(base_ms)
    print(f"{args.utxos:,} UTXOs (tr wallet), {args.proposals} proposals at {RATE_SAT_KVB / 1000:g} sat/vB; "
          "median ms per proposal (selection + PSBT)")
    print(f"{'selection':34} {'ms/proposal':>12} {'inputs (median)':>16}")
    print(f"{'ours: bnb, single, largest-first':34} {ours:12.1f} {statistics.median(ours_inputs):16.0f}")
    print(f"{'baseline: largest-first':34} {base:12.1f} {statistics.median(base_inputs):16.0f}")
    print(f"ratio ours / baseline: {ours / base:.2f}x; ours chose " +
          ", ".join(f"{name} {count}" for name, count in sorted(algorithms.items())))


if __name__ == "__main__":
    main()
