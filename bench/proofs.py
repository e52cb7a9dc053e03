"""BIP-322 proof speed: Bóveda's verifier beside btclib-wallet's and the Rust `bip322` bridge's, in one run.

    .venv/bin/python bench/proofs.py [--count N] [--rounds R]

Signs N P2WPKH proofs and N 2-of-3 P2WSH (sortedmulti) proofs in the simple format with
Bóveda, then verifies every proof with each verifier, one core, and prints proofs/s and the
ratio of Bóveda to each baseline. Every verifier must accept every proof, or the run fails.

The baselines are bench-only and not dependencies of Bóveda:
    .venv/bin/pip install btclib-wallet==2026.10.26 "ecc[secp256k1]==2026.10.23" bip322==0.3.0
(btclib-wallet computes through libsecp256k1 only with ecc's `secp256k1` extra; without it, it
falls back to pure Python and the comparison would flatter us.) The Rust bridge only speaks the
simple format and is no judge of validity (docs/library-notes.md): it is here for speed.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import coincurve

from boveda.bitcoin import bip322, script
from boveda.bitcoin.address import script_to_address
from boveda.bitcoin.network import Network

CHALLENGE = "boveda proof of reserves | reserve SV | network main | height 840000 | nonce 4f1c9a"
NETWORK = Network.MAIN  # the Rust bridge reads mainnet addresses


@dataclass(frozen=True, slots=True)
class Proof:
    address: str
    script_pubkey: bytes
    signature: str


@dataclass(frozen=True, slots=True)
class Verifier:
    name: str
    verify_all: Callable[[Sequence[Proof]], int]  # returns how many proofs it accepted


def secret(label: str, index: int) -> bytes:
    return hashlib.sha256(f"boveda bench key/{label}/{index}".encode()).digest()


def make_p2wpkh(count: int) -> list[Proof]:
    proofs = []
    for i in range(count):
        key = secret("wpkh", i)
        script_pubkey = script.p2wpkh(coincurve.PrivateKey(key).public_key.format())
        address = script_to_address(script_pubkey, NETWORK)
        proofs.append(Proof(address, script_pubkey, bip322.sign_p2wpkh(CHALLENGE, key)))
    return proofs


def make_p2wsh_2_of_3(count: int) -> list[Proof]:
    signer_pairs = ((0, 1), (0, 2), (1, 2))  # which two cosigners sign changes how many keys are tried
    proofs = []
    for i in range(count):
        keys = [secret(f"wsh{j}", i) for j in range(3)]
        public_keys = sorted(coincurve.PrivateKey(k).public_key.format() for k in keys)
        witness_script = script.multisig(2, public_keys)
        script_pubkey = script.p2wsh(witness_script)
        signers = [keys[j] for j in signer_pairs[i % 3]]
        signature = bip322.sign_p2wsh_multisig(CHALLENGE, witness_script, signers)
        proofs.append(Proof(script_to_address(script_pubkey, NETWORK), script_pubkey, signature))
    return proofs


def boveda_verifier() -> Verifier:
    def verify_all(proofs: Sequence[Proof]) -> int:
        verify = bip322.verify
        return sum(verify(p.script_pubkey, CHALLENGE, p.signature).is_valid for p in proofs)

    return Verifier("boveda", verify_all)


def btclib_wallet_verifier() -> Verifier | str:
    try:
        from btclib_wallet import bip322 as btclib_bip322
        from ecc import curves
    except ImportError as error:
        return f"not installed ({error.name}); pip install btclib-wallet==2026.10.26 'ecc[secp256k1]==2026.10.23'"
    message = CHALLENGE.encode()
    serving = curves.is_libsecp256k1_serving() if hasattr(curves, "is_libsecp256k1_serving") else None
    name = "btclib-wallet 2026.10.26" + (" + libsecp256k1" if serving else " (pure Python: no libsecp256k1)")

    def verify_all(proofs: Sequence[Proof]) -> int:
        verify = btclib_bip322.verify
        return sum(verify(message, p.address, p.signature) for p in proofs)

    return Verifier(name, verify_all)


def rust_bridge_verifier() -> Verifier | str:
    try:
        import bip322 as rust_bip322
    except ImportError:
        return "not installed; pip install bip322==0.3.0"

    def verify_all(proofs: Sequence[Proof]) -> int:
        # The bridge returns None (not True, despite its stub) and raises VerificationError on failure.
        accepted = 0
        for p in proofs:
            try:
                rust_bip322.verify_simple_encoded(p.address, CHALLENGE, p.signature)
                accepted += 1
            except rust_bip322.VerificationError:
                pass
        return accepted

    return Verifier(f"bip322 {rust_bip322.__version__} (Rust bridge)", verify_all)


def bare_ecdsa_rate(count: int) -> float:
    """libsecp256k1's ECDSA verify through coincurve, key parsing included: the ceiling for P2WPKH."""
    triples = []
    for i in range(count):
        key = coincurve.PrivateKey(secret("bare", i))
        digest = hashlib.sha256(key.secret).digest()
        triples.append((key.public_key.format(), key.sign(digest, hasher=None), digest))
    started = time.perf_counter()
    for public_key, signature, digest in triples:
        coincurve.PublicKey(public_key).verify(signature, digest, hasher=None)
    return count / (time.perf_counter() - started)


