"""Taproot output keys (BIP-341): the tweak of an internal key, on the public and the private side."""

from __future__ import annotations

import coincurve

from boveda.bitcoin.hashes import tagged_hash

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
        raise ValueError("taproot tweak out of range")
    tweaked = ((d + tweak) % SECP256K1_ORDER).to_bytes(32, "big")
    return tweaked, coincurve.PrivateKey(tweaked).public_key.format()[1:]


def output_key(internal_key: bytes, merkle_root: bytes = b"") -> bytes:
    """The x-only output key of x-only `internal_key` (BIP-341 taproot_tweak_pubkey)."""
    tweak = tagged_hash("TapTweak", internal_key + merkle_root)
    if int.from_bytes(tweak, "big") >= SECP256K1_ORDER:
        raise ValueError("taproot tweak out of range")
    point = coincurve.PublicKey(b"\x02" + internal_key).add(tweak)
    return point.format()[1:]
