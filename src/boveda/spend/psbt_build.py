"""The proposal's PSBT (BIP-174, version 0), written by embit, and how a signed one is read back.

Every input carries its witness UTXO and, for segwit v0, the whole previous transaction (hardware
signers check amounts against it); the BIP-32 derivation (fingerprint + path) of each of its keys;
a multisig's witness script; a taproot input's internal key and its BIP-371 derivation. The change
output carries the same, so a signer can see the change comes back to the wallet. Bitcoin Core,
Sparrow, Coldcard, Jade and HWI all sign from exactly these fields.
"""

from __future__ import annotations

import binascii
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from embit import ec
from embit.psbt import PSBT, DerivationPath
from embit.script import Script
from embit.transaction import Transaction as EmbitTransaction
from embit.transaction import TransactionInput, TransactionOutput

from boveda.bitcoin import script
from boveda.bitcoin.tx import Transaction
from boveda.proofs.psbt import _key_origins
from boveda.spend.errors import SpendError
from boveda.spend.model import Output, Utxo
from boveda.wallets.descriptors import Branch, ScriptForm, WalletDescriptor

SEQUENCE = 0xFFFFFFFD  # final for locktime purposes, and signals BIP-125 replaceability
SUPPORTED_FORMS = (ScriptForm.WPKH, ScriptForm.WSH_MULTI, ScriptForm.TR)


def input_weight(descriptor: WalletDescriptor) -> int:
    """Weight of one signed input of the wallet (an upper bound: 72-byte ECDSA signatures)."""
    if descriptor.form is ScriptForm.WPKH:
        return 4 * 41 + (1 + 1 + 72 + 1 + 33)
    if descriptor.form is ScriptForm.TR:
        return 4 * 41 + (1 + 1 + 64)
    if descriptor.form is ScriptForm.WSH_MULTI and descriptor.threshold:
        script_len = 3 + 34 * len(descriptor.keys)
        length_prefix = 1 if script_len < 253 else 3
        return 4 * 41 + (1 + 1 + descriptor.threshold * (1 + 72) + length_prefix + script_len)
    raise SpendError(f"spending from a {descriptor.form.value} wallet is not supported: "
                     "proposals spend wpkh, wsh(multi|sortedmulti) and tr(KEY) wallets")


def witness_script(descriptor: WalletDescriptor, branch: int, index: int) -> bytes | None:
    if descriptor.form is not ScriptForm.WSH_MULTI:
        return None
    keys = [k.public_keys(Branch(branch), index, index + 1)[0] for k in descriptor.keys]
    return script.multisig(descriptor.threshold or 0, sorted(keys) if descriptor.is_sorted else keys)


def _describe(scope, descriptor: WalletDescriptor, branch: int, index: int) -> None:
    """The derivation fields of one input or output scope."""
    origins = _key_origins(descriptor, branch, index)
    if descriptor.form is ScriptForm.TR:
        public_key = descriptor.keys[0].public_keys(Branch(branch), index, index + 1)[0]
        internal = ec.PublicKey.from_xonly(public_key[-32:])
        scope.taproot_internal_key = internal
        for _, fingerprint, path in origins:
            scope.taproot_bip32_derivations[internal] = ([], DerivationPath(fingerprint, path))
        return
    ws = witness_script(descriptor, branch, index)
    if ws is not None:
        scope.witness_script = Script(ws)
    for public_key, fingerprint, path in origins:
        scope.bip32_derivations[ec.PublicKey.parse(public_key)] = DerivationPath(fingerprint, path)


def build_psbt(descriptor: WalletDescriptor, coins: Sequence[Utxo], outputs: Sequence[Output],
               previous_txs: Mapping[bytes, bytes], change_location: tuple[int, int] | None) -> PSBT:
    """The unsigned PSBT spending ``coins`` to ``outputs``; ``previous_txs`` by txid (internal order)."""
    tx = EmbitTransaction(
        version=2,
        vin=[TransactionInput(c.txid[::-1], c.vout, sequence=SEQUENCE) for c in coins],
        vout=[TransactionOutput(o.value_sat, Script(o.script_pubkey)) for o in outputs],
        locktime=0,
    )
    psbt = PSBT(tx)
    segwit_v0 = descriptor.form is not ScriptForm.TR
    for scope, coin in zip(psbt.inputs, coins):
        scope.witness_utxo = TransactionOutput(coin.value_sat, Script(coin.script_pubkey))
        if segwit_v0:
            raw = previous_txs.get(coin.txid)
            if raw is None:
                raise SpendError(f"the previous transaction of {coin.outpoint} is needed in the PSBT (signers check "
                                 "segwit v0 amounts against it): give a running node with --rpc-url or --rpc")
            scope.non_witness_utxo = EmbitTransaction.parse(raw)
        _describe(scope, descriptor, coin.branch, coin.index)
    for scope, output in zip(psbt.outputs, outputs):
        if output.is_change and change_location is not None:
            _describe(scope, descriptor, *change_location)
    return psbt


def unsigned_transaction(psbt: PSBT) -> Transaction:
    """The PSBT's transaction as the bitcoin layer's value type (no witnesses)."""
    return Transaction.parse(psbt.tx.serialize())


def vsize(weight: int) -> int:
    return math.ceil(weight / 4)


def parse_psbt(data: bytes, where: str) -> PSBT:
    """A PSBT as signers write it: binary, base64 or hex text."""
    try:
        if data.startswith(PSBT.MAGIC):
            return PSBT.parse(data)
        text = data.decode("ascii").strip()
        if text.startswith("70736274ff"):
            return PSBT.parse(bytes.fromhex(text))
        return PSBT.parse(binascii.a2b_base64(text))
    except Exception as exc:  # noqa: BLE001 - embit raises many kinds; all mean "not a PSBT we can read"
        raise SpendError(f"{where} is not a readable PSBT: {exc}") from None


def read_psbt_file(path: Path) -> PSBT:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SpendError(f"cannot read {path}: {exc.strerror}") from None
    return parse_psbt(data, str(path))
