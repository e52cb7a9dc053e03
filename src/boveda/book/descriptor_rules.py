"""What the book itself requires of every descriptor it stores, on every path (`wallet add`, the
scenario, `import`, and `audit verify`'s replay): a valid BIP-380 checksum, no private key
anywhere in the text, each key once per multisig, and scripts and texts of bounded size.

The book cannot derive keys (that is the wallets layer's, which also refuses two spellings of
one key); these rules read the text, so that a file imported or a log replayed is held to them
with no chain and no network in hand. Refusals never quote a key: it may be a private one.
"""

from __future__ import annotations

import re

from embit import base58
from embit.descriptor.checksum import DescriptorError as EmbitDescriptorError
from embit.descriptor.checksum import checksum

from boveda.book.errors import BookError

MAX_DESCRIPTOR_CHARS = 25_000
MAX_RAW_SCRIPT_BYTES = 10_000  # Bitcoin Core's MAX_SCRIPT_SIZE: no spendable script is larger

# The BIP-32 (xprv, tprv) and SLIP-132 versions of extended *private* keys, as their base58 text begins.
_PRIVATE_PREFIXES = ("xprv", "tprv", "yprv", "zprv", "Yprv", "Zprv", "uprv", "vprv", "Uprv", "Vprv")
_PRIVATE_VERSIONS = frozenset(bytes.fromhex(v) for v in (
    "0488ade4", "04358394", "049d7878", "04b2430c", "0295b005", "02aa7a99", "044a4e28", "045f18bc", "024285b5",
    "02575048"))
_EXTENDED_KEY_BYTES = 78 + 4  # BIP-32 serialization and its base58check checksum
_WIF_VERSIONS = (0x80, 0xEF)  # mainnet, testnets
_BASE58_RUN = re.compile(r"[1-9A-HJ-NP-Za-km-z]{50,}")
_HEX_ONLY = re.compile(r"[0-9a-fA-F]+")
_MULTI = re.compile(r"(?:sorted)?multi(?:_a)?\(")
_RAW = re.compile(r"raw\(([^()]*)\)")
_ORIGIN = re.compile(r"^\[[^\]]*\]")

WATCH_ONLY = "Bóveda is watch-only: register the public key (xpub/tpub or hex); the key is not shown"


def check_descriptor(descriptor: str) -> str:
    """An output descriptor with a valid BIP-380 checksum (``…#abcdefgh``) that the book may hold."""
    if not isinstance(descriptor, str) or not descriptor.strip():
        raise BookError("a wallet needs an output descriptor")
    if len(descriptor) > MAX_DESCRIPTOR_CHARS:
        raise BookError(f"a descriptor has at most {MAX_DESCRIPTOR_CHARS} characters, this one {len(descriptor)}")
    check_watch_only(descriptor)
    body, sep, given = descriptor.partition("#")
    try:
        expected = checksum(body)
    except EmbitDescriptorError:
        raise BookError("bad descriptor: a character outside BIP-380's character set") from None
    if not sep:
        raise BookError(f"descriptor has no checksum: if it is right, it reads {body}#{expected}")
    if given != expected:
        # The right checksum is not offered: it would seal in whatever character was mistyped.
        raise BookError(f"descriptor checksum {given[:8]!r} does not match its text: a character is mistyped")
    check_multisig_keys(body)
    check_raw_scripts(body)
    return descriptor


def check_watch_only(descriptor: str) -> None:
    """BookError if the text holds an extended private key (xprv, tprv, SLIP-132 *prv) or a WIF private key,
    whether or not its base58 checksum is right (a mistyped private key is still secret)."""
    for match in _BASE58_RUN.finditer(descriptor):
        token = match.group()
        if _HEX_ONLY.fullmatch(token):
            continue  # a hex public key or script, not base58
        kind = _private_kind(token)
        if kind is not None:
            raise BookError(f"the descriptor holds {kind}; {WATCH_ONLY}")
    for prefix in _PRIVATE_PREFIXES:
        if re.search(rf"(?<![1-9A-HJ-NP-Za-km-z]){prefix}[1-9A-HJ-NP-Za-km-z]{{8,}}", descriptor):
            raise BookError(f"the descriptor holds an extended private key ({prefix}); {WATCH_ONLY}")


def _private_kind(token: str) -> str | None:
    if token.startswith(_PRIVATE_PREFIXES):
        return f"an extended private key ({token[:4]})"
    try:
        raw = base58.decode(token)
    except Exception:  # embit raises ValueError or IndexError on text it cannot read  # noqa: BLE001
        return None
    if len(raw) == _EXTENDED_KEY_BYTES and (raw[:4] in _PRIVATE_VERSIONS or raw[45] == 0):
        return "an extended private key"  # BIP-32 writes a private key as 0x00 || k at byte 45
    if len(raw) in (37, 38) and raw[0] in _WIF_VERSIONS and (len(raw) == 37 or raw[33] == 1):
        return "a private key (WIF)"
    return None


def check_multisig_keys(body: str) -> None:
    """BookError if one multi()/sortedmulti() with a threshold above 1 names the same key twice: a "2-of-2"
    one key holder controls."""
    for match in _MULTI.finditer(body):
        arguments = _arguments(body, match.end())
        if arguments and arguments[0].strip() in ("0", "1"):
            continue
        seen: dict[str, int] = {}
        for number, key in enumerate(arguments[1:], start=1):
            bare = _ORIGIN.sub("", key.strip())
            bare = bare.lower() if _HEX_ONLY.fullmatch(bare) else bare
            if bare in seen:
                name = match.group()[:-1]
                raise BookError(f"{name}() names one key twice (keys {seen[bare]} and {number}): its threshold "
                                "would be met by fewer signers than it says")
            seen[bare] = number


def _arguments(text: str, start: int) -> list[str]:
    """The comma-separated arguments of the call whose '(' ends at `start`, split at its own depth."""
    parts, depth, begin = [], 0, start
    for position in range(start, len(text)):
        character = text[position]
        if character in "([{":
            depth += 1
        elif character in ")]}":
            if depth == 0:
                parts.append(text[begin:position])
                return parts
            depth -= 1
        elif character == "," and depth == 0:
            parts.append(text[begin:position])
            begin = position + 1
    return parts  # unclosed: the wallets layer's parser names that


def check_raw_scripts(body: str) -> None:
    """BookError if a raw() script is longer than any script a node would spend (10,000 bytes)."""
    for match in _RAW.finditer(body):
        size = len(match.group(1)) // 2
        if size > MAX_RAW_SCRIPT_BYTES:
            raise BookError(f"raw() holds a script of {size} bytes; a script has at most {MAX_RAW_SCRIPT_BYTES}")
