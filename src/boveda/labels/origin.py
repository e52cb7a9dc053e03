"""BIP-329's `origin`: an abbreviated output descriptor (BIP-380) naming the wallet a label belongs to —
its script functions and key origins, with no key, no child path and no checksum:
``wpkh([d34db33f/84'/0'/0'])``, ``wsh(sortedmulti(2,[…/48'/0'/0'/2'],[…]))``.
"""

from __future__ import annotations

import re

from boveda.labels.jsonline import LineError
from boveda.text import SHOWN_CHARS

KeyOrigin = tuple[str, tuple[str, ...]]  # (fingerprint in lowercase hex, path steps with hardening written "h")

_TOKEN_RE = re.compile(r"[a-z_]+\(|\[[^\[\]]*\]|[0-9]+|[(),{}]")
_KEY_ORIGIN_RE = re.compile(r"\[([0-9a-fA-F]{8})((?:/[0-9]+['hH]?)*)\]")
_STEP_RE = re.compile(r"([0-9]+)(['hH]?)")
HARDENED = 0x80000000


def _quoted(text: str) -> str:
    return repr(text) if len(text) <= SHOWN_CHARS else repr(text[:SHOWN_CHARS] + "…")


def check_origin(text: str) -> tuple[KeyOrigin, ...]:
    """The key origins `text` names, in order; LineError unless it is an abbreviated descriptor."""
    if "#" in text:
        raise LineError("an origin carries no checksum: drop the #… at its end")
    pos, depth, origins, tokens = 0, 0, [], []
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            rest = text[pos:]
            what = "a key or a child path" if rest[:1] == "/" or rest[:1].isalnum() else "an unexpected character"
            raise LineError(f"the origin {_quoted(text)} holds {what} at column {pos + 1}: an origin names only script "
                            "functions and key origins such as wpkh([d34db33f/84'/0'/0'])")
        tokens.append(match.group())
        pos = match.end()
    for number, token in enumerate(tokens):
        if token.endswith("(") or token == "{":
            depth += 1
        elif token in (")", "}"):
            depth -= 1
        if depth <= 0 and number < len(tokens) - 1:
            depth = -1  # closed before its end, or never opened: not one descriptor
            break
        elif token.startswith("["):
            origins.append(_key_origin(token, text))
    if depth != 0 or not tokens or not tokens[0].endswith("(") or tokens[-1] != ")":
        raise LineError(f"the origin {_quoted(text)} is not a descriptor such as wpkh([d34db33f/84'/0'/0']): "
                        "its parentheses do not close it")
    if not origins:
        raise LineError(f"the origin {_quoted(text)} names no key origin [fingerprint/path]")
    return tuple(origins)


def _key_origin(token: str, text: str) -> KeyOrigin:
    match = _KEY_ORIGIN_RE.fullmatch(token)
    if match is None:
        raise LineError(f"the origin {_quoted(text)} has a key origin that is not [8 hex digits/path]: {_quoted(token)}")
    steps = []
    for step in match.group(2).split("/")[1:]:
        number, hardened = _STEP_RE.fullmatch(step).groups()  # type: ignore[union-attr]
        if int(number) >= HARDENED:
            raise LineError(f"the origin {_quoted(text)} has a path step {number} beyond 2^31-1")
        steps.append(f"{int(number)}{'h' if hardened else ''}")
    return match.group(1).lower(), tuple(steps)


def key_origins_in(descriptor: str) -> frozenset[KeyOrigin]:
    """Every key origin ``[fingerprint/path]`` written in a full descriptor (a wallet's)."""
    found = set()
    for match in _KEY_ORIGIN_RE.finditer(descriptor):
        steps = tuple(f"{int(n)}{'h' if h else ''}" for n, h in
                      (_STEP_RE.fullmatch(s).groups() for s in match.group(2).split("/")[1:]))  # type: ignore[union-attr]
        found.add((match.group(1).lower(), steps))
    return frozenset(found)
