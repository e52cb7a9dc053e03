"""`boveda prove`, `boveda prove finalize`, `boveda verify`: proofs of reserves, made from the book and
checked without it."""

from __future__ import annotations

from pathlib import Path

import click

from boveda.bitcoin.network import Network
from boveda.cli.common import EXIT_CHECK_FAILED, JSON_OPTION, _echo_json, _open_book, _table
from boveda.money import format_btc
from boveda.proofs.bundle import load_bundle, write_bundle
from boveda.proofs.challenge import ProofError
from boveda.proofs.psbt import finalize
from boveda.proofs.verify import verify_bundle
from boveda.service.proofs import make_proof

_OUT = click.Path(path_type=Path, dir_okay=False)


@click.group("prove", invoke_without_command=True, subcommand_metavar="[finalize ...]")
@click.option("--reserve", "reserve", metavar="CODE", help="The reserve to prove.")
@click.option("--at", "at_height", type=click.IntRange(min=0), metavar="HEIGHT",
              help="The block after which balances are proved (default: the height the reserve is synced to).")
@click.option("--challenge", metavar="TEXT",
              help="The asker's nonce, signed into every proof (default: a random one, printed in the bundle).")
@click.option("--out", "out_path", type=_OUT, help="Where to write the bundle (JSON).")
@click.option("--seed-label", metavar="LABEL",
              help="DEMO/REGTEST ONLY: sign with keys derived from this public label, as `boveda demo`'s "
                   "wallets are (the scenario's seed). Refused on every network but regtest.")
@click.option("--psbt-dir", type=click.Path(path_type=Path, file_okay=False),
              help="Write one BIP-322 to_sign PSBT per address here for external signers, and an unsigned bundle.")
@click.pass_context
def prove_group(ctx: click.Context, reserve: str | None, at_height: int | None, challenge: str | None,
                out_path: Path | None, seed_label: str | None, psbt_dir: Path | None) -> None:
    """Prove a reserve's holdings at a block: its funded addresses, their coins and a BIP-322 proof of
    control for each, with the liabilities its book records, as a bundle anyone can verify.

    Software keys sign directly (--seed-label, for the demo's regtest wallets only). For real
    custody, --psbt-dir writes one to-sign PSBT per address for hardware or offline signers and an
    unsigned bundle; `boveda prove finalize` then puts the signed PSBTs' signatures into it.
    No private key is read from or written to the book or the bundle.

    \b
    Example:
      boveda prove --reserve SV --at 486 --challenge "journalist-2025-08-31" \\
        --psbt-dir psbts/ --out proof-SV.unsigned.json
      boveda prove finalize proof-SV.unsigned.json --psbt-dir psbts/ --out proof-SV.json
      boveda prove --reserve SV --seed-label "boveda article scenario v1" --out proof-SV.json   # demo only
    """
    if ctx.invoked_subcommand is not None:
        if any(v is not None for v in (reserve, at_height, challenge, out_path, seed_label, psbt_dir)):
            raise click.UsageError("options before 'finalize' belong to 'boveda prove'; put them after 'finalize'")
        return
    if reserve is None or out_path is None:
        raise click.UsageError("boveda prove needs --reserve CODE and --out BUNDLE")
    if (seed_label is None) == (psbt_dir is None):
        raise click.UsageError("choose how to sign: --seed-label LABEL (demo keys) or --psbt-dir DIR (external signers)")
    with _open_book(ctx) as book:
        bundle, written = make_proof(book, reserve, height=at_height, challenge=challenge, seed_label=seed_label,
                                     psbt_dir=psbt_dir)
    write_bundle(bundle, out_path)
    state = "signed" if bundle.is_signed else "unsigned"
    click.echo(f"{state} proof of reserve {bundle.reserve} at height {bundle.height} ({bundle.block_hash_hex}): "
               f"{len(bundle.addresses)} addresses, {format_btc(bundle.assets_sat)} BTC, liabilities "
               f"{format_btc(bundle.liabilities_sat)} BTC; challenge {bundle.challenge!r} -> {out_path}")
    if psbt_dir is not None:
        click.echo(f"{len(written)} PSBTs to sign in {psbt_dir}; then: boveda prove finalize {out_path} "
                   f"--psbt-dir {psbt_dir} --out FINAL.json")


@prove_group.command("finalize")
@click.argument("bundle_path", metavar="BUNDLE", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--psbt-dir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="The folder holding the signed PSBTs (any file names; matched by what they sign).")
@click.option("--out", "out_path", required=True, type=_OUT, help="Where to write the signed bundle.")
def prove_finalize(bundle_path: Path, psbt_dir: Path, out_path: Path) -> None:
    """Put the signatures of signed BIP-322 PSBTs into an unsigned bundle; every proof is checked first.

    \b
    Example:
      boveda prove finalize proof-SV.unsigned.json --psbt-dir psbts/ --out proof-SV.json
    """
    bundle = finalize(load_bundle(bundle_path), psbt_dir)
    write_bundle(bundle, out_path)
    click.echo(f"signed proof of reserve {bundle.reserve} at height {bundle.height}: "
               f"{len(bundle.addresses)} proofs -> {out_path}")


@click.command("verify")
@click.argument("bundle_path", metavar="BUNDLE", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--datadir", type=click.Path(path_type=Path, file_okay=False), default=Path("~/.bitcoin"),
              show_default=True, help="Your Bitcoin Core data directory (the node stopped, or a copy).")
@click.option("--network", "network_name", help="main, testnet4, signet or regtest (default: the bundle's).")
@JSON_OPTION
def verify_command(bundle_path: Path, datadir: Path, network_name: str | None, as_json: bool) -> None:
    """Check a proof bundle against your own node, with no book: the block is in your active chain,
    every balance and coin is what the chain holds at that height, every BIP-322 proof signs the
    message the bundle's fields define, and the totals add up. Exit 0 when all pass, 1 naming each
    failure, 2 for an unreadable bundle or data directory.

    \b
    Example:
      boveda verify proof-SV.json --datadir ~/.bitcoin
      boveda verify proof-SV.json --datadir /tmp/boveda-demo/bitcoin --network regtest --json
    """
    bundle = load_bundle(bundle_path)
    network = None
    if network_name is not None:
        try:
            network = Network.parse(network_name)
        except ValueError as exc:
            raise ProofError(str(exc)) from None
    report = verify_bundle(bundle, datadir.expanduser(), network)
    if as_json:
        _echo_json(report.to_json())
    else:
        click.echo(f"reserve {report.reserve} on {report.network.value} at height {report.height} "
                   f"({report.block_hash_hex}), challenge {report.challenge!r}")
        _table([(a.address, a.wallet or "", format_btc(a.claimed_sat),
                 "?" if a.chain_sat is None else format_btc(a.chain_sat), a.proof_verdict, "ok" if a.ok else "FAIL")
                for a in report.addresses], ("ADDRESS", "WALLET", "BTC", "CHAIN BTC", "PROOF", "CHECK"))
        click.echo(f"assets {format_btc(report.assets_sat)} BTC (chain {format_btc(report.chain_assets_sat)}), "
                   f"liabilities {format_btc(report.liabilities_sat)} BTC, net {format_btc(report.net_sat)} BTC")
        for failure in report.failures:
            click.echo(f"FAIL {failure}")
        click.echo(report.verdict)
    if not report.ok:
        raise SystemExit(EXIT_CHECK_FAILED)


def register(cli: click.Group) -> None:
    cli.add_command(prove_group)
    cli.add_command(verify_command)
