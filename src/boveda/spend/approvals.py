"""Officials' approvals: their keys, the digest of a proposal they sign, and the BIP-322 check.

An approver is a name and a public key: 33 bytes compressed (its P2WPKH address signs) or 32 bytes
x-only (its BIP-86 P2TR address signs). The message signed is the proposal's digest as 64 hex
digits — what ``spend propose`` and ``spend status`` print — and a signature is valid only under
BIP-322 for that key's address: a typed name approves nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence

import coincurve

from boveda.bitcoin import bip322, script, taproot
from boveda.bitcoin.address import script_to_address
from boveda.bitcoin.network import Network
from boveda.errors import CodecError
from boveda.spend.errors import PolicyRefusal, SpendError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_KEY = re.compile(r"(?:0[23][0-9a-f]{64})|[0-9a-f]{64}")
DIGEST_VERSION = "boveda-spend-proposal/1"


def parse_approvers(text: str) -> tuple[tuple[str, str], ...]:
    """``NAME=PUBKEY,…`` → ((name, key hex), …); SpendError on a bad or repeated name or key."""
    found: list[tuple[str, str]] = []
    for part in (p.strip() for p in text.split(",")):
        name, sep, key = part.partition("=")
        name, key = name.strip(), key.strip().lower()
        if not sep or not _NAME.fullmatch(name):
            raise SpendError(f"bad approver {part[:80]!r}: write NAME=PUBKEY (a name of letters, digits, '._@-')")
        if not _KEY.fullmatch(key):
            raise SpendError(f"bad key for approver {name}: a compressed public key (66 hex digits) or an x-only "
                             "one (64)")
        approver_script(key)  # on the curve
        found.append((name, key))
    names, keys = [n for n, _ in found], [k for _, k in found]
    if len(set(names)) != len(names) or len(set(keys)) != len(keys):
        raise SpendError("each approver and each key appears once in a policy")
    return tuple(found)


def approver_script(public_key_hex: str) -> bytes:
    """The output script whose BIP-322 signature is this approver's: P2WPKH, or BIP-86 P2TR for x-only."""
    key = bytes.fromhex(public_key_hex)
    try:
        if len(key) == 32:
            return script.p2tr(taproot.output_key(key))
        coincurve.PublicKey(key)
        return script.p2wpkh(key)
    except (CodecError, ValueError):
        raise SpendError(f"approver key {public_key_hex[:16]}… is not a point on secp256k1") from None


def approver_address(public_key_hex: str, network: Network) -> str:
    return script_to_address(approver_script(public_key_hex), network)


def proposal_digest(*, proposal_id: int, holding: str, unsigned_txid: str, outputs: Sequence[tuple[bytes, int]],
                    fee_sat: int, purpose: str, order_ref: str, counterparty: str, lot_id: int | None) -> str:
    """SHA-256 of the canonical JSON of what an approval authorises: the unsigned transaction (its txid
    fixes the inputs and outputs), the outputs and fee spelt out, and the authority."""
    document = {
        "version": DIGEST_VERSION, "proposal_id": proposal_id, "holding": holding, "unsigned_txid": unsigned_txid,
        "outputs": [[s.hex(), v] for s, v in outputs], "fee_sat": fee_sat, "purpose": purpose,
        "order_ref": order_ref, "counterparty": counterparty, "lot_id": lot_id,
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_approval(name: str, public_key_hex: str | None, digest: str, signature: str, proposal_id: int) -> None:
    """PolicyRefusal unless ``signature`` is a valid BIP-322 signature by ``name``'s key over ``digest``."""
    if public_key_hex is None:
        raise PolicyRefusal("approver-known", f"{name} is not an approver of this holding's policy (see boveda "
                                              "policy set)")
    signature = signature.strip()
    verdict = bip322.verify(approver_script(public_key_hex), digest, signature)
    if not verdict.is_valid:
        raise PolicyRefusal("approval-signature", f"the signature is not {name}'s key ({public_key_hex[:16]}…) over "
                                                  f"proposal {proposal_id}'s digest {digest} (BIP-322: "
                                                  f"{verdict.verdict.value}, {verdict.detail or verdict.reason.value})")
