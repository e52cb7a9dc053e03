"""The message every address of a proof signs: it binds the reserve, network, block and the asker's nonce.

The text is fixed (docs/proof-bundle.md), UTF-8, lines joined by "\\n", no trailing newline:

    Bóveda proof of reserves v1
    reserve: SV                 (a custody holding's proof: "custody: <case number>")
    network: regtest
    height: 486
    block: <block hash, hex as block explorers show it>
    challenge: <nonce of whoever asked for the proof>
    liabilities: <SHA-256 hex of the canonical JSON of the bundle's liabilities list>

The last line makes the declared liabilities part of what the keys sign, so they cannot be edited
in a bundle without breaking every proof. A verifier rebuilds the message from the bundle's fields;
it never trusts a message string it is handed.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Sequence
from typing import Any

from boveda.bitcoin.network import Network
from boveda.errors import BovedaError
from boveda.text import unsafe_character

MESSAGE_TITLE = "Bóveda proof of reserves v1"
CHALLENGE_MAX_CHARS = 256
_HASH_RE = re.compile(r"[0-9a-f]{64}")


class ProofError(BovedaError):
    """A proof cannot be made, read or checked as asked (bad input, not a failed check)."""


def new_nonce() -> str:
    """A fresh random challenge (128 bits, hex) for when the asker gave none."""
    return secrets.token_hex(16)


def check_challenge(text: str) -> str:
    """The challenge as given, or ProofError: one line of 1..256 printable characters (no control, line-separator
    or bidi character: it is signed into every proof and printed by every verifier)."""
    if not isinstance(text, str) or not text or len(text) > CHALLENGE_MAX_CHARS or unsafe_character(text):
        raise ProofError(
            f"challenge must be one line of 1 to {CHALLENGE_MAX_CHARS} printable characters (no newline, tab, "
            "control or bidi character)"
        )
    return text


def canonical_json(document: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the form hashed into the message (as the audit log does)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def liabilities_digest(liabilities_json: Sequence[dict]) -> str:
    return hashlib.sha256(canonical_json(list(liabilities_json))).hexdigest()


def proof_message(
    *, reserve: str | None, network: Network, height: int, block_hash_hex: str, challenge: str,
    liabilities_sha256: str, custody: str | None = None,
) -> str:
    """The text each address signs (BIP-322, UTF-8): a reserve's (`reserve` given) or a custody holding's."""
    if not _HASH_RE.fullmatch(block_hash_hex) or not _HASH_RE.fullmatch(liabilities_sha256):
        raise ProofError("block hash and liabilities digest must be 64 lowercase hex digits")
    if (reserve is None) == (custody is None):
        raise ProofError("a proof is of one holding: a reserve or a custody case, not both or neither")
    check_challenge(challenge)
    return "\n".join((
        MESSAGE_TITLE,
        f"reserve: {reserve}" if custody is None else f"custody: {custody}",
        f"network: {network.value}",
        f"height: {height}",
        f"block: {block_hash_hex}",
        f"challenge: {challenge}",
        f"liabilities: {liabilities_sha256}",
    ))
