"""Proof bundles an operator publishes beside the book: each file read and checked against the chain the
book syncs from, as `boveda verify` would check it, and the latest valid one per reserve.

A valid bundle shows control of *at least* the coins it lists at its block: a reserve may hold more.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boveda.book import Book
from boveda.errors import BovedaError
from boveda.proofs.bundle import ProofBundle, load_bundle
from boveda.proofs.verify import VerificationReport
from boveda.service.chain import ChainOptions, book_route
from boveda.service.proofs import verify_proof


@dataclass(frozen=True, slots=True)
class PublishedProof:
    """One published bundle file and what checking it found (`error`: why it could not be read or checked)."""

    file_name: str
    size: int
    bundle: ProofBundle | None
    report: VerificationReport | None
    route: str | None
    error: str | None = None

    @property
    def reserve(self) -> str | None:
        return None if self.bundle is None else self.bundle.reserve

    @property
    def height(self) -> int:
        return -1 if self.bundle is None else self.bundle.height

    @property
    def valid(self) -> bool:
        return self.report is not None and self.report.ok

    @property
    def verified_sat(self) -> int:
        """What a valid bundle proves control of (its coins on chain at its height); 0 otherwise."""
        return self.report.chain_assets_sat if self.valid and self.report is not None else 0

    def to_json(self) -> dict[str, Any]:
        """`report` is `boveda verify --json`'s document for the file."""
        return {"file": self.file_name, "size": self.size, "reserve": self.reserve,
                "height": None if self.bundle is None else self.bundle.height,
                "block_hash": None if self.bundle is None else self.bundle.block_hash_hex,
                "valid": self.valid, "verified_sat": self.verified_sat, "chain_read_from": self.route,
                "error": self.error, "report": None if self.report is None else self.report.to_json()}


def check_published(book: Book, path: Path) -> PublishedProof:
    """Reads the bundle at `path` and verifies it against the chain the book remembers (its datadir's block
    files, read-only, or its node over RPC). Never raises for a bad file: the problem is in `error`."""
    size = path.stat().st_size if path.exists() else 0
    try:
        bundle = load_bundle(path)
    except BovedaError as exc:
        return PublishedProof(path.name, size, None, None, None, str(exc))
    try:
        route = book_route(book, ChainOptions())
        verification = verify_proof(bundle, ChainOptions(
            Path(route.datadir) if route.datadir else None, None, route.rpc_url, route.use_cookie))
    except BovedaError as exc:
        return PublishedProof(path.name, size, bundle, None, None, f"could not be checked: {exc}")
    return PublishedProof(path.name, size, bundle, verification.report, verification.route)


def latest_valid(proofs: Iterable[PublishedProof], reserve: str, at_height: int | None = None
                 ) -> PublishedProof | None:
    """The valid bundle of `reserve` at the highest block (at or below `at_height` when given: a view of
    the past is not verified by a later proof), if any."""
    valid = [p for p in proofs if p.reserve == reserve and p.valid and (at_height is None or p.height <= at_height)]
    return max(valid, key=lambda p: (p.height, p.file_name)) if valid else None


def of_reserve(proofs: Iterable[PublishedProof], reserve: str) -> tuple[PublishedProof, ...]:
    """`reserve`'s bundles, the most recent block first."""
    return tuple(sorted((p for p in proofs if p.reserve == reserve), key=lambda p: (-p.height, p.file_name)))
