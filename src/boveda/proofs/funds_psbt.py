"""One signing round per wallet: a BIP-322 proof-of-funds PSBT for each wallet of a bundle, and their
assembly into the bundle's proofs of funds.

A wallet's PSBT (BIP-174 version 0) holds the unsigned to_sign of the bundle's message for the
wallet's first funded address — version 0, locktime 0, input 0 spending to_spend:0 — with one further
input per coin the bundle lists for the wallet (sequence 0 throughout) and one 0-sat OP_RETURN
output. Every input carries its witness UTXO (to_spend's 0-sat output, then each coin's script and
value), the BIP-32 derivations of the keys that sign it and a multisig's witness script; input 0 also
carries to_spend as its non-witness UTXO. A signer signs every input in one go, however many coins.

Each cosigner may sign a copy (any file names in the folder): finalize matches copies to a wallet by
what input 0 spends, joins their partial signatures input by input, and checks the proof before it
is accepted — against the coins the bundle lists; `boveda verify` checks them against its own chain.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from embit.script import Script
from embit.transaction import TransactionOutput

from boveda.bitcoin import bip322
from boveda.bitcoin.bip322.transactions import TO_SIGN_OUTPUT
from boveda.bitcoin.tx import OutPoint, Transaction, TxIn, TxOut
from boveda.book import Book
from boveda.book.domain import Account
from boveda.outfiles import check_target, write_text
from boveda.proofs.bundle import FUNDS_FORMAT, FundsProof, ProofBundle, ProvenUtxo
from boveda.proofs.challenge import ProofError
from boveda.proofs.funds import Coin, coin_of, decode_to_sign, verify_funds
from boveda.proofs.prove import reserve_wallets
from boveda.proofs.psbt import (
    PSBT_SUFFIX,
    ToSignPSBT,
    address_file_name,
    describe_input,
    describe_message_input,
    embit_tx,
    finalize,
    input_witness,
    read_psbt,
    write_psbts,
)
from boveda.wallets import facts_store as facts
from boveda.wallets.descriptors import WalletDescriptor, parse_descriptor


def wallet_coins(bundle: ProofBundle, funds: FundsProof) -> tuple[tuple[ProvenUtxo, bytes], ...]:
    """The coins (and their scripts) the bundle lists for the wallet of `funds`, in bundle order."""
    return tuple((utxo, a.script_pubkey) for a in bundle.addresses if a.wallet == funds.wallet for utxo in a.utxos)


def unsigned_to_sign(bundle: ProofBundle, funds: FundsProof) -> Transaction:
    spend = bip322.to_spend(bundle.expected_message, funds.script_pubkey)
    inputs = [TxIn(OutPoint(spend.txid, 0), b"", 0)]
    inputs += [TxIn(OutPoint(bytes.fromhex(u.txid_hex)[::-1], u.vout), b"", 0) for u, _ in wallet_coins(bundle, funds)]
    return Transaction(version=0, inputs=tuple(inputs), outputs=(TO_SIGN_OUTPUT,), locktime=0)


def funds_psbt(bundle: ProofBundle, funds: FundsProof, descriptor: WalletDescriptor | None = None,
               locations: dict[bytes, tuple[int, int]] | None = None) -> ToSignPSBT:
    """The wallet's proof-of-funds PSBT; `locations` gives each script's (branch, index) in `descriptor`."""
    locations = locations or {}
    psbt = ToSignPSBT(embit_tx(unsigned_to_sign(bundle, funds)))
    spend = bip322.to_spend(bundle.expected_message, funds.script_pubkey)
    describe_message_input(psbt.inputs[0], spend, funds.script_pubkey)
    scripts = [funds.script_pubkey]
    for inp, (utxo, script_pubkey) in zip(psbt.inputs[1:], wallet_coins(bundle, funds)):
        inp.witness_utxo = TransactionOutput(utxo.value_sat, Script(script_pubkey))
        scripts.append(script_pubkey)
    for inp, script_pubkey in zip(psbt.inputs, scripts):
        if script_pubkey in locations:  # never a guessed derivation: a signer would look for the wrong keys
            describe_input(inp, script_pubkey, descriptor, *locations[script_pubkey])
    return psbt


def psbt_paths(bundle: ProofBundle, folder: Path) -> tuple[Path, ...]:
    """Where `write_signing_psbts` writes: one file per wallet (v2), else one per address."""
    if bundle.funds_proofs:
        return tuple(folder / f"{funds.wallet or f'wallet-{n}'}{PSBT_SUFFIX}"
                     for n, funds in enumerate(bundle.funds_proofs))
    return tuple(folder / address_file_name(n, a.address) for n, a in enumerate(bundle.addresses))


def check_psbt_folder(folder: Path, *, force: bool = False) -> None:
    """Refuses a folder that already holds PSBTs (they may carry signatures), unless `force`."""
    if folder.exists() and not folder.is_dir():
        raise ProofError(f"{folder} is not a folder: --psbt-dir names a folder for the PSBTs")
    held = sorted(folder.glob(f"*{PSBT_SUFFIX}")) if folder.is_dir() else []
    if held and not force:
        more = f" and {len(held) - 1} more" if len(held) > 1 else ""
        raise ProofError(f"{folder} already holds PSBTs ({held[0].name}{more}), which may be signed: choose an "
                         "empty folder, or pass --force to write over them")


def write_signing_psbts(book: Book, bundle: ProofBundle, folder: Path, *, force: bool = False) -> tuple[Path, ...]:
    """The PSBTs of the bundle's signing round in `folder`: one per wallet for a bundle of proofs of funds,
    one per address otherwise. Nothing is written when the folder already holds PSBTs (unless `force`)."""
    check_psbt_folder(folder, force=force)
    if not bundle.funds_proofs:
        return write_psbts(book, bundle, folder, force=force)
    holding = Account.reserve(bundle.reserve) if bundle.custody is None else Account.custody(bundle.custody)
    wallets = {w.name: w for w in reserve_wallets(book, holding)}
    with book.store.read() as conn:
        locations = {script: (branch, index)
                     for script, (_, branch, index) in facts.script_locations(conn, list(wallets)).items()}
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ProofError(f"cannot create {folder}: {exc.strerror}") from None
    paths = psbt_paths(bundle, folder)
    for path in paths:  # all checked before any is written
        check_target(path, force=force)
    for path, funds in zip(paths, bundle.funds_proofs):
        wallet = wallets.get(funds.wallet or "")
        descriptor = parse_descriptor(wallet.descriptor, bundle.network) if wallet is not None else None
        write_text(path, funds_psbt(bundle, funds, descriptor, locations).to_base64() + "\n", force=force)
    return paths


def finalize_bundle(bundle: ProofBundle, folder: Path) -> ProofBundle:
    """The bundle with its proofs from the signed PSBTs in `folder`: per wallet or per address, as it asks."""
    if not bundle.funds_proofs:
        return finalize(bundle, folder)
    if not folder.is_dir():
        raise ProofError(f"no PSBT folder at {folder}")
    message = bundle.expected_message
    wanted = {bip322.to_spend(message, f.script_pubkey).txid: f for f in bundle.funds_proofs if f.proof is None}
    copies: dict[tuple[bytes, bytes], list[tuple[Path, ToSignPSBT]]] = defaultdict(list)
    for path in sorted(folder.glob(f"*{PSBT_SUFFIX}")):
        psbt = read_psbt(path)
        if not psbt.inputs or bytes(reversed(psbt.inputs[0].txid)) not in wanted:
            continue  # a PSBT of another message, address or bundle
        funds = wanted[bytes(reversed(psbt.inputs[0].txid))]
        expected = unsigned_to_sign(bundle, funds)
        spent = [(bytes(reversed(inp.txid)), inp.vout) for inp in psbt.inputs]
        if spent != [(txin.prevout.txid, txin.prevout.vout) for txin in expected.inputs]:
            raise ProofError(f"{path.name} spends other coins than the bundle lists for wallet {funds.wallet}: sign "
                             "the PSBT boveda prove wrote for this bundle")
        copies[(funds.script_pubkey, psbt.tx.serialize())].append((path, psbt))
    proofs: dict[bytes, str] = {}
    for (script_pubkey, _unsigned), signed in copies.items():
        if script_pubkey in proofs:
            continue
        proof = _assemble(bundle, wanted[bip322.to_spend(message, script_pubkey).txid], signed)
        if proof is not None:
            proofs[script_pubkey] = proof
    missing = [f for f in wanted.values() if f.script_pubkey not in proofs]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise ProofError(f"no signed PSBT in {folder} for wallet {missing[0].wallet} ({missing[0].address}){more}")
    return _with_funds_proofs(bundle, proofs)


def _assemble(bundle: ProofBundle, funds: FundsProof, signed: list[tuple[Path, ToSignPSBT]]) -> str | None:
    """The proof of funds the copies of one PSBT sign together, checked; None when not signed enough yet."""
    coins = wallet_coins(bundle, funds)
    scripts = [funds.script_pubkey] + [script_pubkey for _, script_pubkey in coins]
    witnesses = []
    for position, script_pubkey in enumerate(scripts):
        witness = input_witness([psbt.inputs[position] for _, psbt in signed], script_pubkey)
        if witness is None:
            return None
        witnesses.append(witness)
    tx = signed[0][1].tx
    unsigned = Transaction.parse(tx.serialize())
    to_sign = Transaction(unsigned.version, tuple(TxIn(txin.prevout, b"", txin.sequence, witness)
                                                  for txin, witness in zip(unsigned.inputs, witnesses)),
                          unsigned.outputs, unsigned.locktime)
    proof = bip322.encode_full(to_sign)
    prevouts: dict[Coin, TxOut] = {(u.txid_hex, u.vout): TxOut(u.value_sat, s) for u, s in coins}
    checked = verify_funds(funds.script_pubkey, bundle.expected_message, proof, prevouts)
    if not checked.is_valid:
        names = ", ".join(path.name for path, _ in signed)
        raise ProofError(f"the signatures in {names} do not prove the funds of wallet {funds.wallet}: {checked.detail}")
    return proof


def _with_funds_proofs(bundle: ProofBundle, proofs: dict[bytes, str]) -> ProofBundle:
    funds_proofs = tuple(replace(f, proof=proofs.get(f.script_pubkey, f.proof)) for f in bundle.funds_proofs)
    covered: set[Coin] = set()
    for funds in funds_proofs:
        if funds.proof is not None:
            covered |= {coin_of(txin.prevout) for txin in decode_to_sign(funds.proof).inputs[1:]}
    addresses = tuple(
        replace(a, proof_format=FUNDS_FORMAT) if a.proof is None and a.utxos
        and all((u.txid_hex, u.vout) in covered for u in a.utxos) else a
        for a in bundle.addresses
    )
    return replace(bundle, funds_proofs=funds_proofs, addresses=addresses)
