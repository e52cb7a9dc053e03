"""BIP-322 to_sign PSBTs for hardware and offline signers, and the assembly of their signatures.

The PSBT codec and the input descriptions every signing round shares, and the version 1 round (one
proof per address); funds_psbt.py writes and assembles the version 2 round (one proof of funds per
wallet). In the version 1 round, one PSBT (BIP-174, version 0) per address: the unsigned to_sign
transaction (version 0, one input spending to_spend:0 with sequence 0, one 0-sat OP_RETURN output,
locktime 0), the input's witness
UTXO (to_spend's only output: 0 sat to the address) and, for segwit v0, to_spend itself as the
non-witness UTXO that hardware signers insist on; the witness script of a multisig; and the BIP-32
derivation of every key the registered descriptor names, so a signer finds its keys.

embit writes and reads the PSBTs. Its PSBT class rewrites a transaction version 0 as 2 and an
input sequence 0 as 0xffffffff — which would change what is signed — so the two subclasses below
keep them as they are.
"""

from __future__ import annotations

import binascii
from collections.abc import Sequence
from pathlib import Path

from embit import ec
from embit.psbt import PSBT, DerivationPath, InputScope
from embit.script import Script
from embit.transaction import Transaction as EmbitTransaction
from embit.transaction import TransactionInput, TransactionOutput

from boveda.bitcoin import bip322, script
from boveda.bitcoin.hashes import hash160
from boveda.bitcoin.tx import Transaction
from boveda.book import Book
from boveda.outfiles import check_target, write_text
from boveda.proofs.bundle import ProofBundle
from boveda.proofs.challenge import ProofError
from boveda.proofs.prove import reserve_wallets
from boveda.wallets import facts_store as facts
from boveda.wallets.descriptors import Branch, ScriptForm, WalletDescriptor, parse_descriptor

PSBT_SUFFIX = ".psbt"
_TAP_KEY_SIG = b"\x13"  # PSBT_IN_TAP_KEY_SIG, which embit 0.8.0 leaves among the unknown fields


class _Input(InputScope):
    @property
    def vin(self):
        return TransactionInput(self.txid, self.vout, sequence=0xFFFFFFFF if self.sequence is None else self.sequence)


class ToSignPSBT(PSBT):
    """embit's PSBT, keeping a transaction version 0 and an input sequence 0 (BIP-322's to_sign)."""

    PSBTIN_CLS = _Input

    @property
    def tx(self):
        return self.TX_CLS(
            version=2 if self.tx_version is None else self.tx_version,
            locktime=self.locktime or 0,
            vin=[inp.vin for inp in self.inputs],
            vout=[out.vout for out in self.outputs],
        )


def embit_tx(tx: Transaction) -> EmbitTransaction:
    return EmbitTransaction.parse(tx.serialize())


def _key_origins(descriptor: WalletDescriptor, branch: int, index: int) -> list[tuple[bytes, bytes, list[int]]]:
    """(public key, master fingerprint, full path) of each key of the descriptor at (branch, index) with an origin."""
    origins = []
    for key in descriptor.keys:
        if key.extended_key is None and key.origin is None:
            continue
        public_key = key.public_keys(Branch(branch), index, index + 1)[0]
        if key.origin is None:
            continue  # without [fingerprint/path] a signer cannot be told where the key sits
        path = list(key.origin.path) + list(key.path)
        if key.multipath:
            path.append(key.multipath[branch])
        path += list(key.path_after)
        if key.is_ranged:
            path.append(index)
        origins.append((public_key, key.origin.fingerprint, path))
    return origins


def to_sign_psbt(script_pubkey: bytes, message: str, descriptor: WalletDescriptor | None = None,
                 branch: int = 0, index: int = 0) -> ToSignPSBT:
    spend = bip322.to_spend(message, script_pubkey)
    psbt = ToSignPSBT(embit_tx(bip322.to_sign(spend)))
    describe_message_input(psbt.inputs[0], spend, script_pubkey)
    describe_input(psbt.inputs[0], script_pubkey, descriptor, branch, index)
    return psbt


def describe_message_input(inp: InputScope, spend: Transaction, script_pubkey: bytes) -> None:
    """to_sign's first input: what it spends (0 sat to the address) and, for segwit v0, to_spend itself."""
    inp.witness_utxo = TransactionOutput(0, Script(script_pubkey))
    if script.classify(script_pubkey) is not script.ScriptType.P2TR:
        inp.non_witness_utxo = embit_tx(spend)


def describe_input(inp: InputScope, script_pubkey: bytes, descriptor: WalletDescriptor | None, branch: int,
                   index: int) -> None:
    """What a signer needs to find its keys for an input spending `script_pubkey`, the descriptor's script at
    (branch, index): BIP-32 derivations, a multisig's witness script, taproot's internal key."""
    if descriptor is None:
        return
    origins = _key_origins(descriptor, branch, index)
    if descriptor.form is ScriptForm.TR and origins:
        public_key, fingerprint, path = origins[0]
        internal = ec.PublicKey.from_xonly(public_key[-32:])
        inp.taproot_internal_key = internal
        inp.taproot_bip32_derivations[internal] = ([], DerivationPath(fingerprint, path))
        return
    if descriptor.form is ScriptForm.WSH_MULTI:
        keys = [k.public_keys(Branch(branch), index, index + 1)[0] for k in descriptor.keys]
        witness_script = script.multisig(descriptor.threshold, sorted(keys) if descriptor.is_sorted else keys)
        if script.p2wsh(witness_script) == script_pubkey:
            inp.witness_script = Script(witness_script)
    for public_key, fingerprint, path in origins:
        inp.bip32_derivations[ec.PublicKey.parse(public_key)] = DerivationPath(fingerprint, path)


