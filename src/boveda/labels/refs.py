"""The `ref` of each BIP-329 record type, checked, and the key it is looked up by.

A refused ref is quoted only in part (:data:`QUOTED_CHARS`), and not at all when it looks like a
private key: a labels file is the wrong place for one, and an error message is a worse one.
"""

from __future__ import annotations

import enum
import re

import coincurve

from boveda.bitcoin.address import address_to_script, decode_bech32
from boveda.bitcoin.codec import decode_base58check
from boveda.bitcoin.network import Network
from boveda.errors import CodecError
from boveda.labels.jsonline import LineError

QUOTED_CHARS = 16
MAX_INDEX = 0xFFFFFFFF  # an input or output index is a 32-bit number

_TXID_RE = re.compile(r"[0-9a-fA-F]{64}")
_OUTPOINT_RE = re.compile(r"([0-9a-fA-F]{64}):(0|[1-9][0-9]{0,9})")
_HEX_RE = re.compile(r"(?:[0-9a-fA-F]{2})+")

# BIP-32 extended keys: the version bytes of public ones (xpub, and the SLIP-132 forms wallets export)
# and of private ones, which are refused without being quoted.
_PUBLIC_VERSIONS = {bytes.fromhex(v) for v in (
    "0488b21e", "043587cf", "049d7cb2", "04b24746", "0295b43f", "02aa7ed3", "044a5262", "045f1cf6", "024289ef",
    "02575483")}
_PRIVATE_VERSIONS = {bytes.fromhex(v) for v in (
    "0488ade4", "04358394", "049d7878", "04b2430c", "0295b005", "02aa7a99", "044a4e28", "045f18bc", "024285b5",
    "02575048")}
_WIF_VERSIONS = (0x80, 0xEF)


class LabelType(enum.StrEnum):
    """BIP-329's record types, in the BIP's order."""

    TX = "tx"
    ADDR = "addr"
    PUBKEY = "pubkey"
    INPUT = "input"
    OUTPUT = "output"
    XPUB = "xpub"


def quoted(text: str) -> str:
    """A short quotation of a refused value."""
    return repr(text) if len(text) <= QUOTED_CHARS else repr(text[:QUOTED_CHARS] + "…") + f" ({len(text)} characters)"


def check_ref(kind: LabelType, ref: str) -> str:
    """The lookup key of `ref` (hex and bech32 lowercased); LineError saying what a `kind` ref must be."""
    if _looks_private(ref):
        raise LineError(f"the ref of this {kind} record is a private key: BIP-329 defines no private key types and "
                        "Bóveda keeps none; remove the line (the key is not repeated here)")
    if kind is LabelType.TX:
        if not _TXID_RE.fullmatch(ref):
            raise LineError(f"a tx ref is a transaction id of 64 hex digits, not {quoted(ref)}")
        return ref.lower()
    if kind in (LabelType.INPUT, LabelType.OUTPUT):
        match = _OUTPOINT_RE.fullmatch(ref)
        if match is None or int(match.group(2)) > MAX_INDEX:
            raise LineError(f"an {kind} ref is TXID:INDEX (64 hex digits, a colon, an index 0..{MAX_INDEX} without "
                            f"leading zeros), not {quoted(ref)}")
        return ref.lower()
    if kind is LabelType.PUBKEY:
        return _check_pubkey(ref)
    if kind is LabelType.ADDR:
        return _check_address(ref)
    return _check_xpub(ref)


def lookup_key(ref: str) -> str:
    """The key a ref of unknown type is looked up by: as :func:`check_ref` stores it."""
    if _HEX_RE.fullmatch(ref) or _OUTPOINT_RE.fullmatch(ref):
        return ref.lower()
    if ref.isupper() or ref.islower():
        try:
            decode_bech32(ref)
        except CodecError:
            return ref
        return ref.lower()
    return ref


def _check_pubkey(ref: str) -> str:
    if not _HEX_RE.fullmatch(ref) or len(ref) // 2 not in (32, 33, 65):
        raise LineError(f"a pubkey ref is a 32, 33 or 65 byte public key in hex, not {quoted(ref)}")
    data = bytes.fromhex(ref)
    try:
        if len(data) == 32:
            coincurve.PublicKeyXOnly(data)
        elif data[0] in ((2, 3) if len(data) == 33 else (4,)):
            coincurve.PublicKey(data)
        else:
            raise ValueError
    except ValueError:
        raise LineError(f"the pubkey ref {quoted(ref)} is not a point on secp256k1") from None
    return ref.lower()


def _check_address(ref: str) -> str:
    for network in (Network.MAIN, Network.TESTNET4, Network.REGTEST):  # signet shares testnet's forms
        try:
            address_to_script(ref, network)
        except CodecError:
            continue
        else:
            separator = ref.rfind("1")
            return ref.lower() if separator > 0 and ref[:separator].lower() == network.hrp else ref
    raise LineError(f"an addr ref is a base58 or bech32 address of a bitcoin network, checksum valid, not {quoted(ref)}")


def _check_xpub(ref: str) -> str:
    try:
        payload = decode_base58check(ref)
    except CodecError:
        raise LineError(f"an xpub ref is a BIP-32 extended public key in base58check, not {quoted(ref)}") from None
    if len(payload) != 78 or payload[:4] not in _PUBLIC_VERSIONS:
        raise LineError(f"an xpub ref is a BIP-32 extended public key (78 bytes, a public version), not {quoted(ref)}")
    depth, parent, child, key = payload[4], payload[5:9], payload[9:13], payload[45:]
    if depth == 0 and (parent != bytes(4) or child != bytes(4)):
        raise LineError(f"the xpub ref {quoted(ref)} has depth 0 but names a parent or a child number")
    try:
        if key[0] not in (2, 3):
            raise ValueError
        coincurve.PublicKey(key)
    except ValueError:
        raise LineError(f"the xpub ref {quoted(ref)} holds a key that is not a point on secp256k1") from None
    return ref


def _looks_private(ref: str) -> bool:
    """An extended private key or a WIF key (checked before anything quotes the ref)."""
    if not 50 <= len(ref) <= 120:
        return False
    try:
        payload = decode_base58check(ref)
    except CodecError:
        return False
    if len(payload) == 78 and payload[:4] in _PRIVATE_VERSIONS:
        return True
    return len(payload) in (33, 34) and payload[0] in _WIF_VERSIONS
