"""The demo's proof step: every reserve proved at the synced tip with the scenario's software keys,
each bundle written into the demo folder and verified from the chain alone."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from boveda.book import Book
from boveda.proofs.bundle import ProofBundle, load_bundle, write_bundle
from boveda.proofs.prove import prove, reserve_wallets
from boveda.proofs.software_signer import SeedSigner
from boveda.proofs.verify import VerificationReport, verify_bundle


@dataclass(frozen=True, slots=True)
class ProvedReserve:
    code: str
    bundle_path: Path
    bundle: ProofBundle
    report: VerificationReport  # from the file as written, against the datadir, without the book

    @property
    def ok(self) -> bool:
        return self.report.ok


def prove_and_verify(book: Book, built, folder: Path, *, challenge: str | None = None) -> list[ProvedReserve]:
    """Proves each reserve of `book` at the height its wallets were synced to, signing with the keys of
    `built.scenario.seed` (a BuiltScenario), writes `proof-<CODE>.json` into `folder`, and verifies
    each written file against `built.datadir`. The kernel must not be open elsewhere in the process."""
    proved = []
    for reserve in book.reserves():
        if not reserve_wallets(book, reserve.code):
            continue  # nothing to prove: the reserve holds no wallet
        signer = SeedSigner.for_reserve(book, reserve.code, built.scenario.seed)
        bundle = prove(book, reserve.code, signer, challenge=challenge)
        path = Path(folder) / f"proof-{reserve.code}.json"
        write_bundle(bundle, path)
        written = load_bundle(path)
        proved.append(ProvedReserve(reserve.code, path, written, verify_bundle(written, built.datadir)))
    return proved
