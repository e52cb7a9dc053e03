"""Proving a holding (a reserve or a custody case): the bundle signed by the demo's software keys, or left for
external signers with one proof-of-funds PSBT per wallet; and checking bundles against a node."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from boveda.bitcoin.network import Network
from boveda.book import Book
from boveda.book.domain import Account
from boveda.chain.rpc import RpcSource
from boveda.proofs.bundle import ProofBundle, load_bundle
from boveda.proofs.challenge import ProofError
from boveda.proofs.funds_psbt import check_psbt_folder, finalize_bundle, write_signing_psbts
from boveda.proofs.live import verify_live
from boveda.proofs.prove import known_holding, prepare_bundle, prove
from boveda.proofs.software_signer import SeedSigner
from boveda.proofs.verify import VerificationReport, coins_claimed_twice, verify_bundle
from boveda.service.chain import ChainOptions, open_source, verify_route


def holding_account(reserve: str | None, custody: str | None) -> Account:
    """The holding a prove command names: `--reserve CODE` or `--custody CASE`, exactly one."""
    if (reserve is None) == (custody is None):
        raise ProofError("name the holding to prove: --reserve CODE or --custody CASE (one of them)")
    return Account.reserve(reserve) if reserve is not None else Account.custody(custody)


def check_holding(book: Book, holding: Account) -> Account:
    """The holding, once the book is known to hold it (before any sync is spent on a typo)."""
    return known_holding(book, holding)


def make_proof(book: Book, holding: str | Account, *, height: int | None, challenge: str | None,
               seed_label: str | None = None, psbt_dir: Path | None = None, force: bool = False
               ) -> tuple[ProofBundle, tuple[Path, ...]]:
    """The bundle (signed with `seed_label`'s keys, one proof per address; or unsigned, with one proof-of-funds
    PSBT per wallet written to `psbt_dir`) and the PSBTs written. Reserves and custody holdings alike."""
    if seed_label is not None:
        signer = SeedSigner.for_reserve(book, holding, seed_label)
        return prove(book, holding, signer, height=height, challenge=challenge), ()
    if psbt_dir is None:
        raise ProofError("choose how to sign: --seed-label LABEL (demo keys) or --psbt-dir DIR (external signers)")
    check_psbt_folder(psbt_dir, force=force)  # before any work: a folder of signed PSBTs is never written over
    bundle = prepare_bundle(book, holding, height=height, challenge=challenge, per_wallet=True)
    return bundle, write_signing_psbts(book, bundle, psbt_dir, force=force)


def finalize_proof(bundle_path: Path, psbt_dir: Path) -> ProofBundle:
    """The unsigned bundle at `bundle_path` with the signatures of the signed PSBTs in `psbt_dir`, each checked."""
    return finalize_bundle(load_bundle(bundle_path), psbt_dir)


def written_json(bundle: ProofBundle, bundle_path: Path, psbt_paths: Sequence[Path] = ()) -> dict:
    """What `prove` and `prove finalize --json` print: the files written and what identifies each proof."""
    if bundle.funds_proofs:
        psbts = [{"path": str(path), "wallet": f.wallet, "message_address": f.address}
                 for path, f in zip(psbt_paths, bundle.funds_proofs)]
    else:
        psbts = [{"path": str(path), "wallet": a.wallet, "message_address": a.address}
                 for path, a in zip(psbt_paths, bundle.addresses)]
    return {
        "bundle": str(bundle_path), "version": bundle.version, "reserve": bundle.reserve, "custody": bundle.custody,
        "network": bundle.network.value, "height": bundle.height, "block_hash": bundle.block_hash_hex,
        "challenge": bundle.challenge, "signed": bundle.is_signed, "addresses": len(bundle.addresses),
        "wallet_proofs": [{"wallet": f.wallet, "message_address": f.address, "signed": f.proof is not None}
                          for f in bundle.funds_proofs],
        "assets_sat": bundle.assets_sat, "liabilities_sat": bundle.liabilities_sat, "net_sat": bundle.net_sat,
        "psbts": psbts,
    }


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
