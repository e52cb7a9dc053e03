"""Descriptor derivation speed: Bóveda's libsecp256k1 path against embit, the named baseline.

    .venv/bin/python bench/derive.py [--count N]

Derives N scripts of each descriptor both ways, checks they are byte-identical, and
prints scripts/s and addresses/s (scripts rendered as regtest addresses) with the ratio
to embit.
"""

from __future__ import annotations

import argparse
import time

from embit import bip32
from embit.networks import NETWORKS

from boveda.bitcoin.network import Network
from boveda.wallets import Branch, address_of, derive_with_embit, descriptor_checksum, parse_descriptor

# BIP-32 test vector seeds 1-3: fixed keys, so runs are comparable.
SEEDS = (
    "000102030405060708090a0b0c0d0e0f",
    "fffcf9f6f3f0edeae7e4e1dedbd8d5d2cfccc9c6c3c0bdbab7b4b1aeaba8a5a29f9c999693908d8a8784817e7b7875726f6c696663605d5a5754514e4b484542",
    "4b381541583be4423346c643850da4b320e46a87ae3d2a4e6da11eba819cd4acba45d239319ac14f863b8d5ab5a0d0c64d2e8a1e7d1457df2e5a3c51c73235be",
)


def account_tpubs() -> list[str]:
    tprv_version = NETWORKS["test"]["xprv"]
    return [
        bip32.HDKey.from_seed(bytes.fromhex(seed), version=tprv_version).derive("m/84h/1h/0h").to_public().to_base58()
        for seed in SEEDS
    ]


def timed(function, *arguments):
    started = time.perf_counter()
    result = function(*arguments)
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000, help="scripts to derive per descriptor (default 5000)")
    count = parser.parse_args().count
    first, second, third = account_tpubs()
    cases = {
        "wpkh(tpub/0/*)": f"wpkh({first}/0/*)",
        "wsh(sortedmulti(2-of-3))": f"wsh(sortedmulti(2,{first}/0/*,{second}/0/*,{third}/0/*))",
        "tr(tpub/0/*)": f"tr({first}/0/*)",
    }
    print(f"{count} scripts per descriptor; rates in items per second; ratio = Bóveda / embit")
    header = (
        f"{'descriptor':26} {'embit scripts':>14} {'ours scripts':>13} {'ratio':>6}"
        f" {'embit addrs':>12} {'ours addrs':>11} {'ratio':>6}"
    )
    print(header)
    print("-" * len(header))
    for label, body in cases.items():
        descriptor = parse_descriptor(body + "#" + descriptor_checksum(body), Network.REGTEST)
        ours, ours_seconds = timed(descriptor.derive, Branch.RECEIVE, 0, count)
        reference, embit_seconds = timed(derive_with_embit, descriptor, Branch.RECEIVE, 0, count)
        if ours != reference:
            raise SystemExit(f"{label}: derived scripts differ from embit's")
        _, address_seconds = timed(lambda: [address_of(item.script_pubkey, Network.REGTEST) for item in ours])
        embit_rate, ours_rate = count / embit_seconds, count / ours_seconds
        embit_address_rate = count / (embit_seconds + address_seconds)
        ours_address_rate = count / (ours_seconds + address_seconds)
        print(
            f"{label:26} {embit_rate:14,.0f} {ours_rate:13,.0f} {ours_rate / embit_rate:5.1f}x"
            f" {embit_address_rate:12,.0f} {ours_address_rate:11,.0f} {ours_address_rate / embit_address_rate:5.1f}x"
        )
    print("scripts byte-identical to embit's for every descriptor")


if __name__ == "__main__":
    main()
