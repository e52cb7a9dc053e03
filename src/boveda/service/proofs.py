"""Proving a reserve: the bundle signed by the demo's software keys, or left for external signers with PSBTs."""

from __future__ import annotations

from pathlib import Path

from boveda.book import Book
from boveda.proofs.bundle import ProofBundle
from boveda.proofs.prove import prepare_bundle, prove
from boveda.proofs.psbt import write_psbts
from boveda.proofs.software_signer import SeedSigner


def make_proof(book: Book, reserve: str, *, height: int | None, challenge: str | None, seed_label: str | None = None,
               psbt_dir: Path | None = None) -> tuple[ProofBundle, tuple[Path, ...]]:
    """The bundle (signed with `seed_label`'s keys, or unsigned) and the PSBTs written to `psbt_dir`."""
    if seed_label is not None:
        signer = SeedSigner.for_reserve(book, reserve, seed_label)
        return prove(book, reserve, signer, height=height, challenge=challenge), ()
    bundle = prepare_bundle(book, reserve, height=height, challenge=challenge)
    return bundle, write_psbts(book, bundle, psbt_dir)
