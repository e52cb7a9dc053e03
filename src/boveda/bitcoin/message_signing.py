"""Legacy "Bitcoin Signed Message" signatures (signmessage/verifymessage), valid for P2PKH addresses only.

A signature is 65 bytes, base64-encoded: a header byte 27 + recovery id (+ 4 when the key is
compressed), then r and s (32 bytes each, big-endian). BIP-322 keeps this as its "legacy" format.
"""

from __future__ import annotations

import base64
import binascii

import coincurve

from boveda.bitcoin.codec import encode_compact_size
from boveda.bitcoin.hashes import sha256d

MESSAGE_MAGIC = b"\x18Bitcoin Signed Message:\n"
COMPACT_SIGNATURE_SIZE = 65
_HEADER_FIRST = 27
_HEADER_LAST = 34  # 27..30 uncompressed key, 31..34 compressed; BIP-137's 35..42 name segwit keys, not P2PKH


def signed_message_hash(message: bytes) -> bytes:
    """SHA256d(magic || CompactSize(len(message)) || message): what the compact signature signs."""
    return sha256d(MESSAGE_MAGIC + encode_compact_size(len(message)) + message)


def sign_message(message: bytes, private_key: bytes, *, compressed: bool = True) -> str:
    """The base64 compact signature of `message` by `private_key` (32 bytes), as Bitcoin Core's signmessage."""
    recoverable = coincurve.PrivateKey(private_key).sign_recoverable(signed_message_hash(message), hasher=None)
    header = _HEADER_FIRST + recoverable[64] + (4 if compressed else 0)
    return base64.b64encode(bytes((header,)) + recoverable[:64]).decode("ascii")


def decode_compact_signature(signature: str) -> bytes | None:
    """The 65 signature bytes of canonical base64 `signature`, or None when it is not one."""
    try:
        raw = binascii.a2b_base64(signature.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None
    if len(raw) != COMPACT_SIGNATURE_SIZE or binascii.b2a_base64(raw, newline=False).decode("ascii") != signature:
        return None
    return raw


def recover_message_key(message: bytes, compact_signature: bytes) -> bytes | None:
    """The public key (serialised as its header says) whose signature this is, or None if none is.

    Bitcoin Core masks the header (`(h - 27) & 7`), so it accepts 256 headers for 8 meanings; we
    accept only the eight defined ones, so that a signature has a single encoding. Like Core we
    accept a high-S value here: recovery works for either S and the key commits to the address.
    """
    if len(compact_signature) != COMPACT_SIGNATURE_SIZE:
        return None
    header = compact_signature[0]
    if not _HEADER_FIRST <= header <= _HEADER_LAST:
        return None
    recovery_id = (header - _HEADER_FIRST) & 3
    compressed = header - _HEADER_FIRST >= 4
    try:
        key = coincurve.PublicKey.from_signature_and_message(
            compact_signature[1:] + bytes((recovery_id,)), signed_message_hash(message), hasher=None
        )
    except ValueError:
        return None
    return key.format(compressed=compressed)