def timed_rates(
    verifiers: Sequence[Verifier], kinds: dict[str, list[Proof]], rounds: int
) -> dict[tuple[str, str], tuple[float, int]]:
    """(verifier, kind) -> (median proofs/s, proofs accepted).

    The passes are interleaved, one of each verifier per round, so that load from other
    processes falls on all of them alike rather than on whichever ran at the wrong moment.
    """
    rates: dict[tuple[str, str], list[float]] = {}
    accepted: dict[tuple[str, str], int] = {}
    for verifier in verifiers:
        for proofs in kinds.values():
            verifier.verify_all(proofs[:50])  # warm caches and imports
    for _ in range(rounds):
        for verifier in verifiers:
            for label, proofs in kinds.items():
                started = time.perf_counter()
                accepted[verifier.name, label] = verifier.verify_all(proofs)
                rates.setdefault((verifier.name, label), []).append(len(proofs) / (time.perf_counter() - started))
    return {key: (statistics.median(values), accepted[key]) for key, values in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="proofs of each kind (default 10,000)")
    parser.add_argument("--rounds", type=int, default=3, help="timed passes per verifier; the median is shown")
    options = parser.parse_args()

    kinds = {}
    for label, make in (("P2WPKH", make_p2wpkh), ("P2WSH 2-of-3", make_p2wsh_2_of_3)):
        started = time.perf_counter()
        kinds[label] = make(options.count)
        elapsed = time.perf_counter() - started
        print(f"signed {options.count:,} {label} proofs with boveda: {options.count / elapsed:,.0f} proofs/s")

    verifiers: list[Verifier] = [boveda_verifier()]
    for name, candidate in (("btclib-wallet", btclib_wallet_verifier()), ("bip322 (Rust)", rust_bridge_verifier())):
        if isinstance(candidate, str):
            print(f"baseline {name}: {candidate} -- left out of this run")
        else:
            verifiers.append(candidate)

    failures = []
    print()
    print(f"verification, one core, median of {options.rounds} passes over {options.count:,} simple proofs")
    header = f"{'verifier':<46}" + "".join(f"{label + ' /s':>16}{'boveda ×':>10}" for label in kinds)
    print(header)
    print("-" * len(header))
    results = timed_rates(verifiers, kinds, options.rounds)
    for verifier in verifiers:
        row = f"{verifier.name:<46}"
        for label, proofs in kinds.items():
            rate, accepted = results[verifier.name, label]
            if accepted != len(proofs):
                failures.append(f"{verifier.name} accepted {accepted:,} of {len(proofs):,} {label} proofs")
            row += f"{rate:>16,.0f}{results['boveda', label][0] / rate:>9.2f}×"
        print(row)
    print()
    ceiling = bare_ecdsa_rate(options.count)
    print("boveda × = Bóveda's proofs/s divided by that verifier's (the baseline named on the row).")
    print(
        f"Target: >= 8,000 P2WPKH proofs/s. Ceiling, coincurve's bare ECDSA verify in this run: {ceiling:,.0f}/s "
        f"(Bóveda P2WPKH reaches {results['boveda', 'P2WPKH'][0] / ceiling:.0%} of it)."
    )
    if failures:
        raise SystemExit("FAILED: " + "; ".join(failures))


if __name__ == "__main__":
    main()
