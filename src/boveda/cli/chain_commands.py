"""`boveda demo`: the one command that shows what Bóveda does."""

from __future__ import annotations

import datetime
import time
from pathlib import Path

import click
from rich.table import Table

from boveda.cli.demo_story import difference_line, exposure_line, planted_lines, plural
from boveda.cli.params import SafePath
from boveda.cli.render import BarProgress, btc, console
from boveda.demo import run_demo


@click.command()
@click.option(
    "--dir",
    "folder",
    type=SafePath(path_type=Path, file_okay=False),
    help="A new or empty folder to build into (default: ./boveda-demo-<timestamp>).",
)
@click.option(
    "--scenario",
    "scenario_path",
    type=SafePath(path_type=Path, dir_okay=False),
    help="A scenario TOML file (default: the shipped src/boveda/scenarios/article.toml).",
)
def demo(folder: Path | None, scenario_path: Path | None) -> None:
    """Build a scenario's regtest chain, validated block by block by Bitcoin Core's engine, and
    run the real pipeline on it.

    \b
    Example:
      boveda demo --dir /tmp/demo
    """
    started = time.monotonic()
    if folder is None:
        folder = Path.cwd() / f"boveda-demo-{datetime.datetime.now():%Y%m%d-%H%M%S}"
    console.print(f"Building into [bold]{folder}[/bold]")
    with BarProgress() as progress:
        result = run_demo(folder, scenario_path, progress)
    built = result.built
    console.print(
        f"\n[bold]{built.scenario.name}[/bold]: {built.scenario.description}\n"
        f"Chain: regtest, {result.sync_report.tip_height + 1} blocks validated by libbitcoinkernel, "
        f"tip {result.sync_report.tip_hash_hex}\nBook: {result.book_location} — "
        f"{result.audit.events_checked} audited changes\n"
    )
    table = Table(title="Wallets, registered by descriptor and synced from the block files", title_justify="left")
    for column, justify in (("wallet", "left"), ("owner", "left"), ("balance (BTC)", "right"), ("txs", "right"),
                            ("matches the builder", "center")):
        table.add_column(column, justify=justify)
    for wallet in result.wallets:
        table.add_row(wallet.name, wallet.owner, btc(wallet.balance_sat), str(wallet.transaction_count),
                      "yes" if wallet.agrees else f"NO ({btc(wallet.expected_balance_sat)})")
    console.print(table)
    console.print("  matches the builder: the balance Bóveda found by scanning the chain equals the chain builder's "
                  "own ledger of what it paid each wallet — an independent check of the sync.", highlight=False)
    _print_lots(result.lots)

    for reserve in result.reserves:
        r, exposed = reserve.reconciliation, reserve.exposure
        verdict = "[red]critical discrepancies[/red]" if r.has_critical else "[green]book matches chain[/green]"
        console.print(f"\n[bold]Reserve {reserve.code}[/bold] at height {r.height}: chain {btc(r.chain_balance_sat)} BTC, "
                      f"book {btc(r.book_balance_sat)} BTC, {plural(len(r.movements), 'movement')} — {verdict}")
        over_cap = ("no per-address cap" if exposed.address_cap_sat is None else
                    f"{btc(exposed.over_cap_sat)} BTC above the {btc(exposed.address_cap_sat)} BTC per-address cap")
        console.print(f"  exposure: {btc(exposed.revealed_sat)} BTC behind revealed keys, "
                      f"{btc(exposed.reused_sat)} BTC at reused addresses, {over_cap}")
        taproot_sat = sum(a.balance_sat for a in exposed.addresses if any("taproot" in why for why in a.reasons))
        exposure = exposure_line(exposed.revealed_sat, taproot_sat)
        if exposure:
            console.print(f"    {exposure}", highlight=False)
        planted = planted_lines(r)
        if planted:
            console.print(f"  The scenario planted {plural(len(planted), 'kind', 'kinds')} of irregularity for "
                          "reconciliation to find; what each would mean in real life:", highlight=False)
            for line in planted:
                console.print(f"    * {line}", highlight=False)
        for sentence in reserve.sentences:
            console.print(f"  - {sentence}", highlight=False)
        difference = difference_line(r)
        if difference and r.discrepancies:
            console.print(f"  = {difference}", highlight=False)
        console.print(f"  statement: {reserve.statement_path}")

    console.print("\n[bold]Proofs of reserves[/bold] (BIP-322, verified against the chain without the book):")
    for proved in result.proofs:
        verdict = "[green]verified[/green]" if proved.ok else f"[red]FAILED[/red]: {proved.report.verdict}"
        console.print(f"  {proved.code}: {plural(len(proved.bundle.addresses), 'address', 'addresses')}, "
                      f"{btc(proved.bundle.assets_sat)} BTC at height {proved.bundle.height} — {verdict} — "
                      f"{proved.bundle_path}")
        console.print(f"    check it yourself: boveda verify {proved.bundle_path} --datadir {built.datadir} "
                      f"--network regtest", highlight=False)

    audit_word = "intact" if result.audit.ok else "[red]BROKEN[/red]"
    console.print(f"\nAudit log {audit_word}; head {result.audit.head.hash_hex} (publish it: boveda audit head)")
    console.print(f"Try: boveda --book {result.book_location} reconcile --reserve SV")
    console.print(f"\nDone in {time.monotonic() - started:.1f} s. Everything is in {result.folder}")


def _print_lots(lots) -> None:
    if not lots:
        return
    table = Table(title="Custody: the seized lots and their legal state", title_justify="left")
    for column, justify in (("lot", "right"), ("case", "left"), ("amount (BTC)", "right"), ("state", "left"),
                            ("seized on", "left")):
        table.add_column(column, justify=justify)
    for lot in lots:
        table.add_row(str(lot.lot_id), lot.case_number, btc(lot.amount_sat), lot.state.value.replace("_", " "),
                      lot.seized_on.isoformat())
    console.print(table)


def register(cli: click.Group) -> None:
    cli.add_command(demo)
