"""The signature checks of BIP-322's required rules: strict DER, low S, defined hash types, key encodings.

Written as Bitcoin Core's interpreter applies them (STRICTENC, DERSIG, LOW_S, NULLDUMMY and
OP_CHECKMULTISIG's order), so that a verdict here is the verdict there.
"""

from __future__ import annotations

from collections.abc import Sequence

import coincurve

from boveda.bitcoin import taproot
from boveda.bitcoin.bip322.verdict import Reason, invalid
from boveda.bitcoin.sighash import SighashType

SECP256K1_HALF_ORDER = taproot.SECP256K1_ORDER // 2
DEFINED_HASH_TYPES = frozenset((0x01, 0x02, 0x03, 0x81, 0x82, 0x83))


def check_ecdsa_signature_encoding(signature: bytes) -> None:
    """Bitcoin Core's STRICTENC + DERSIG + LOW_S checks of a non-empty signature with its hash-type byte."""
    n = len(signature)
    # IsValidSignatureEncoding (BIP-66), hash-type byte included.
    if n < 9 or n > 73 or signature[0] != 0x30 or signature[1] != n - 3:
        raise invalid(Reason.MALFORMED_SIGNATURE, "signature is not strict DER")
    r_size = signature[3]
    if 5 + r_size >= n:
        raise invalid(Reason.MALFORMED_SIGNATURE, "signature is not strict DER")
    s_size = signature[5 + r_size]
    if (
        r_size + s_size + 7 != n
        or signature[2] != 0x02
        or r_size == 0
        or signature[4] & 0x80
        or (r_size > 1 and signature[4] == 0 and not signature[5] & 0x80)
        or signature[r_size + 4] != 0x02
        or s_size == 0
        or signature[r_size + 6] & 0x80
        or (s_size > 1 and signature[r_size + 6] == 0 and not signature[r_size + 7] & 0x80)
    ):
        raise invalid(Reason.MALFORMED_SIGNATURE, "signature is not strict DER")
    hash_type = signature[-1]
    if hash_type not in DEFINED_HASH_TYPES:
        raise invalid(Reason.HASH_TYPE, f"undefined hash type 0x{hash_type:02x}")
    if int.from_bytes(signature[r_size + 6 : r_size + 6 + s_size], "big") > SECP256K1_HALF_ORDER:
        raise invalid(Reason.HIGH_S, "ECDSA signature has a high S value (BIP-146 LOW_S)")
    if hash_type != SighashType.ALL:
        raise invalid(Reason.HASH_TYPE, f"hash type 0x{hash_type:02x}; BIP-322 requires SIGHASH_ALL")


def check_public_key_encoding(public_key: bytes) -> None:
    # STRICTENC. Uncompressed keys are allowed in segwit v0: BIP-322's required rules do not
    # include WITNESS_PUBKEYTYPE.
    size = len(public_key)
    if not ((size == 33 and public_key[0] in (2, 3)) or (size == 65 and public_key[0] == 4)):
        raise invalid(Reason.MALFORMED_SIGNATURE, "public key is neither compressed nor uncompressed SEC1")


def _ecdsa_verifies(signature: bytes, public_key: bytes, sighash: bytes) -> bool:
    try:
        return coincurve.PublicKey(public_key).verify(signature[:-1], sighash, hasher=None)
    except ValueError:  # not a point on the curve, or r/s out of range
        return False


def verify_checksig(signature: bytes, public_key: bytes, sighash: bytes) -> None:
    """OP_CHECKSIG under BIP-322's rules: raises Refusal unless `signature` by `public_key` signs `sighash`."""
    if not signature:
        raise invalid(Reason.BAD_SIGNATURE, "empty signature")
    check_ecdsa_signature_encoding(signature)
    check_public_key_encoding(public_key)
    if not _ecdsa_verifies(signature, public_key, sighash):
        raise invalid(Reason.BAD_SIGNATURE, "ECDSA signature does not verify for this message and key")


def verify_checkmultisig(
    required: int, public_keys: tuple[bytes, ...], witness: Sequence[bytes], sighash: bytes
) -> None:
    """OP_CHECKMULTISIG of a k-of-n witness script: `witness` is the dummy, k signatures and the script."""
    # The stack must hold exactly the dummy and k signatures: fewer underflow, more break the
    # clean-stack rule of witness v0.
    if len(witness) != required + 2:
        raise invalid(Reason.WITNESS_MISMATCH, f"{required}-of-{len(public_keys)} needs {required + 2} witness items")
    signatures = witness[1:-1]
    # As Bitcoin Core runs it: from the last signature and key backwards, each signature tried
    # against keys until one verifies; encodings are checked only where reached.
    sig_index, key_index = required - 1, len(public_keys) - 1
    while sig_index >= 0:
        signature, public_key = signatures[sig_index], public_keys[key_index]
        if signature:
            check_ecdsa_signature_encoding(signature)
        check_public_key_encoding(public_key)
        if signature and _ecdsa_verifies(signature, public_key, sighash):
            sig_index -= 1
        key_index -= 1
        if sig_index > key_index:
            raise invalid(Reason.BAD_SIGNATURE, "the signatures do not verify against the script's keys in order")
    if witness[0]:
        raise invalid(Reason.SCRIPT_FAILED, "OP_CHECKMULTISIG dummy element is not empty (NULLDUMMY)")


def verify_schnorr(signature: bytes, output_key: bytes, sighash: bytes) -> None:
    """A BIP-340 signature (its 64 bytes) by x-only `output_key` of `sighash`; Refusal unless it verifies."""
    try:
        verified = coincurve.PublicKeyXOnly(output_key).verify(signature[:64], sighash)
    except ValueError:  # the output key is not on the curve
        verified = False
    if not verified:
        raise invalid(Reason.BAD_SIGNATURE, "Schnorr signature does not verify for this message and key")
