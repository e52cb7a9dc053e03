"""`boveda audit anchor`: propose the transaction that commits the audit head on chain (an OP_RETURN)."""

from __future__ import annotations

from pathlib import Path

import click

from boveda.cli.common import FORCE_OPTION, JSON_OPTION, _echo_json, _group, _open_book, rpc_options, say
from boveda.cli.params import SafePath
from boveda.cli.spend_commands import BLOCKS, FEE_RATE, _node
from boveda.money import format_btc
from boveda.spend.anchor import AnchorRequest, propose_anchor


@click.command("anchor", short_help="Propose the transaction that commits the audit head on chain (OP_RETURN).")
@click.option("--wallet", required=True, metavar="W", help="The reserve's wallet that pays the fee (and gets the "
              "change).")
@click.option("--fee-rate", "fee_rate", type=FEE_RATE, metavar="SAT_VB", help="Fee rate in sat/vB.")
@click.option("--fee-target", "fee_target", type=BLOCKS, metavar="BLOCKS",
              help="Ask the node's estimatesmartfee for confirmation within BLOCKS (default 6).")
@click.option("--order", "order_ref", metavar="REF",
              help="The standing order the anchoring follows (default: \"audit anchor of event SEQ\").")
@click.option("--out", "out", required=True, type=SafePath(path_type=Path, dir_okay=False), help="The PSBT file.")
@FORCE_OPTION
@rpc_options
@JSON_OPTION
@click.pass_context
def audit_anchor(ctx: click.Context, wallet: str, fee_rate: int | None, fee_target: int | None,
                 order_ref: str | None, out: Path, force: bool, rpc_url: str | None, use_cookie: bool,
                 as_json: bool) -> None:
    """Propose a transaction from reserve wallet W whose 0-sat OP_RETURN output commits the audit head
    (b"BVDA", version 1, the head's seq and hash), change back to W; then approve, sign, finalize and
    broadcast it as any spend. `audit verify --anchors` finds it on chain later and checks the log still
    holds that head: a rewritten history is caught with no head kept anywhere else.

    Anchors are paid only from a reserve's wallets, one open at a time (cancel or confirm the last first).

    \b
    Example:
      boveda audit anchor --wallet sv-hot --fee-rate 2 --out anchor.psbt --rpc
      boveda spend approve 7 --by alice --signature AkcwRAIg…
      boveda spend finalize 7 signed-a.psbt signed-b.psbt && boveda spend broadcast 7 --rpc
    """
    if fee_rate is not None and fee_target is not None:
        raise click.UsageError("give --fee-rate or --fee-target, not both")
    with _open_book(ctx) as book:
        node = _node(book, rpc_url, use_cookie, required=False)
        result = propose_anchor(book, AnchorRequest(wallet, out, fee_rate, fee_target, order_ref, force), node)
    if as_json:
        _echo_json({"proposal_id": result.proposal_id, "seq": result.payload.seq, "hash": result.payload.head_hex,
                    "wallet": result.wallet, "fee_sat": result.fee_sat, "change_sat": result.change_sat,
                    "unsigned_txid": result.unsigned_txid, "digest": result.digest, "psbt": str(result.out)})
        return
    say(f"anchor proposal {result.proposal_id}: event {result.payload.seq} (hash {result.payload.head_hex}) in an "
        f"OP_RETURN, from wallet {result.wallet} ({result.inputs} input{'s' * (result.inputs != 1)}), fee {result.fee_sat} sat, change "
        f"{format_btc(result.change_sat)} BTC")
    say(f"unsigned txid {result.unsigned_txid}")
    say(f"digest {result.digest}  (approvers sign this with BIP-322)")
    say(f"PSBT written to {result.out}")
    say(f"next: boveda spend approve {result.proposal_id} --by NAME --signature SIG, then spend finalize and "
        "spend broadcast")


def register(cli: click.Group) -> None:
    _group(cli, "audit", "The hash-chained audit log of every change to the book.").add_command(audit_anchor)
