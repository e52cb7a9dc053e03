"""`boveda spend propose|approve|status|finalize|cancel|broadcast` and `boveda policy set`: spend governance."""

from __future__ import annotations

from pathlib import Path

import click

from boveda.book import Book
from boveda.cli.common import FORCE_OPTION, JSON_OPTION, _echo_json, _group, _open_book, _table, done, rpc_options, say
from boveda.cli.params import BTC, LOT_ID, Checked, SafePath, whole_number
from boveda.errors import WalletError
from boveda.money import format_btc
from boveda.service.chain import ChainOptions, book_route, rpc_client
from boveda.spend.closing import broadcast, finalize
from boveda.spend.governance import approve, cancel, list_proposals, set_policy, status
from boveda.spend.model import parse_fee_rate
from boveda.spend.proposals import ProposeRequest, propose

PROPOSAL_ID = whole_number("proposal id", minimum=1, maximum=2**31 - 1)
FEE_RATE = Checked("SAT_VB", parse_fee_rate)
THRESHOLD = whole_number("threshold", minimum=1, maximum=16)
BLOCKS = whole_number("confirmation target", minimum=1, maximum=1008)


def _node(book: Book, rpc_url: str | None, use_cookie: bool, *, required: bool):
    """The node's client when one is given or remembered (None when the book reads a datadir, or none is known)."""
    try:
        route = book_route(book, ChainOptions(None, None, rpc_url, use_cookie))
    except WalletError:
        if required:
            raise
        return None
    if not route.is_rpc:
        return None
    return rpc_client(route)


@click.group("spend")
def spend_group() -> None:
    """Spend governance: no coin leaves a reserve or custody case without a policy-checked proposal, approvals
    signed by named officials (BIP-322 over the proposal's digest), cosigners' signatures and a pending entry.

    \b
    Example:
      boveda policy set reserve:US-SBR --approvers alice=02ab…,bob=03cd…,carol=02ef… --threshold 2
      boveda spend propose --from reserve:US-SBR --to bc1q… --amount 1.5 --purpose restitution \\
        --order "Restitution order, ECF 1100" --fee-rate 2 --out proposal-1.psbt
      boveda spend approve 1 --by alice --signature AkcwRAIg…
      boveda spend finalize 1 signed-a.psbt signed-b.psbt --out tx-1.hex
      boveda spend broadcast 1 --rpc
    """


@spend_group.command("propose")
@click.option("--from", "holding", required=True, metavar="reserve:CODE|custody:CASE", help="Where the coins are.")
@click.option("--to", "to_address", required=True, metavar="ADDRESS", help="Where they go.")
@click.option("--amount", "amount_sat", type=BTC, metavar="BTC", help="What the recipient receives.")
@click.option("--all", "sweep", is_flag=True, help="Send every spendable coin of the wallet, less the fee.")
@click.option("--purpose", required=True,
              help="restitution, sharing:PARTNER, release, internal, forfeiture, fee_payment or sale:EXCHANGE.")
@click.option("--order", "order_ref", metavar="REF", help="The order or agreement that authorises it (required).")
@click.option("--lot", "lot_id", type=LOT_ID, help="The custody lot whose coins move.")
@click.option("--counterparty", metavar="ACCOUNT", help="Who receives, when the purpose does not say "
              "(e.g. external:exchange:NAME).")
@click.option("--wallet", help="Spend from this wallet of the holding (default: the one whose coins cover it).")
@click.option("--fee-rate", "fee_rate", type=FEE_RATE, metavar="SAT_VB", help="Fee rate in sat/vB.")
@click.option("--fee-target", "fee_target", type=BLOCKS, metavar="BLOCKS",
              help="Ask the node's estimatesmartfee for confirmation within BLOCKS (default 6).")
@click.option("--out", "out", required=True, type=SafePath(path_type=Path, dir_okay=False), help="The PSBT file.")
@FORCE_OPTION
@rpc_options
@JSON_OPTION
@click.pass_context
def propose_command(ctx: click.Context, holding: str, to_address: str, amount_sat: int | None, sweep: bool,
                    purpose: str, order_ref: str | None, lot_id: int | None, counterparty: str | None,
                    wallet: str | None, fee_rate: int | None, fee_target: int | None, out: Path, force: bool,
                    rpc_url: str | None, use_cookie: bool, as_json: bool) -> None:
    """Propose a spend: policy checked, coins selected, an unsigned PSBT (BIP-174, with every BIP-32
    derivation) written to --out, and an audited proposal whose digest the approvers sign.

    \b
    Example:
      boveda spend propose --from reserve:US-SBR --to bc1q… --amount 1.5 --purpose restitution \\
        --order "Restitution order, ECF 1100" --fee-rate 2 --out proposal-1.psbt
    """
    if (amount_sat is None) == (not sweep):
        raise click.UsageError("give --amount BTC or --all")
    if fee_rate is not None and fee_target is not None:
        raise click.UsageError("give --fee-rate or --fee-target, not both")
    with _open_book(ctx) as book:
        node = _node(book, rpc_url, use_cookie, required=False)
        result = propose(book, ProposeRequest(holding, to_address, amount_sat, purpose, order_ref, out, lot_id,
                                              fee_rate, fee_target, counterparty, wallet, force), node)
    _say_proposed(result, as_json)