def address_file_name(position: int, address: str) -> str:
    safe = "".join(c if c.isalnum() else "_" for c in address)
    return f"{position:04d}-{safe}{PSBT_SUFFIX}"


def write_psbts(book: Book, bundle: ProofBundle, folder: Path, *, force: bool = False) -> tuple[Path, ...]:
    """One to_sign PSBT per address of the (unsigned) bundle, base64 text in `folder`."""
    descriptors = {w.name: parse_descriptor(w.descriptor, bundle.network)
                   for w in reserve_wallets(book, bundle.reserve)}
    with book.store.read() as conn:
        locations = {script: (branch, index)
                     for script, (_, branch, index) in facts.script_locations(conn, list(descriptors)).items()}
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ProofError(f"cannot create {folder}: {exc.strerror}") from None
    message = bundle.expected_message
    paths = [folder / address_file_name(position, a.address) for position, a in enumerate(bundle.addresses)]
    for path in paths:  # all checked before any is written: a PSBT already there may hold signatures
        check_target(path, force=force)
    for path, address in zip(paths, bundle.addresses):
        descriptor = descriptors.get(address.wallet or "")
        branch, index = locations.get(address.script_pubkey, (0, 0))
        psbt = to_sign_psbt(address.script_pubkey, message, descriptor, branch, index)
        write_text(path, psbt.to_base64() + "\n", force=force)
    return tuple(paths)


def read_psbt(path: Path) -> ToSignPSBT:
    """A PSBT file as signers write it: binary, base64 or hex text."""
    data = path.read_bytes()
    try:
        if data.startswith(PSBT.MAGIC):
            return ToSignPSBT.parse(data)
        text = data.decode("ascii").strip()
        if text.startswith("70736274ff"):
            return ToSignPSBT.parse(bytes.fromhex(text))
        return ToSignPSBT.parse(binascii.a2b_base64(text))
    except Exception as exc:  # noqa: BLE001 - embit raises many kinds; all mean "not a PSBT we can read"
        raise ProofError(f"{path} is not a readable PSBT: {exc}") from None


def _witness(psbt: ToSignPSBT, script_pubkey: bytes) -> tuple[bytes, ...] | None:
    """The to_sign witness a signed PSBT provides for `script_pubkey`, or None when it is not signed enough."""
    return input_witness([psbt.inputs[0]], script_pubkey)


def input_witness(copies: Sequence[InputScope], script_pubkey: bytes) -> tuple[bytes, ...] | None:
    """The witness that spends `script_pubkey`, from one input as several signers' copies of a PSBT hold it
    (a final witness, or the partial signatures of all copies together); None when not signed enough."""
    for inp in copies:
        if inp.final_scriptwitness is not None and inp.final_scriptwitness.items:
            return tuple(bytes(item) for item in inp.final_scriptwitness.items)
    kind = script.classify(script_pubkey)
    if kind is script.ScriptType.P2TR:
        signature = next((inp.unknown[_TAP_KEY_SIG] for inp in copies if inp.unknown.get(_TAP_KEY_SIG)), None)
        return (bytes(signature),) if signature else None
    signatures = {pub.sec(): bytes(sig) for inp in copies for pub, sig in inp.partial_sigs.items()}
    witness_scripts = [inp.witness_script for inp in copies if inp.witness_script is not None]
    if kind is script.ScriptType.P2WPKH:
        for public_key, signature in signatures.items():
            if hash160(public_key) == script_pubkey[2:]:
                return (signature, public_key)
        return None
    if kind is script.ScriptType.P2WSH and witness_scripts:
        witness_script = witness_scripts[0].data
        template = bip322._multisig_template(witness_script)
        if template is None:
            return None
        required, public_keys = template
        chosen = [signatures[k] for k in public_keys if k in signatures][:required]
        return (b"", *chosen, witness_script) if len(chosen) == required else None
    return None


def finalize(bundle: ProofBundle, folder: Path) -> ProofBundle:
    """The bundle with each address's proof assembled from its signed PSBT in `folder`.

    PSBTs are matched to addresses by what they sign (to_sign spends the to_spend of one message
    and one script), not by file name. Every proof is checked before it is accepted.
    """
    if not folder.is_dir():
        raise ProofError(f"no PSBT folder at {folder}")
    message = bundle.expected_message
    wanted = {bip322.to_spend(message, a.script_pubkey).txid: a for a in bundle.addresses}
    found: dict[str, tuple[str, str]] = {}
    for path in sorted(folder.glob(f"*{PSBT_SUFFIX}")):
        psbt = read_psbt(path)
        if len(psbt.inputs) != 1:
            continue
        address = wanted.get(bytes(reversed(psbt.inputs[0].txid)))
        if address is None:
            continue  # a PSBT of another message or address
        witness = _witness(psbt, address.script_pubkey)
        if witness is None:
            continue  # not signed (enough) yet; another file may hold the signed copy
        tx = psbt.tx
        fields = (tx.version, tx.locktime, psbt.inputs[0].sequence or 0)
        spend = bip322.to_spend(message, address.script_pubkey)
        if fields == (0, 0, 0):
            proof = bip322.encode_simple(witness)
        else:
            proof = bip322.encode_full(bip322.to_sign(spend, witness, version=fields[0], locktime=fields[1],
                                                      sequence=fields[2]))
        checked = bip322.verify(address.script_pubkey, message, proof)
        if not checked.is_valid:
            raise ProofError(f"the signature in {path.name} does not prove {address.address}: {checked.detail}")
        found[address.address] = (proof, checked.proof_format.value)
    missing = [a.address for a in bundle.addresses if a.address not in found and a.proof is None]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise ProofError(f"no signed PSBT in {folder} for {missing[0]}{more}")
    return bundle.with_proofs(found)
