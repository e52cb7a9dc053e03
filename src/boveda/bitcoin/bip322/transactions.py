"""BIP-322's two virtual transactions: to_spend, whose output commits to the message, and to_sign, which spends it."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence

from boveda.bitcoin import script
from boveda.bitcoin.tx import NULL_TXID, OutPoint, Transaction, TxIn, TxOut

MESSAGE_TAG = "BIP0322-signed-message"
TO_SIGN_SCRIPT_PUBKEY = bytes((script.OP_RETURN,))
TO_SIGN_OUTPUT = TxOut(0, TO_SIGN_SCRIPT_PUBKEY)

_MESSAGE_TAG_PREFIX = hashlib.sha256(MESSAGE_TAG.encode()).digest() * 2


def message_bytes(message: str | bytes) -> bytes:
    return message.encode("utf-8") if isinstance(message, str) else bytes(message)


@functools.lru_cache(maxsize=256)
def _message_hash(message: bytes) -> bytes:
    # Cached: a reserve's proofs all sign one challenge.
    return hashlib.sha256(_MESSAGE_TAG_PREFIX + message).digest()


def message_hash(message: str | bytes) -> bytes:
    """BIP-340 tagged hash of `message` (UTF-8 if text) with tag BIP0322-signed-message."""
    return _message_hash(message_bytes(message))


def to_spend(message: str | bytes, script_pubkey: bytes) -> Transaction:
    """The virtual transaction whose only output, paying `script_pubkey`, commits to `message`."""
    return Transaction(
        version=0,
        inputs=(TxIn(OutPoint(NULL_TXID, 0xFFFFFFFF), b"\x00\x20" + message_hash(message), 0),),
        outputs=(TxOut(0, script_pubkey),),
        locktime=0,
    )


def to_sign_spending(
    to_spend_txid: bytes,
    witness: Sequence[bytes] = (),
    *,
    script_sig: bytes = b"",
    version: int = 0,
    locktime: int = 0,
    sequence: int = 0,
) -> Transaction:
    """The to_sign of the to_spend whose txid is `to_spend_txid`: its output 0 spent to one empty OP_RETURN output."""
    return Transaction(
        version=version,
        inputs=(TxIn(OutPoint(to_spend_txid, 0), script_sig, sequence, tuple(witness)),),
        outputs=(TO_SIGN_OUTPUT,),
        locktime=locktime,
    )


def to_sign(to_spend_tx: Transaction, witness: Sequence[bytes] = (), **fields: bytes | int) -> Transaction:
    """The virtual transaction that spends `to_spend_tx` to one empty OP_RETURN output.

    `fields` are `to_sign_spending`'s: script_sig, version, locktime, sequence.
    """
    return to_sign_spending(to_spend_tx.txid, witness, **fields)