def _say_proposed(result, as_json: bool) -> None:
    """What `spend propose` and `audit anchor` print of the proposal they made."""
    if as_json:
        _echo_json({"proposal_id": result.proposal_id, "wallet": result.wallet, "amount_sat": result.amount_sat,
                    "fee_sat": result.fee_sat, "change_sat": result.change_sat, "inputs": result.inputs,
                    "unsigned_txid": result.unsigned_txid, "digest": result.digest, "psbt": str(result.out)})
        return
    say(f"proposal {result.proposal_id}: {format_btc(result.amount_sat)} BTC from wallet {result.wallet} "
        f"({result.inputs} inputs, {result.algorithm}), fee {result.fee_sat} sat, change "
        f"{format_btc(result.change_sat)} BTC")
    say(f"unsigned txid {result.unsigned_txid}")
    say(f"digest {result.digest}  (approvers sign this with BIP-322)")
    say(f"PSBT written to {result.out}")


@spend_group.command("approve")
@click.argument("proposal_id", metavar="ID", type=PROPOSAL_ID)
@click.option("--by", "by", required=True, metavar="NAME", help="The approver, as the holding's policy names them.")
@click.option("--signature", required=True, metavar="SIG", help="Their BIP-322 signature of the proposal's digest.")
@JSON_OPTION
@click.pass_context
def approve_command(ctx: click.Context, proposal_id: int, by: str, signature: str, as_json: bool) -> None:
    """Approve proposal ID: a BIP-322 signature by NAME's key over the proposal's digest (audited).

    \b
    Example:
      boveda spend approve 1 --by alice --signature AkcwRAIg…
    """
    with _open_book(ctx) as book:
        approval = approve(book, proposal_id, by, signature)
        view = status(book, proposal_id)
    threshold = view.policy.threshold if view.policy else None
    done(as_json, {"proposal_id": proposal_id, "approver": approval.approver, "approvals": len(view.counted),
                   "threshold": threshold},
         f"proposal {proposal_id} approved by {approval.approver} ({len(view.counted)} of {threshold or '?'})")


@spend_group.command("status")
@click.argument("proposal_id", metavar="ID", type=PROPOSAL_ID, required=False)
@JSON_OPTION
@click.pass_context
def status_command(ctx: click.Context, proposal_id: int | None, as_json: bool) -> None:
    """Show proposal ID — its state, digest, who approved and who signed — or list every proposal.

    \b
    Example:
      boveda spend status 1
      boveda spend status --json
    """
    with _open_book(ctx) as book:
        if proposal_id is None:
            records = list_proposals(book)
            if as_json:
                _echo_json({"proposals": [status(book, r.proposal_id).to_json() for r in records]})
                return
            _table([(str(r.proposal_id), r.state.value, r.holding, r.purpose, format_btc(r.amount_sat),
                     r.unsigned_txid) for r in records], ("ID", "STATE", "HOLDING", "PURPOSE", "BTC", "TXID"))
            return
        view = status(book, proposal_id)
    if as_json:
        _echo_json(view.to_json())
        return
    p = view.proposal
    say(f"proposal {p.proposal_id}: {p.state.value}; {format_btc(p.amount_sat)} BTC from {p.holding} "
        f"(wallet {p.wallet}) to {p.counterparty} for {p.purpose}, order {p.order_ref!r}, fee {p.fee_sat} sat")
    say(f"unsigned txid {p.unsigned_txid}")
    say(f"digest {p.digest}")
    threshold = view.policy.threshold if view.policy else "?"
    say(f"approvals: {len(view.counted)} of {threshold}")
    for a in view.approvals:
        say(f"  {a.approver} ({a.public_key}) at {a.approved_at}{'' if a in view.counted else ' (not counted)'}")
    for index, fingerprints in p.signers:
        say(f"  input {index} signed by {', '.join(fingerprints)}")
    if p.closed_by:
        say(f"cancelled by {p.closed_by}")


