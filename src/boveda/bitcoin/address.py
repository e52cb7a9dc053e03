"""Addresses: script_pubkey <-> base58check (BIP-13), bech32 (BIP-173) and bech32m (BIP-350) strings.

Checksums come from embit; the checks around them are written out here so that a refused
address says what is wrong with it (wrong network, bad checksum, bad length, ...).
"""

from __future__ import annotations

import enum

from embit import base58
from embit import bech32 as _bech32

from boveda.bitcoin.codec import decode_base58check
from boveda.bitcoin.network import Network
from boveda.bitcoin.script import ScriptType, classify, p2pkh_of_hash, p2sh_of_hash, witness_program
from boveda.errors import CodecError

BECH32_MAX_LENGTH = 90

_BASE58_PREFIXES = {  # network -> (P2PKH version byte, P2SH version byte)
    Network.MAIN: (0x00, 0x05),
    Network.TESTNET4: (0x6F, 0xC4),
    Network.SIGNET: (0x6F, 0xC4),
    Network.REGTEST: (0x6F, 0xC4),
}


class Bech32Variant(enum.Enum):
    BECH32 = "bech32"  # BIP-173: witness version 0
    BECH32M = "bech32m"  # BIP-350: witness versions 1..16


_EMBIT_VARIANT = {_bech32.Encoding.BECH32: Bech32Variant.BECH32, _bech32.Encoding.BECH32M: Bech32Variant.BECH32M}
_EMBIT_ENCODING = {v: k for k, v in _EMBIT_VARIANT.items()}


def _networks_named(predicate) -> str:
    return "/".join(n.value for n in Network if predicate(n))


def encode_bech32(hrp: str, data: list[int], variant: Bech32Variant) -> str:
    """A bech32/bech32m string of 5-bit `data` (checksum appended)."""
    return _bech32.bech32_encode(_EMBIT_ENCODING[variant], hrp, data)


def decode_bech32(text: str) -> tuple[str, list[int], Bech32Variant]:
    """(human-readable part, 5-bit data without checksum, variant); CodecError naming the fault."""
    if any(not 33 <= ord(c) <= 126 for c in text):
        raise CodecError(f"not bech32: {text!r} has a character outside US-ASCII 33..126")
    if text.lower() != text and text.upper() != text:
        raise CodecError(f"not bech32: {text!r} mixes upper and lower case")
    if len(text) > BECH32_MAX_LENGTH:
        raise CodecError(f"not bech32: {text!r} is longer than {BECH32_MAX_LENGTH} characters")
    lowered = text.lower()
    separator = lowered.rfind("1")
    if separator < 0:
        raise CodecError(f"not bech32: {text!r} has no separator '1'")
    if separator == 0:
        raise CodecError(f"not bech32: {text!r} has an empty human-readable part")
    if separator + 7 > len(lowered):
        raise CodecError(f"not bech32: {text!r} has a checksum shorter than 6 characters")
    hrp = lowered[:separator]
    bad = [c for c in lowered[separator + 1 :] if c not in _bech32.CHARSET]
    if bad:
        raise CodecError(f"not bech32: {text!r} has {bad[0]!r}, which is not a bech32 data character")
    data = [_bech32.CHARSET.find(c) for c in lowered[separator + 1 :]]
    encoding = _bech32.bech32_verify_checksum(hrp, data)
    if encoding is None:
        raise CodecError(f"not bech32: {text!r} has a bad checksum (a typing error?)")
    return hrp, data[:-6], _EMBIT_VARIANT[encoding]


def _segwit_script(address: str, network: Network) -> bytes:
    hrp, data, variant = decode_bech32(address)
    if hrp != network.hrp:
        raise CodecError(f"address {address} is for {_networks_named(lambda n: n.hrp == hrp)}, not {network.value}")
    if not data:
        raise CodecError(f"address {address} has an empty data section")
    version = data[0]
    if version > 16:
        raise CodecError(f"address {address} has witness version {version}; versions are 0..16")
    program = _bech32.convertbits(data[1:], 5, 8, False)
    if program is None:
        raise CodecError(f"address {address} has invalid padding in its witness program")
    if not 2 <= len(program) <= 40:
        raise CodecError(f"address {address} has a {len(program)}-byte witness program; it must be 2..40 bytes")
    if version == 0 and len(program) not in (20, 32):
        raise CodecError(f"address {address} has a {len(program)}-byte version 0 program; it must be 20 or 32 bytes")
    expected = Bech32Variant.BECH32 if version == 0 else Bech32Variant.BECH32M
    if variant != expected:
        raise CodecError(
            f"address {address} is encoded as {variant.value}, but witness version {version} needs {expected.value}"
        )
    return bytes((0 if version == 0 else 0x50 + version, len(program))) + bytes(program)


def base58_networks(version: int) -> tuple[Network, ...]:
    """The networks whose P2PKH or P2SH addresses start with version byte `version`."""
    return tuple(n for n in Network if version in _BASE58_PREFIXES[n])


def _base58_script(address: str, network: Network) -> bytes:
    try:
        payload = decode_base58check(address)
    except CodecError:
        raise CodecError(f"not an address: {address!r} is neither valid bech32 nor valid base58check") from None
    if len(payload) != 21:
        raise CodecError(f"not an address: {address!r} decodes to {len(payload)} bytes, expected 21")
    version, body = payload[0], payload[1:]
    p2pkh_version, p2sh_version = _BASE58_PREFIXES[network]
    if version == p2pkh_version:
        return p2pkh_of_hash(body)
    if version == p2sh_version:
        return p2sh_of_hash(body)
    others = "/".join(n.value for n in base58_networks(version))
    if others:
        raise CodecError(f"address {address} is for {others}, not {network.value}")
    raise CodecError(f"not an address: {address!r} has unknown version byte 0x{version:02x}")


def address_to_script(address: str, network: Network) -> bytes:
    """The script_pubkey `address` pays to; CodecError for a malformed or other-network address."""
    separator = address.lower().rfind("1")
    if separator > 0 and address[:separator].lower() in {n.hrp for n in Network}:
        return _segwit_script(address, network)
    try:
        return _base58_script(address, network)
    except CodecError:
        if separator > 0 and all(c in _bech32.CHARSET for c in address[separator + 1 :].lower()):
            raise CodecError(
                f"not an address: {address!r} has human-readable part {address[:separator]!r}; "
                f"{network.value} addresses use {network.hrp!r}"
            ) from None
        raise


def script_to_address(script_pubkey: bytes, network: Network) -> str:
    """The address of `script_pubkey` on `network`; CodecError for scripts that have none (P2PK, bare multisig, ...)."""
    kind = classify(script_pubkey)
    p2pkh_version, p2sh_version = _BASE58_PREFIXES[network]
    if kind == ScriptType.P2PKH:
        return base58.encode_check(bytes((p2pkh_version,)) + script_pubkey[3:23])
    if kind == ScriptType.P2SH:
        return base58.encode_check(bytes((p2sh_version,)) + script_pubkey[2:22])
    program = witness_program(script_pubkey)
    if program is not None and kind != ScriptType.NONSTANDARD:
        version, data = program
        variant = Bech32Variant.BECH32 if version == 0 else Bech32Variant.BECH32M
        return encode_bech32(network.hrp, [version] + _bech32.convertbits(data, 8, 5), variant)
    raise CodecError(f"a {kind.value} script has no address: {script_pubkey.hex()}")
