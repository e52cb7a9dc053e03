"""`boveda prove`, `boveda prove finalize`, `boveda verify`: proofs of reserves, made from the book and
checked without it."""

from __future__ import annotations

from pathlib import Path

import click

from boveda.cli.common import (
    EXIT_CHECK_FAILED,
    FORCE_OPTION,
    JSON_OPTION,
    REFRESH_OPTION,
    _echo_json,
    _open_book,
    _table,
    refresh_book,
    rpc_options,
    say,
    source_given,
    source_options,
)
from boveda.cli.params import HEIGHT, SATOSHIS, SafePath
from boveda.money import format_btc
from boveda.outfiles import check_target
from boveda.proofs.bundle import load_bundle, write_bundle
from boveda.service.chain import ChainOptions
from boveda.service.proofs import (
    Verification,
    check_holding,
    finalize_proof,
    holding_account,
    make_proof,
    verify_proof,
    verify_proofs,
    written_json,
)

_OUT = SafePath(path_type=Path, dir_okay=False)


@click.group("prove", invoke_without_command=True, subcommand_metavar="[finalize ...]")
@click.option("--reserve", "reserve", metavar="CODE", help="The reserve to prove.")
@click.option("--custody", "custody", metavar="CASE",
              help="Or the custody holding of a case to prove (the coins the seizing agency holds), the same way.")
@click.option("--at", "at_height", type=HEIGHT, metavar="HEIGHT",
              help="The block after which balances are proved (default: the height the reserve is synced to).")
@click.option("--challenge", metavar="TEXT",
              help="The asker's nonce, signed into every proof (default: a random one, printed in the bundle).")
@click.option("--out", "out_path", type=_OUT, help="Where to write the bundle (JSON).")
@click.option("--seed-label", metavar="LABEL",
              help="DEMO/REGTEST ONLY: sign with keys derived from this public label, as `boveda demo`'s "
                   "wallets are (the scenario's seed). Refused on every network but regtest.")
@click.option("--psbt-dir", type=SafePath(path_type=Path, file_okay=False),
              help="Write one BIP-322 proof-of-funds PSBT per wallet here for external signers (a folder without "
                   "PSBTs, unless --force), and an unsigned bundle.")
