"""BIP-380 key expressions, with BIP-389's multipath step: `[origin]KEY/path/<a;b>/*`, public keys only.

Key text is never quoted back in a refusal: a refused key may be a private one.
"""

from __future__ import annotations

import dataclasses
import enum
import re

import coincurve

from boveda.bitcoin.codec import decode_base58check
from boveda.bitcoin.derivation import Branch
from boveda.bitcoin.network import Network
from boveda.errors import CodecError, DescriptorError
from boveda.wallets.bip32 import (
    HARDENED_INDEX,
    PRIVATE_VERSION_NAMES,
    TPUB_VERSION,
    VERSION_NAMES,
    XPUB_VERSION,
    ExtendedPublicKey,
)


class KeyContext(enum.Enum):
    """Which keys a script expression allows (BIP-380..386)."""

    LEGACY = "legacy"  # pkh, sh(multi): uncompressed keys allowed
    SEGWIT = "segwit"  # wpkh, wsh: compressed only
    TAPROOT = "taproot"  # tr: x-only or compressed


@dataclasses.dataclass(frozen=True, slots=True)
class KeyOrigin:
    """`[fingerprint/path]`: where a key sits under its master key; metadata, never derived."""

    fingerprint: bytes
    path: tuple[int, ...]

    def to_text(self) -> str:
        return "[" + self.fingerprint.hex() + "".join("/" + _step_text(step) for step in self.path) + "]"


@dataclasses.dataclass(frozen=True, slots=True)
class KeyExpression:
    """One key of a descriptor: a fixed public key, or an xpub/tpub with the steps to derive from it."""

    origin: KeyOrigin | None
    public_key: bytes | None  # a fixed key as written: 33 or 65 bytes, or 32 (x-only, in tr())
    extended_key: ExtendedPublicKey | None
    path: tuple[int, ...]  # unhardened steps after the extended key, before any multipath step
    multipath: tuple[int, ...]  # () or one step per branch: BIP-389 `<receive;change>`
    path_after: tuple[int, ...]  # steps after the multipath step
    is_ranged: bool  # the path ends in /*
    # The extended key at the end of each branch's path, derived once at parse time so that
    # derive() costs one CKDpub per script and key, never a walk down the path.
    branch_keys: tuple[ExtendedPublicKey, ...] = dataclasses.field(default=(), compare=False, repr=False)

    def to_text(self, branch: Branch | None = None) -> str:
        """The canonical key expression; with a branch, its multipath step resolved to that branch."""
        origin = self.origin.to_text() if self.origin else ""
        if self.extended_key is None:
            assert self.public_key is not None
            return origin + self.public_key.hex()
        steps = [str(step) for step in self.path]
        if self.multipath:
            if branch is None:
                steps.append("<" + ";".join(str(step) for step in self.multipath) + ">")
            else:
                steps.append(str(self.multipath[branch]))
        steps += [str(step) for step in self.path_after]
        if self.is_ranged:
            steps.append("*")
        return origin + self.extended_key.serialize() + "".join("/" + step for step in steps)

    def public_keys(self, branch: Branch, start: int, stop: int) -> tuple[bytes, ...]:
        """This key's public key at each index start..stop-1 of a branch."""
        if self.extended_key is None:
            assert self.public_key is not None
            return (self.public_key,) * (stop - start)
        branch_key = self.branch_keys[branch if self.multipath else 0]
        if self.is_ranged:
            return branch_key.child_public_keys(start, stop)
        return (branch_key.public_key,) * (stop - start)


_HEX = re.compile(r"[0-9a-fA-F]+")
_NUMBER = re.compile(r"[0-9]+")
_HARDENED_STEP = re.compile(r"[0-9]+['hH]|\*['hH]")
_ORIGIN_STEP = re.compile(r"([0-9]+)(['h]?)")
_WIF_PREFIXES = (0x80, 0xEF)


