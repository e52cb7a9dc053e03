"""The live route of `boveda verify`: a bundle's coins checked against a running node, not rescanned.

The bundle's block must be the node's active block at its height. Each listed coin that
`gettxout` finds unspent now, with the listed value and script, created at or before the height,
was unspent at the height. Only coins spent since are looked for in blocks: those from the height
to the tip, read through RpcSource, and the block the coin claims to be made in. The answer is the
same ChainFacts the datadir route gives, so `verify.check` names the same failures.

This route checks the coins a bundle lists; it does not search for coins the bundle leaves out
(the datadir route's "on chain but not listed"), which a proof of *at least* those coins allows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from boveda.bitcoin.block import Block
from boveda.chain.rpc import RpcSource
from boveda.chain.rpc_client import sat_from_btc
from boveda.proofs.bundle import ProofBundle, ProvenUtxo
from boveda.proofs.verify import ChainFacts, VerificationReport, check

_Coin = tuple[bytes, int]  # (txid in internal byte order, vout)


def live_chain_facts(bundle: ProofBundle, source: RpcSource,
                     on_block: Callable[[int], None] | None = None) -> ChainFacts:
    """What the node says of the bundle's listed coins at its height (per script: those proved unspent then)."""
    tip = source.tip()
    start = bundle.scan_from_height
    if bundle.height > tip.height:
        return ChainFacts(tip.height, None, {}, start, None)
    block_hash_hex = source.hash_at(bundle.height)[::-1].hex()
    if start > bundle.height:
        return ChainFacts(tip.height, block_hash_hex, {}, start, None)
    listed = {(bytes.fromhex(u.txid_hex)[::-1], u.vout): (a.script_pubkey, u) for a in bundle.addresses
              for u in a.utxos}
    proved: dict[bytes, set[ProvenUtxo]] = defaultdict(set)
    spent_since = _unspent_now(bundle, source, listed, proved)
    if spent_since:
        _spent_after_height(bundle, source, tip.height, spent_since, proved, on_block)
    return ChainFacts(tip.height, block_hash_hex, {s: frozenset(u) for s, u in proved.items()}, start, bundle.height)


def _unspent_now(bundle: ProofBundle, source: RpcSource, listed: dict[_Coin, tuple[bytes, ProvenUtxo]],
                 proved: dict[bytes, set[ProvenUtxo]]) -> dict[_Coin, tuple[bytes, ProvenUtxo]]:
    """Proves the listed coins `gettxout` finds unspent; returns those it does not (spent since, or never)."""
    coins = list(listed)
    answers = source.client.batch(("gettxout", (txid[::-1].hex(), vout, False)) for txid, vout in coins)
    heights: dict[str, int] = {}  # the tip each answer counted confirmations from
    not_unspent = {}
    for coin, answer in zip(coins, answers):
        script, utxo = listed[coin]
        if answer is None:
            not_unspent[coin] = listed[coin]
            continue
        best = answer["bestblock"]
        if best not in heights:
            heights[best] = source.client.getblockheader(bytes.fromhex(best)[::-1])["height"]
        made_at = heights[best] - answer["confirmations"] + 1
        value_sat = sat_from_btc(answer["value"])
        if bytes.fromhex(answer["scriptPubKey"]["hex"]) == script and bundle.scan_from_height <= made_at <= bundle.height:
            proved[script].add(ProvenUtxo(utxo.txid_hex, utxo.vout, value_sat, made_at))
    return not_unspent


def _spent_after_height(bundle: ProofBundle, source: RpcSource, tip_height: int,
                        candidates: dict[_Coin, tuple[bytes, ProvenUtxo]], proved: dict[bytes, set[ProvenUtxo]],
                        on_block: Callable[[int], None] | None) -> None:
    """Proves the candidates spent in blocks height+1..tip and made at their listed height (at or below it)."""
    spent: dict[_Coin, tuple[bytes, int]] = {}  # coin -> (script, value) as its spending block's prevouts say
    made_after: set[_Coin] = set()
    for spent_block in source.blocks(bundle.height + 1, tip_height) if bundle.height < tip_height else ():
        for tx_index, tx in enumerate(spent_block.block.transactions):
            txid = None
            if tx_index:
                for txin, prevout in zip(tx.inputs, spent_block.prevouts[tx_index - 1]):
                    coin = (txin.prevout.txid, txin.prevout.vout)
                    if coin in candidates and coin not in made_after:
                        spent[coin] = (prevout.script_pubkey, prevout.value_sat)
            for vout in range(len(tx.outputs)):
                txid = txid or tx.txid
                if (txid, vout) in candidates:
                    made_after.add((txid, vout))
        if on_block:
            on_block(spent_block.height)
    for coin, (script, value_sat) in spent.items():
        listed_script, utxo = candidates[coin]
        if script != listed_script or not bundle.scan_from_height <= utxo.height <= bundle.height:
            continue
        if _made_in_block(source, utxo.height, coin, script, value_sat):
            proved[script].add(ProvenUtxo(utxo.txid_hex, utxo.vout, value_sat, utxo.height))


def _made_in_block(source: RpcSource, height: int, coin: _Coin, script: bytes, value_sat: int) -> bool:
    """Whether the block at `height` holds transaction coin[0] with that output."""
    (raw,) = source.raw_blocks(height, height)
    for tx in Block.parse(raw.block).transactions:
        if tx.txid == coin[0]:
            return coin[1] < len(tx.outputs) and (tx.outputs[coin[1]].script_pubkey,
                                                   tx.outputs[coin[1]].value_sat) == (script, value_sat)
    return False


def verify_live(bundle: ProofBundle, source: RpcSource, on_block: Callable[[int], None] | None = None, *,
                expect_total_sat: int | None = None) -> VerificationReport:
    """`bundle` checked against the running node behind `source` (whose network must be the bundle's)."""
    return check(bundle, live_chain_facts(bundle, source, on_block), expect_total_sat=expect_total_sat)