@FORCE_OPTION
@REFRESH_OPTION
@source_options
@JSON_OPTION
@click.pass_context
def prove_group(ctx: click.Context, reserve: str | None, custody: str | None, at_height: int | None,
                challenge: str | None, out_path: Path | None, seed_label: str | None, psbt_dir: Path | None,
                force: bool, refresh: bool, datadir: Path | None, network_name: str | None, rpc_url: str | None,
                use_cookie: bool, as_json: bool) -> None:
    """Prove a reserve's (or a custody holding's) coins at a block: its funded addresses, their coins and
    BIP-322 proofs of control, with the liabilities its book records, as a bundle anyone can verify.

    Software keys sign directly (--seed-label, for the demo's regtest wallets only; one proof per
    address). For real custody, --psbt-dir writes one BIP-322 "proof of funds" PSBT per wallet —
    one signing round per wallet, however many addresses it has — and an unsigned bundle; `boveda
    prove finalize` then puts the signed PSBTs' signatures into it (docs/signers.md: Bitcoin Core,
    Sparrow, HWI). A folder already holding PSBTs, which may be signed, is refused (--force to
    write over them), as is an existing bundle file. No private key is read from or written to the
    book or the bundle.

    \b
    Example:
      boveda prove --reserve SV --at 486 --challenge "journalist-2025-08-31" \\
        --psbt-dir psbts/ --out proof-SV.unsigned.json
      boveda prove finalize proof-SV.unsigned.json --psbt-dir psbts/ --out proof-SV.json
      boveda prove --reserve SV --seed-label "boveda article scenario v1" --out proof-SV.json   # demo only
      boveda prove --reserve SV --rpc --psbt-dir psbts/ --out proof-SV.unsigned.json   # synced from the node first
      boveda prove --custody 1:13-cr-00950 --psbt-dir psbts-sr/ --out proof-SR.unsigned.json --json
    """
    chain = ChainOptions(datadir, network_name, rpc_url, use_cookie)
    if ctx.invoked_subcommand is not None:
        if any(v is not None for v in (reserve, custody, at_height, challenge, out_path, seed_label, psbt_dir)) \
                or force or refresh or as_json or source_given(ctx):
            raise click.UsageError("options before 'finalize' belong to 'boveda prove'; put them after 'finalize'")
        return
    if (reserve is None) == (custody is None) or out_path is None:
        raise click.UsageError("boveda prove needs --reserve CODE or --custody CASE, and --out BUNDLE")
    if (seed_label is None) == (psbt_dir is None):
        raise click.UsageError("choose how to sign: --seed-label LABEL (demo keys) or --psbt-dir DIR (external signers)")
    check_target(out_path, force=force)  # before any work: a refused file costs nothing
    holding = holding_account(reserve, custody)
    with _open_book(ctx) as book:
        check_holding(book, holding)  # before a refresh: a typo costs no sync
        if refresh or source_given(ctx):
            refresh_book(book, chain)
        bundle, written = make_proof(book, holding, height=at_height, challenge=challenge, seed_label=seed_label,
                                     psbt_dir=psbt_dir, force=force)
    write_bundle(bundle, out_path, force=force)
    if as_json:
        _echo_json(written_json(bundle, out_path, written))
        return
    state = "signed" if bundle.is_signed else "unsigned"
    say(f"{state} proof of {bundle.holder} at height {bundle.height} ({bundle.block_hash_hex}): "
        f"{len(bundle.addresses)} addresses, {format_btc(bundle.assets_sat)} BTC, liabilities "
        f"{format_btc(bundle.liabilities_sat)} BTC; challenge {bundle.challenge!r} -> {out_path}")
    if psbt_dir is not None:
        rounds = "wallet" if bundle.funds_proofs else "address"
        say(f"{len(written)} PSBTs to sign in {psbt_dir} (one per {rounds}); then: boveda prove finalize "
            f"{out_path} --psbt-dir {psbt_dir} --out FINAL.json")


@prove_group.command("finalize")
@click.argument("bundle_path", metavar="BUNDLE", type=SafePath(path_type=Path, dir_okay=False))
@click.option("--psbt-dir", required=True, type=SafePath(path_type=Path, file_okay=False),
              help="The folder holding the signed PSBTs (any file names; matched by what they sign).")
@click.option("--out", "out_path", required=True, type=_OUT, help="Where to write the signed bundle.")
@FORCE_OPTION
@JSON_OPTION
def prove_finalize(bundle_path: Path, psbt_dir: Path, out_path: Path, force: bool, as_json: bool) -> None:
    """Put the signatures of signed BIP-322 PSBTs into an unsigned bundle; every proof is checked first.
    Several cosigners' copies of one wallet's PSBT (any file names) are joined input by input.

    \b
    Example:
      boveda prove finalize proof-SV.unsigned.json --psbt-dir psbts/ --out proof-SV.json
    """
    check_target(out_path, force=force)
    bundle = finalize_proof(bundle_path, psbt_dir)
    write_bundle(bundle, out_path, force=force)
    if as_json:
        _echo_json(written_json(bundle, out_path))
        return
    proofs = (f"{len(bundle.funds_proofs)} proofs of funds covering {len(bundle.addresses)} addresses"
              if bundle.funds_proofs else f"{len(bundle.addresses)} proofs")
    say(f"signed proof of {bundle.holder} at height {bundle.height}: {proofs} -> {out_path}")


@click.command("verify")
@click.argument("bundle_paths", metavar="BUNDLE...", nargs=-1, required=True,
                type=SafePath(path_type=Path, dir_okay=False))
@click.option("--datadir", type=SafePath(path_type=Path, file_okay=False), default=Path("~/.bitcoin"),
              show_default=True, help="Your Bitcoin Core data directory: its block files are read (never written), "
                                      "or with --rpc its cookie file.")