def parse_key(text: str, network: Network, context: KeyContext, where: str) -> KeyExpression:
    """The key expression `text`, named `where` in refusals; DescriptorError if Bóveda refuses it."""
    origin = None
    rest = text
    if text.startswith("["):
        close = text.find("]")
        if close == -1:
            raise DescriptorError(f"{where}: its key origin '[' is not closed by ']'")
        origin = _parse_origin(text[1:close], where)
        rest = text[close + 1 :]
    if "[" in rest or "]" in rest:
        raise DescriptorError(f"{where}: a key has at most one origin [...], written before the key")
    if rest == "":
        raise DescriptorError(f"{where}: a key origin with no key after it" if origin else f"{where} is missing")
    key_text, slash, path_text = rest.partition("/")
    if _HEX.fullmatch(key_text):
        if slash:
            raise DescriptorError(f"{where}: a hex public key takes no derivation steps")
        return KeyExpression(origin, _parse_hex_key(key_text, context, where), None, (), (), (), False)
    extended_key = _parse_extended_key(key_text, network, where)
    path, multipath, path_after, is_ranged = _parse_key_path(path_text, where) if slash else ((), (), (), False)
    branch_paths = [path + (step,) + path_after for step in multipath] if multipath else [path + path_after]
    try:
        branch_keys = tuple(extended_key.derive_path(branch_path) for branch_path in branch_paths)
    except CodecError as error:
        raise DescriptorError(f"{where}: {error}") from None
    return KeyExpression(origin, None, extended_key, path, multipath, path_after, is_ranged, branch_keys)


def _parse_origin(text: str, where: str) -> KeyOrigin:
    fingerprint_hex, *steps = text.split("/")
    if not re.fullmatch(r"[0-9a-fA-F]{8}", fingerprint_hex):
        raise DescriptorError(f"{where}: a key origin starts with a fingerprint of 8 hex digits")
    path = []
    for step in steps:
        match = _ORIGIN_STEP.fullmatch(step)
        if match is None:
            if step.endswith("H") and _NUMBER.fullmatch(step[:-1]):
                # BIP-380's prose allows 'H' but its test vectors refuse it; Bóveda follows the
                # vectors, so a descriptor it accepts is one every conforming tool accepts.
                raise DescriptorError(f"{where}: write hardened step {step} in its key origin as {step[:-1]}h")
            raise DescriptorError(f"{where}: key origin step {step!r} is not a number with an optional h")
        index = _index(match.group(1), where)
        path.append(index + HARDENED_INDEX if match.group(2) else index)
    return KeyOrigin(bytes.fromhex(fingerprint_hex), tuple(path))


def _parse_hex_key(key_hex: str, context: KeyContext, where: str) -> bytes:
    key = bytes.fromhex(key_hex) if len(key_hex) % 2 == 0 else b""
    if len(key) == 32 and context is KeyContext.TAPROOT:
        point = b"\x02" + key
    elif (len(key) == 33 and key[0] in (2, 3)) or (len(key) == 65 and key[0] == 4):
        point = key
    else:
        wanted = {
            KeyContext.LEGACY: "66 hex digits starting 02 or 03, or 130 starting 04",
            KeyContext.SEGWIT: "66 hex digits starting 02 or 03",
            KeyContext.TAPROOT: "66 hex digits (compressed) or 64 (x-only)",
        }[context]
        raise DescriptorError(f"{where}: a hex public key is {wanted}, not {len(key_hex)} digits")
    if len(key) == 65 and context is not KeyContext.LEGACY:
        raise DescriptorError(f"{where}: uncompressed public keys are not allowed in {context.value} scripts")
    try:
        coincurve.PublicKey(point)
    except ValueError:
        raise DescriptorError(f"{where}: not a valid public key (not a point on the curve)") from None
    return key


