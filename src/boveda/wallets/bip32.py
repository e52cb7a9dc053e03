"""BIP-32 extended public keys: their base58 codec and public child derivation (CKDpub).

embit parses and derives xpubs too, but spends most of a child derivation in Python
(about 200 µs a key). A sync derives hundreds of thousands of children, so the hot path
here goes straight to libsecp256k1 through coincurve, with the parent key cached; tests
hold it to the BIP-32 vectors and to embit, byte for byte.
"""

from __future__ import annotations

import dataclasses
import hmac

import coincurve
from embit import base58

from boveda.bitcoin.codec import decode_base58check
from boveda.bitcoin.hashes import hash160
from boveda.errors import CodecError

HARDENED_INDEX = 0x80000000

XPUB_VERSION = bytes.fromhex("0488b21e")  # BIP-32 public key, main network
TPUB_VERSION = bytes.fromhex("043587cf")  # BIP-32 public key, every test network

# Every version a user may paste, named as wallets print them, so a refusal can say which
# kind of key it saw. SLIP-132 versions carry a script type in the key; descriptors take the
# same key as a plain xpub/tpub and say the script type themselves.
VERSION_NAMES: dict[bytes, str] = {
    bytes.fromhex(hex_version): name
    for hex_version, name in (
        ("0488b21e", "xpub"),
        ("043587cf", "tpub"),
        ("0488ade4", "xprv"),
        ("04358394", "tprv"),
        ("049d7cb2", "ypub"),
        ("04b24746", "zpub"),
        ("0295b43f", "Ypub"),
        ("02aa7ed3", "Zpub"),
        ("044a5262", "upub"),
        ("045f1cf6", "vpub"),
        ("024289ef", "Upub"),
        ("02575483", "Vpub"),
        ("049d7878", "yprv"),
        ("04b2430c", "zprv"),
        ("0295b005", "Yprv"),
        ("02aa7a99", "Zprv"),
        ("044a4e28", "uprv"),
        ("045f18bc", "vprv"),
        ("024285b5", "Uprv"),
        ("02575048", "Vprv"),
    )
}
PRIVATE_VERSION_NAMES = frozenset(name for name in VERSION_NAMES.values() if name.endswith("prv"))

_SERIALIZED_SIZE = 78
_MAX_DEPTH = 255  # one byte in the serialization


def decode_extended_key(text: str) -> bytes:
    """The 78 bytes of a base58check extended key (any version); CodecError if it is not one."""
    payload = decode_base58check(text)
    if len(payload) != _SERIALIZED_SIZE:
        raise CodecError(f"an extended key has {_SERIALIZED_SIZE} bytes, this one has {len(payload)}")
    return payload


@dataclasses.dataclass(frozen=True, slots=True)
class ExtendedPublicKey:
    """A BIP-32 extended public key: a compressed public key plus the chain code to derive children."""

    version: bytes
    depth: int
    parent_fingerprint: bytes
    child_number: int
    chain_code: bytes
    public_key: bytes

    @classmethod
    def parse(cls, text: str) -> ExtendedPublicKey:
        """Decode an xpub or tpub, with the checks of BIP-32 test vector 5; CodecError if invalid."""
        payload = decode_extended_key(text)
        version = payload[0:4]
        if version not in (XPUB_VERSION, TPUB_VERSION):
            name = VERSION_NAMES.get(version)
            raise CodecError(f"{name} keys are not xpubs or tpubs" if name else f"unknown version {version.hex()}")
        depth = payload[4]
        parent_fingerprint = payload[5:9]
        child_number = int.from_bytes(payload[9:13], "big")
        chain_code = payload[13:45]
        public_key = payload[45:78]
        if public_key[0] not in (2, 3):
            raise CodecError(f"key data starting {public_key[0]:02x} is not a compressed public key")
        try:
            coincurve.PublicKey(public_key)
        except ValueError:
            raise CodecError("key data is not a point on the curve") from None
        if depth == 0 and parent_fingerprint != bytes(4):
            raise CodecError("zero depth with a non-zero parent fingerprint")
        if depth == 0 and child_number != 0:
            raise CodecError("zero depth with a non-zero child number")
        return cls(version, depth, parent_fingerprint, child_number, chain_code, public_key)

    def serialize(self) -> str:
        payload = (
            self.version
            + bytes([self.depth])
            + self.parent_fingerprint
            + self.child_number.to_bytes(4, "big")
            + self.chain_code
            + self.public_key
        )
        return base58.encode_check(payload)

    @property
    def fingerprint(self) -> bytes:
        """The first four bytes of hash160(public key): how children name this key."""
        return hash160(self.public_key)[:4]

    def child(self, index: int) -> ExtendedPublicKey:
        """CKDpub to one unhardened child, chain code included."""
        if self.depth == _MAX_DEPTH:
            raise CodecError(f"BIP-32 keys go at most {_MAX_DEPTH} levels deep")
        tweak, chain_code = _tweak_and_chain_code(self.chain_code, self.public_key, index)
        child_key = _add_tweak(coincurve.PublicKey(self.public_key), tweak)
        return ExtendedPublicKey(
            self.version, self.depth + 1, self.fingerprint, index, chain_code, child_key.format(compressed=True)
        )

    def derive_path(self, path: tuple[int, ...]) -> ExtendedPublicKey:
        key = self
        for index in path:
            key = key.child(index)
        return key

    def child_public_keys(self, start: int, stop: int) -> tuple[bytes, ...]:
        """The compressed public keys of children start..stop-1: the hot path of every sync."""
        if not 0 <= start <= stop <= HARDENED_INDEX:
            raise CodecError(f"child indexes must lie in 0..2^31, got {start}..{stop}")
        parent = coincurve.PublicKey(self.public_key)
        chain_code, public_key = self.chain_code, self.public_key
        children = []
        for index in range(start, stop):
            tweak = hmac.digest(chain_code, public_key + index.to_bytes(4, "big"), "sha512")[:32]
            children.append(_add_tweak(parent, tweak).format(compressed=True))
        return tuple(children)


def _tweak_and_chain_code(chain_code: bytes, public_key: bytes, index: int) -> tuple[bytes, bytes]:
    if not 0 <= index < HARDENED_INDEX:
        raise CodecError(f"public derivation needs an unhardened index (below 2^31), got {index}")
    digest = hmac.digest(chain_code, public_key + index.to_bytes(4, "big"), "sha512")
    return digest[:32], digest[32:]


def _add_tweak(parent: coincurve.PublicKey, tweak: bytes) -> coincurve.PublicKey:
    # tweak*G through the precomputed generator table, then one point addition, is ~25% faster
    # than libsecp256k1's pubkey_tweak_add (a general multi-scalar multiplication).
    # libsecp256k1 refuses a tweak of 0 or >= n, and combine refuses the point at infinity:
    # BIP-32 calls such a child invalid; the odds are below 2^-127, so it is an error here,
    # not a silently skipped index.
    try:
        return coincurve.PublicKey.combine_keys([parent, coincurve.PublicKey.from_valid_secret(tweak)])
    except ValueError:
        raise CodecError("BIP-32 derivation hit an invalid child key (probability < 2^-127)") from None
