"""BIP-322 generic signed messages: to_spend/to_sign, simple and full proofs, signing and verification.

Verification is our own: the signature hashes of `boveda.bitcoin.sighash` over to_sign, and
libsecp256k1 (coincurve) for the signatures. It knows P2WPKH, P2WSH k-of-n multisig, P2TR key
path, P2SH-wrapped P2WPKH/P2WSH and P2PKH (full format), and legacy P2PKH message signatures,
and applies the BIP's required rules (SIGHASH_ALL, strict DER, low S, ...). Any other script is
*inconclusive*, as the BIP tells a validator without a full interpreter to answer.
tests/test_bip322.py checks the verdicts against Bitcoin Core's interpreter.

Modules, in the BIP's words: `transactions` (to_spend, to_sign), `formats` (simple, full,
legacy), `sign`, `verify` with `spends` (per script type) and `signatures` (the signature
rules), and `verdict` (valid / invalid / inconclusive and why).
"""

from boveda.bitcoin.bip322.formats import base64_text as _base64
from boveda.bitcoin.bip322.formats import decode_base64 as _decode_base64
from boveda.bitcoin.bip322.formats import encode_full, encode_simple
from boveda.bitcoin.bip322.sign import sign_p2tr, sign_p2wpkh, sign_p2wsh_multisig
from boveda.bitcoin.bip322.signatures import SECP256K1_HALF_ORDER
from boveda.bitcoin.bip322.transactions import MESSAGE_TAG, TO_SIGN_SCRIPT_PUBKEY, message_hash, to_sign, to_spend
from boveda.bitcoin.bip322.verdict import ProofFormat, Reason, Verdict, Verification
from boveda.bitcoin.bip322.verify import verify, verify_address
from boveda.bitcoin.script import parse_multisig as _multisig_template
from boveda.bitcoin.tx import decode_witness, encode_witness

__all__ = [
    "MESSAGE_TAG",
    "SECP256K1_HALF_ORDER",
    "TO_SIGN_SCRIPT_PUBKEY",
    "ProofFormat",
    "Reason",
    "Verdict",
    "Verification",
    "decode_witness",
    "encode_full",
    "encode_simple",
    "encode_witness",
    "message_hash",
    "sign_p2tr",
    "sign_p2wpkh",
    "sign_p2wsh_multisig",
    "to_sign",
    "to_spend",
    "verify",
    "verify_address",
]
