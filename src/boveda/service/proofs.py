"""Proving a reserve: the bundle signed by the demo's software keys, or left for external signers with PSBTs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from boveda.bitcoin.network import Network
from boveda.book import Book
from boveda.chain.rpc import RpcSource
from boveda.proofs.bundle import ProofBundle
from boveda.proofs.challenge import ProofError
from boveda.proofs.live import verify_live
from boveda.proofs.prove import prepare_bundle, prove
from boveda.proofs.psbt import write_psbts
from boveda.proofs.software_signer import SeedSigner
from boveda.proofs.verify import VerificationReport, coins_claimed_twice, verify_bundle
from boveda.service.chain import ChainOptions, open_source, verify_route


def make_proof(book: Book, reserve: str, *, height: int | None, challenge: str | None, seed_label: str | None = None,
               psbt_dir: Path | None = None, force: bool = False) -> tuple[ProofBundle, tuple[Path, ...]]:
    """The bundle (signed with `seed_label`'s keys, or unsigned) and the PSBTs written to `psbt_dir`."""
    if seed_label is not None:
        signer = SeedSigner.for_reserve(book, reserve, seed_label)
        return prove(book, reserve, signer, height=height, challenge=challenge), ()
    bundle = prepare_bundle(book, reserve, height=height, challenge=challenge)
    return bundle, write_psbts(book, bundle, psbt_dir, force=force)


@dataclass(frozen=True, slots=True)
class Verification:
    """A bundle's verification and, in words, how the chain was read for it."""

    report: VerificationReport
    route: str  # not in the report's JSON, whose form is a public contract: faces show it beside it


def verify_proof(bundle: ProofBundle, options: ChainOptions, on_block: Callable[[int], None] | None = None, *,
                 expect_total_sat: int | None = None) -> Verification:
    """`bundle` checked against a running node (an RPC option given) or a datadir's block files (read-only);
    `expect_total_sat`, a published figure, must be proved too."""
    if options.network_name is not None:
        try:
            network = Network.parse(options.network_name)
        except ValueError as exc:
            raise ProofError(str(exc)) from None
        if network is not bundle.network:
            raise ProofError(f"the bundle is a {bundle.network.value} proof, not {network.value}")
    route = verify_route(options, bundle.network)
    if route.is_rpc:
        with open_source(route) as source:
            assert isinstance(source, RpcSource)
            report = verify_live(bundle, source, on_block, expect_total_sat=expect_total_sat)
        return Verification(report, f"live: {route.describe()}; each listed coin asked with gettxout, blocks read "
                                    "only for coins spent since the height; coins the bundle leaves out are not "
                                    "searched for")
    report = verify_bundle(bundle, route.datadir or "", bundle.network, on_block, expect_total_sat=expect_total_sat)
    return Verification(report, f"{route.describe()}, read-only (blk/rev files only: the node's files are not "
                                "written; the active chain is the most-work chain of blocks it connected)")


def verify_proofs(bundles: Sequence[tuple[str, ProofBundle]], options: ChainOptions) -> tuple[Verification, ...]:
    """Several bundles checked, each as `verify_proof` does, and against each other: a coin listed by bundles
    of two reserves fails both. `bundles` are (name shown, bundle) pairs."""
    verifications = [verify_proof(bundle, options) for _, bundle in bundles]
    twice = coins_claimed_twice(bundles)
    return tuple(Verification(v.report.with_failures(twice.get(position, ())), v.route)
                 for position, v in enumerate(verifications))
