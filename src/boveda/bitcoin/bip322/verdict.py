"""BIP-322's outcomes: valid, invalid or inconclusive, with the reason, for a proof of one format."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ProofFormat(enum.Enum):
    SIMPLE = "simple"  # the to_sign witness stack, base64
    FULL = "full"  # the whole signed to_sign transaction, base64
    LEGACY = "legacy"  # a P2PKH "Bitcoin Signed Message" compact signature, base64


class Verdict(enum.Enum):
    """BIP-322's three outcomes."""

    VALID = "valid"
    INCONCLUSIVE = "inconclusive"  # not checkable here: a script we do not interpret, or an upgradeable rule
    INVALID = "invalid"


class Reason(enum.Enum):
    OK = "ok"
    UNDECODABLE = "undecodable"  # not canonical base64, not a witness stack or transaction, trailing bytes
    NOT_A_TO_SIGN = "not_a_to_sign"  # full format: inputs or outputs not as BIP-322 lays them out
    OTHER_MESSAGE_OR_ADDRESS = "other_message_or_address"  # full format: spends the to_spend of another challenge
    WITNESS_MISMATCH = "witness_mismatch"  # wrong number of witness items, unexpected witness or scriptSig
    WRONG_KEY = "wrong_key"  # the key or script given does not hash to the address
    MALFORMED_SIGNATURE = "malformed_signature"  # not strict DER, wrong Schnorr size, bad public key encoding
    HASH_TYPE = "hash_type"  # not SIGHASH_ALL (or taproot's DEFAULT); 0x00 spelt out on a taproot signature
    HIGH_S = "high_s"
    BAD_SIGNATURE = "bad_signature"  # the signature does not verify: other message, other key, altered bytes
    SCRIPT_FAILED = "script_failed"  # the script evaluates to false or breaks a required rule
    UNSUPPORTED_SCRIPT = "unsupported_script"
    UPGRADEABLE_RULE = "upgradeable_rule"  # to_sign version not 0/2, witness version above 1
    PROOF_OF_FUNDS = "proof_of_funds"  # proofs with extra inputs need the UTXO set; not supported


@dataclass(frozen=True, slots=True)
class Verification:
    """The outcome of checking one proof, with the reason when it is not valid.

    A valid full proof is "valid at time `locktime` and age `sequence`" (BIP-322); both are 0
    for simple and legacy proofs.
    """

    verdict: Verdict
    reason: Reason
    detail: str = ""
    proof_format: ProofFormat | None = None
    locktime: int = 0
    sequence: int = 0

    @property
    def is_valid(self) -> bool:
        return self.verdict is Verdict.VALID


class Refusal(Exception):
    """Raised inside verification; carries the verdict out to `verify`, which never raises for a bad proof."""

    def __init__(self, verdict: Verdict, reason: Reason, detail: str) -> None:
        self.verdict, self.reason, self.detail = verdict, reason, detail


def invalid(reason: Reason, detail: str) -> Refusal:
    return Refusal(Verdict.INVALID, reason, detail)


def inconclusive(reason: Reason, detail: str) -> Refusal:
    return Refusal(Verdict.INCONCLUSIVE, reason, detail)