def _parse_extended_key(key_text: str, network: Network, where: str) -> ExtendedPublicKey:
    try:
        payload = decode_base58check(key_text)
    except CodecError:
        raise DescriptorError(f"{where} is not a public key, xpub or tpub (not hex, base58 checksum fails)") from None
    if len(payload) in (33, 34) and payload[0] in _WIF_PREFIXES:
        raise DescriptorError(f"{where} is a private key (WIF); Bóveda is watch-only: give its public key")
    if len(payload) != 78:
        raise DescriptorError(f"{where} is not a public key, xpub or tpub")
    name = VERSION_NAMES.get(payload[:4])
    if name in PRIVATE_VERSION_NAMES:
        raise DescriptorError(f"{where} is an extended private key ({name}); Bóveda is watch-only: give its xpub/tpub")
    if name is None:
        raise DescriptorError(f"{where} is an extended key of unknown version {payload[:4].hex()}")
    if name not in ("xpub", "tpub"):
        wanted = "xpub" if name[0] in "yzYZ" else "tpub"
        raise DescriptorError(
            f"{where} is a SLIP-132 {name}; descriptors take the same key re-encoded as a {wanted} "
            "(the script type comes from the descriptor)"
        )
    expected_version, expected_name = (XPUB_VERSION, "xpub") if network is Network.MAIN else (TPUB_VERSION, "tpub")
    if payload[:4] != expected_version:
        raise DescriptorError(
            f"{where} is {_article(name)} {name} ({'main' if name == 'xpub' else 'test'} network keys) but the wallet "
            f"is on {network.value}; it needs {_article(expected_name)} {expected_name}"
        )
    try:
        return ExtendedPublicKey.parse(key_text)
    except CodecError as error:
        raise DescriptorError(f"{where} is not a valid {name}: {error}") from None


def _parse_key_path(text: str, where: str) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], bool]:
    """Steps after an extended key: `/a/b/<c;d>/e/*`, all unhardened (no private key to harden with)."""
    before: list[int] = []
    after: list[int] = []
    multipath: tuple[int, ...] = ()
    is_ranged = False
    for step in text.split("/"):
        if step == "":
            raise DescriptorError(f"{where}: empty derivation step ('//' or a trailing '/')")
        if is_ranged:
            raise DescriptorError(f"{where}: '*' must be the last derivation step")
        if _HARDENED_STEP.fullmatch(step):
            raise DescriptorError(_hardened_refusal(where, step))
        if step == "*":
            is_ranged = True
        elif step.startswith("<") and step.endswith(">"):
            if multipath:
                raise DescriptorError(f"{where}: a key may have only one multipath step <a;b> (BIP-389)")
            multipath = _parse_multipath(step, where)
        elif any(character in step for character in "<>;"):
            raise DescriptorError(f"{where}: malformed multipath step {step!r}; write it as <a;b>")
        elif multipath:
            after.append(_unhardened_index(step, where))
        else:
            before.append(_unhardened_index(step, where))
    return tuple(before), multipath, tuple(after), is_ranged


def _parse_multipath(step: str, where: str) -> tuple[int, ...]:
    items = step[1:-1].split(";")
    if any(item == "" for item in items):
        raise DescriptorError(f"{where}: multipath step {step} has an empty index")
    indexes = tuple(_unhardened_index(item, where) for item in items)
    if len(indexes) < 2:
        raise DescriptorError(f"{where}: multipath step {step} needs at least two indexes")
    if len(set(indexes)) != len(indexes):
        raise DescriptorError(f"{where}: multipath step {step} repeats an index")
    if len(indexes) != len(Branch):
        raise DescriptorError(
            f"{where}: multipath step {step} has {len(indexes)} paths; Bóveda reads two, <receive;change>"
        )
    return indexes


def _unhardened_index(step: str, where: str) -> int:
    if _HARDENED_STEP.fullmatch(step):
        raise DescriptorError(_hardened_refusal(where, step))
    if not _NUMBER.fullmatch(step):
        raise DescriptorError(f"{where}: derivation step {step!r} is not a number")
    return _index(step, where)


def _index(digits: str, where: str) -> int:
    index = int(digits)
    if index >= HARDENED_INDEX:
        raise DescriptorError(f"{where}: derivation index {digits} is out of range (it must be below 2^31)")
    return index


def _hardened_refusal(where: str, step: str) -> str:
    return (
        f"{where}: hardened step {step} after an xpub needs the private key (Bóveda is watch-only); "
        "give the xpub at that level and move the step into the key origin"
    )


def _article(word: str) -> str:
    return "an" if word[0] in "aeiouxAEIOUX" else "a"


def _step_text(step: int) -> str:
    return f"{step - HARDENED_INDEX}h" if step >= HARDENED_INDEX else str(step)