@click.option("--network", "network_name", help="main, testnet4, signet or regtest (default: the bundle's).")
@click.option("--expect-total", "expect_total_sat", type=SATOSHIS, metavar="SAT",
              help="A total published elsewhere (satoshis): fail unless the bundle proves control of at least it.")
@rpc_options
@JSON_OPTION
def verify_command(bundle_paths: tuple[Path, ...], datadir: Path, network_name: str | None, expect_total_sat: int | None,
                   rpc_url: str | None, use_cookie: bool, as_json: bool) -> None:
    """Check a proof bundle against your own node, with no book: the block is in your active chain,
    every balance and coin is what the chain holds at that height, every BIP-322 proof signs the
    message the bundle's fields define, and the totals add up. A bundle proves control of *at least*
    its coins at its block: --expect-total checks a published figure against it. Several bundles are
    also checked against each other: a coin two reserves both claim fails both. Exit 0 when all pass,
    1 naming each failure, 2 for an unreadable bundle, data directory or node.

    With --rpc or --rpc-url it asks a running node: gettxout for each listed coin, blocks read only
    for coins spent since the bundle's height — seconds, whatever the chain's length. Without, it
    rescans the block files of --datadir read-only (the node may run; its files are not written).

    \b
    Example:
      boveda verify proof-SV.json --rpc
      boveda verify proof-SV.json --rpc-url http://journalist:PASSWORD@127.0.0.1:8332 --json
      boveda verify proof-SV.json --datadir /tmp/boveda-demo/bitcoin --network regtest --expect-total 612649985990
      boveda verify proof-SV.json proof-US-SBR.json --datadir /tmp/boveda-demo/bitcoin --network regtest
    """
    if expect_total_sat is not None and len(bundle_paths) > 1:
        raise click.UsageError("--expect-total is one reserve's published figure: verify its bundle alone")
    options = ChainOptions(datadir.expanduser(), network_name, rpc_url, use_cookie)
    bundles = [(str(path), load_bundle(path)) for path in bundle_paths]
    if len(bundles) == 1:
        verifications = (verify_proof(bundles[0][1], options, expect_total_sat=expect_total_sat),)
    else:
        verifications = verify_proofs(bundles, options)
    if as_json:
        documents = [v.report.to_json() for v in verifications]
        if len(documents) == 1:
            _echo_json(documents[0])
        else:
            _echo_json({"ok": all(v.report.ok for v in verifications),
                        "bundles": [{"bundle": name, **document} for (name, _), document in zip(bundles, documents)]})
        for verification in verifications:
            say(f"chain read from {verification.route}", err=True)
    else:
        for number, verification in enumerate(verifications):
            if number:
                say("")
            _print_report(verification, expect_total_sat)
    if not all(v.report.ok for v in verifications):
        raise SystemExit(EXIT_CHECK_FAILED)


def _print_report(verification: Verification, expect_total_sat: int | None) -> None:
    report = verification.report
    say(f"{report.holder} on {report.network.value} at height {report.height} "
        f"({report.block_hash_hex}), challenge {report.challenge!r}")
    say(f"chain read from {verification.route}")
    _table([(a.address, a.wallet or "", format_btc(a.claimed_sat),
             "?" if a.chain_sat is None else format_btc(a.chain_sat), a.proof_label, "ok" if a.ok else "FAIL")
            for a in report.addresses], ("ADDRESS", "WALLET", "BTC", "CHAIN BTC", "PROOF", "CHECK"))
    say(f"assets {format_btc(report.assets_sat)} BTC (chain {format_btc(report.chain_assets_sat)}), "
        f"liabilities {format_btc(report.liabilities_sat)} BTC, net {format_btc(report.net_sat)} BTC")
    if expect_total_sat is not None:
        say(f"published total {format_btc(expect_total_sat)} BTC: "
            + ("proved" if report.chain_assets_sat >= expect_total_sat else "NOT proved"))
    for failure in report.failures:
        say(f"FAIL {failure}")
    say(report.verdict)


def register(cli: click.Group) -> None:
    cli.add_command(prove_group)
    cli.add_command(verify_command)