@spend_group.command("finalize")
@click.argument("proposal_id", metavar="ID", type=PROPOSAL_ID)
@click.argument("psbts", metavar="PSBT…", nargs=-1, required=True, type=SafePath(path_type=Path, dir_okay=False))
@click.option("--out", type=SafePath(path_type=Path, dir_okay=False), help="Also write the final transaction's hex.")
@FORCE_OPTION
@JSON_OPTION
@click.pass_context
def finalize_command(ctx: click.Context, proposal_id: int, psbts: tuple[Path, ...], out: Path | None,
                     force: bool, as_json: bool) -> None:
    """Combine the cosigners' signed PSBTs into the approved transaction: every signature checked, any PSBT
    whose transaction differs refused, each input's signers recorded, and the pending entry booked.

    \b
    Example:
      boveda spend finalize 1 signed-a.psbt signed-b.psbt --out tx-1.hex
    """
    with _open_book(ctx) as book:
        result = finalize(book, proposal_id, list(psbts), out=out, force=force)
    if as_json:
        _echo_json({"proposal_id": proposal_id, "txid": result.txid, "entry": str(result.entry),
                    "signers": {str(index): list(fingerprints) for index, fingerprints in result.signers},
                    "out": None if out is None else str(out)})
        return
    say(f"proposal {proposal_id} finalized: txid {result.txid}; {result.entry}")
    for index, fingerprints in result.signers:
        say(f"  input {index} signed by {', '.join(fingerprints)}")
    if out is not None:
        say(f"transaction written to {out}")


@spend_group.command("cancel")
@click.argument("proposal_id", metavar="ID", type=PROPOSAL_ID)
@click.option("--by", "by", required=True, metavar="NAME", help="Who cancels it (kept in the audit log).")
@click.option("--reason", required=True, help="Why.")
@JSON_OPTION
@click.pass_context
def cancel_command(ctx: click.Context, proposal_id: int, by: str, reason: str, as_json: bool) -> None:
    """Cancel proposal ID before it is broadcast (audited).

    \b
    Example:
      boveda spend cancel 1 --by "M. Ortiz" --reason "order stayed on appeal"
    """
    with _open_book(ctx) as book:
        cancel(book, proposal_id, by, reason)
    done(as_json, {"proposal_id": proposal_id, "state": "cancelled"}, f"proposal {proposal_id} cancelled")


@spend_group.command("broadcast")
@click.argument("proposal_id", metavar="ID", type=PROPOSAL_ID)
@click.option("--print", "print_only", is_flag=True, help="Print the transaction's hex instead of sending it.")
@rpc_options
@JSON_OPTION
@click.pass_context
def broadcast_command(ctx: click.Context, proposal_id: int, print_only: bool, rpc_url: str | None,
                      use_cookie: bool, as_json: bool) -> None:
    """Send finalized proposal ID through the node (sendrawtransaction; audited), or print its hex.

    \b
    Example:
      boveda spend broadcast 1 --rpc
      boveda spend broadcast 1 --print
    """
    with _open_book(ctx) as book:
        node = None if print_only else _node(book, rpc_url, use_cookie, required=True)
        if not print_only and node is None:
            raise WalletError("broadcasting needs a running node: pass --rpc-url URL or --rpc, or use --print")
        result = broadcast(book, proposal_id, node)
    if as_json:
        _echo_json({"proposal_id": proposal_id, "txid": result.txid, "sent": result.sent,
                    "tx_hex": None if result.sent else result.tx_hex})
    elif result.sent:
        say(f"proposal {proposal_id} broadcast: txid {result.txid}")
    else:
        click.echo(result.tx_hex)


@click.command("set")
@click.argument("holding", metavar="reserve:CODE|custody:CASE")
@click.option("--approvers", required=True, metavar="NAME=PUBKEY,…",
              help="Each official's name and public key (compressed hex: P2WPKH; x-only hex: P2TR).")
@click.option("--threshold", required=True, type=THRESHOLD, help="How many approvals a spend needs.")
@JSON_OPTION
@click.pass_context
def policy_set_command(ctx: click.Context, holding: str, approvers: str, threshold: int, as_json: bool) -> None:
    """Set HOLDING's approval policy (audited): who approves its spends, and how many must.

    \b
    Example:
      boveda policy set reserve:US-SBR --approvers alice=02ab…,bob=03cd…,carol=02ef… --threshold 2
    """
    with _open_book(ctx) as book:
        policy = set_policy(book, holding, approvers, threshold)
    done(as_json, {"holding": policy.holding, "threshold": policy.threshold,
                   "approvers": [{"name": name, "public_key": key} for name, key in policy.approvers]},
         f"{policy.holding}: {policy.threshold} of {len(policy.approvers)} approvals "
         f"({', '.join(name for name, _ in policy.approvers)})")


def register(cli: click.Group) -> None:
    cli.add_command(spend_group)
    _group(cli, "policy", "Approval policies of holdings: who approves their spends.").add_command(policy_set_command)
