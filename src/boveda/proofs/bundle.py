"""The proof bundle: versioned JSON (docs/proof-bundle.md; docs/proof-bundle.schema.json for version 1,
docs/proof-bundle-v2.schema.json for version 2), its value types, and a strict parser that names the field
it refuses."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from boveda import strict_json
from boveda.bitcoin.network import Network
from boveda.book.checks import (
    MAX_HEIGHT,
    MAX_ID,
    TEXT_MAX_CHARS,
    check_case_number,
    check_code,
    check_wallet_name,
    parse_date,
)
from boveda.book.errors import BookError
from boveda.money import MAX_MONEY_SAT
from boveda.outfiles import write_text
from boveda.proofs.challenge import ProofError, check_challenge, liabilities_digest, proof_message
from boveda.text import unsafe_character

BUNDLE_VERSION = 1  # a reserve's bundle of per-address proofs, as every Bóveda reads it
FUNDS_VERSION = 2  # adds proofs of funds (one per wallet) and custody holdings
VERSIONS = (BUNDLE_VERSION, FUNDS_VERSION)
PROOF_FORMATS = ("simple", "full")
FUNDS_FORMAT = "funds"  # an address whose coins a proof of funds of the bundle spends
LIABILITY_KINDS = ("restitution", "sharing", "release")
MAX_BUNDLE_BYTES = 256 * 1024 * 1024
MAX_DEPTH = 8  # top > addresses > address > utxos > utxo is 5 deep
MAX_SCRIPT_BYTES = 10_000
MAX_VOUT = 0xFFFFFFFF
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX = re.compile(rf"(?:[0-9a-f]{{2}}){{1,{MAX_SCRIPT_BYTES}}}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ADDRESS = re.compile(rf"[A-Za-z0-9]{{1,90}}|script:(?:[0-9a-f]{{2}}){{1,{MAX_SCRIPT_BYTES}}}")
_BASE64 = re.compile(r"[A-Za-z0-9+/]{1,200000}={0,2}")
_PROOF_FORMAT = re.compile("|".join(PROOF_FORMATS))
_CREDITOR = re.compile(r"external:victims|external:claimant|partner:[A-Z0-9][A-Z0-9_-]{0,31}")


@dataclass(frozen=True, slots=True)
class ProvenUtxo:
    txid_hex: str  # as block explorers show it
    vout: int
    value_sat: int
    height: int

    def to_json(self) -> dict:
        return {"txid": self.txid_hex, "vout": self.vout, "value_sat": self.value_sat, "height": self.height}


@dataclass(frozen=True, slots=True)
class AddressProof:
    address: str
    script_pubkey: bytes
    wallet: str | None
    balance_sat: int
    utxos: tuple[ProvenUtxo, ...]
    proof: str | None  # BIP-322, base64; None in an unsigned bundle, or when a proof of funds covers it
    proof_format: str | None  # "simple", "full", or "funds" (proved by a proof of funds); None when unsigned

    def to_json(self) -> dict:
        return {
            "address": self.address,
            "script_pubkey": self.script_pubkey.hex(),
            "wallet": self.wallet,
            "balance_sat": self.balance_sat,
            "utxos": [u.to_json() for u in self.utxos],
            "proof": self.proof,
            "proof_format": self.proof_format,
        }


@dataclass(frozen=True, slots=True)
class FundsProof:
    """One wallet's BIP-322 proof of funds (version 2): a full to_sign whose first input spends the to_spend of
    the message for `address`, and whose further inputs spend the wallet's listed coins."""

    wallet: str | None  # informative, not checked
    address: str
    script_pubkey: bytes
    proof: str | None  # base64 of the signed to_sign; None until `boveda prove finalize`

    def to_json(self) -> dict:
        return {"wallet": self.wallet, "address": self.address, "script_pubkey": self.script_pubkey.hex(),
                "proof": self.proof}


@dataclass(frozen=True, slots=True)
class Liability:
    """What the book says the reserve owes at the height and the chain has not paid yet (docs/proof-bundle.md)."""

    kind: str  # restitution | sharing | release
    creditor: str  # the account owed: external:victims, partner:CODE, external:claimant
    amount_sat: int
    entry_id: int
    effective_date: str  # YYYY-MM-DD
    authority_ref: str | None
    txids: tuple[str, ...]

    def to_json(self) -> dict:
        return {
            "kind": self.kind,
            "creditor": self.creditor,
            "amount_sat": self.amount_sat,
            "entry_id": self.entry_id,
            "effective_date": self.effective_date,
            "authority_ref": self.authority_ref,
            "txids": list(self.txids),
        }


@dataclass(frozen=True, slots=True)
class ProofBundle:
    reserve: str | None  # the reserve's code; None in a custody holding's bundle
    network: Network
    height: int
    block_hash_hex: str
    challenge: str
    scan_from_height: int
    addresses: tuple[AddressProof, ...]
    liabilities: tuple[Liability, ...]
    assets_sat: int
    liabilities_sat: int
    net_sat: int
    message: str = ""  # as stored; `expected_message` is what the fields define
    version: int = BUNDLE_VERSION
    custody: str | None = None  # the case number of a custody holding's bundle (version 2)
    funds_proofs: tuple[FundsProof, ...] = ()  # version 2

    def __post_init__(self) -> None:
        if self.version == BUNDLE_VERSION and (self.custody is not None or self.funds_proofs):
            raise ProofError("a version 1 bundle holds neither proofs of funds nor a custody holding")
        if (self.reserve is None) == (self.custody is None):
            raise ProofError("a bundle proves one holding: a reserve or a custody case")

    @property
    def holder(self) -> str:
        """Whose bundle it is, in words: `reserve SV` or `custody 1:13-cr-00950`."""
        return f"reserve {self.reserve}" if self.custody is None else f"custody {self.custody}"

    @property
    def expected_message(self) -> str:
        """The message the fields define: the only one a verifier checks proofs against."""
        return proof_message(
            reserve=self.reserve, custody=self.custody, network=self.network, height=self.height,
            block_hash_hex=self.block_hash_hex, challenge=self.challenge,
            liabilities_sha256=liabilities_digest([x.to_json() for x in self.liabilities]),
        )

    @property
    def is_signed(self) -> bool:
        return all(a.proof is not None or a.proof_format == FUNDS_FORMAT for a in self.addresses) and all(
            f.proof is not None for f in self.funds_proofs)

    def with_proofs(self, proofs: dict[str, tuple[str, str]]) -> ProofBundle:
        """A copy with address -> (proof, format) filled in."""
        addresses = tuple(
            replace(a, proof=proofs[a.address][0], proof_format=proofs[a.address][1]) if a.address in proofs else a
            for a in self.addresses
        )
        return replace(self, addresses=addresses)

    def to_json(self) -> dict:
        document = {
            "version": self.version,
            "reserve": self.reserve,
            "network": self.network.value,
            "height": self.height,
            "block_hash": self.block_hash_hex,
            "challenge": self.challenge,
            "message": self.message,
            "scan_from_height": self.scan_from_height,
            "addresses": [a.to_json() for a in self.addresses],
            "liabilities": [x.to_json() for x in self.liabilities],
            "totals": {"assets_sat": self.assets_sat, "liabilities_sat": self.liabilities_sat, "net_sat": self.net_sat},
        }
        if self.version >= FUNDS_VERSION:
            document["custody"] = self.custody
            document["funds_proofs"] = [f.to_json() for f in self.funds_proofs]
        return document

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"


def write_bundle(bundle: ProofBundle, path: Path, *, force: bool = False) -> None:
    """Writes the bundle to a new file (an existing one only with `force`); never half-written."""
    write_text(path, bundle.dumps(), force=force)


def load_bundle(path: Path | str) -> ProofBundle:
    """Reads and strictly parses a bundle file; ProofError names what is wrong."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BUNDLE_BYTES + 1)
        text = data.decode("utf-8")
    except FileNotFoundError:
        raise ProofError(f"no bundle file at {path}") from None
    except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise ProofError(f"cannot read the bundle {path}: {getattr(exc, 'strerror', None) or 'not UTF-8 text'}"
                         ) from None
    if len(data) > MAX_BUNDLE_BYTES:
        raise ProofError(f"{path} is over {MAX_BUNDLE_BYTES // (1024 * 1024)} MiB: not a bundle this reader accepts")
    return parse_bundle_text(text, where=str(path))


def parse_bundle_text(text: str, *, where: str = "the bundle") -> ProofBundle:
    """A bundle from its JSON text, read strictly (docs/proof-bundle.md): a key twice in one object, a
    float, an integer of more than 20 digits or nesting deeper than a bundle's is refused."""
    try:
        document = strict_json.loads(text, max_depth=MAX_DEPTH)
    except strict_json.StrictJSONError as exc:
        raise ProofError(f"{where} is not JSON this reader accepts: {exc}") from None
    return parse_bundle(document)


# -- strict parsing ------------------------------------------------------------------------


def _fields(document: Any, where: str, required: tuple[str, ...], version: int = BUNDLE_VERSION) -> dict:
    if not isinstance(document, dict):
        raise ProofError(f"bundle field {where} must be an object")
    for name in required:
        if name not in document:
            raise ProofError(f"bundle field {where}.{name} is missing" if where != "(top)" else
                             f"bundle field {name} is missing")
    unknown = sorted(set(document) - set(required))
    if unknown:
        raise ProofError(f"bundle field {_join(where, unknown[0])} is not part of bundle version {version}")
    return document


def _join(where: str, name: str) -> str:
    return name if where == "(top)" else f"{where}.{name}"


def _int(value: Any, field: str, *, minimum: int = 0, maximum: int = MAX_MONEY_SAT) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProofError(f"bundle field {field} must be an integer, not {_quoted(value)}")
    if value < minimum:
        raise ProofError(f"bundle field {field} must be at least {minimum}, not {value}")
    if value > maximum:
        raise ProofError(f"bundle field {field} must be at most {maximum}, not {_quoted(value)}")
    return value


def _quoted(value: Any) -> str:
    """A refused value in a message: JSON with every non-ASCII character escaped, cut short."""
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:40] + "…"


_FORMS = {id(_HEX64): "64 lowercase hex digits", id(_HEX): f"lowercase hex of at most {MAX_SCRIPT_BYTES} bytes",
          id(_DATE): "a date YYYY-MM-DD", id(_ADDRESS): "an address (letters and digits) or script:HEX",
          id(_BASE64): "base64", id(_PROOF_FORMAT): f"one of {', '.join(PROOF_FORMATS)}",
          id(_CREDITOR): "external:victims, external:claimant or partner:CODE"}


def _str(value: Any, field: str, *, pattern: re.Pattern | None = None, nullable: bool = False) -> str | None:
    """A string field; without a pattern, printable text of at most 500 characters (one line)."""
    if value is None and nullable:
        return None
    if not isinstance(value, str) or (pattern is not None and not pattern.fullmatch(value)) or (
            pattern is None and (len(value) > TEXT_MAX_CHARS or unsafe_character(value) is not None)):
        form = ("one line of printable text of at most 500 characters" if pattern is None
                else _FORMS[id(pattern)])
        raise ProofError(f"bundle field {field} must be {form}{' or null' if nullable else ''}, not {_quoted(value)}")
    return value


def _checked(value: Any, field: str, check: Callable[[str], Any], form: str, *, nullable: bool = False) -> Any:
    """A string field the book's own check accepts (a reserve code, a wallet name, a date)."""
    if value is None and nullable:
        return None
    try:
        if not isinstance(value, str):
            raise BookError("not a string")
        return check(value)
    except BookError:
        raise ProofError(f"bundle field {field} must be {form}{' or null' if nullable else ''}, "
                         f"not {_quoted(value)}") from None


def _list(value: Any, field: str, parse: Callable[[Any, str], Any]) -> tuple:
    if not isinstance(value, list):
        raise ProofError(f"bundle field {field} must be a list")
    return tuple(parse(item, f"{field}[{i}]") for i, item in enumerate(value))


def _utxo(document: Any, where: str) -> ProvenUtxo:
    d = _fields(document, where, ("txid", "vout", "value_sat", "height"))
    return ProvenUtxo(_str(d["txid"], f"{where}.txid", pattern=_HEX64),
                      _int(d["vout"], f"{where}.vout", maximum=MAX_VOUT), _int(d["value_sat"], f"{where}.value_sat"),
                      _int(d["height"], f"{where}.height", maximum=MAX_HEIGHT))


def _address(document: Any, where: str, version: int) -> AddressProof:
    d = _fields(document, where, ("address", "script_pubkey", "wallet", "balance_sat", "utxos", "proof",
                                  "proof_format"))
    proof = _str(d["proof"], f"{where}.proof", pattern=_BASE64, nullable=True)
    funds = version >= FUNDS_VERSION and d["proof_format"] == FUNDS_FORMAT
    proof_format = FUNDS_FORMAT if funds else _str(d["proof_format"], f"{where}.proof_format",
                                                   pattern=_PROOF_FORMAT, nullable=True)
    if funds and proof is not None:
        raise ProofError(f"bundle field {where}.proof must be null when proof_format is {FUNDS_FORMAT} (the "
                         "wallet's proof of funds proves it)")
    if not funds and (proof is None) != (proof_format is None):
        raise ProofError(f"bundle field {where}.proof_format must be one of {', '.join(PROOF_FORMATS)} "
                         "(null only when proof is null)")
    return AddressProof(
        address=_str(d["address"], f"{where}.address", pattern=_ADDRESS),
        script_pubkey=bytes.fromhex(_str(d["script_pubkey"], f"{where}.script_pubkey", pattern=_HEX)),
        wallet=_checked(d["wallet"], f"{where}.wallet", check_wallet_name, "a wallet name (letters, digits, '.', "
                        "'_', '-')", nullable=True),
        balance_sat=_int(d["balance_sat"], f"{where}.balance_sat"),
        utxos=_list(d["utxos"], f"{where}.utxos", _utxo),
        proof=proof,
        proof_format=proof_format,
    )


def _funds_proof(document: Any, where: str) -> FundsProof:
    d = _fields(document, where, ("wallet", "address", "script_pubkey", "proof"))
    return FundsProof(
        wallet=_checked(d["wallet"], f"{where}.wallet", check_wallet_name, "a wallet name (letters, digits, '.', "
                        "'_', '-')", nullable=True),
        address=_str(d["address"], f"{where}.address", pattern=_ADDRESS),
        script_pubkey=bytes.fromhex(_str(d["script_pubkey"], f"{where}.script_pubkey", pattern=_HEX)),
        proof=_str(d["proof"], f"{where}.proof", pattern=_BASE64, nullable=True),
    )


def _liability(document: Any, where: str) -> Liability:
    d = _fields(document, where, ("kind", "creditor", "amount_sat", "entry_id", "effective_date", "authority_ref",
                                  "txids"))
    kind = d["kind"]
    if kind not in LIABILITY_KINDS:
        raise ProofError(f"bundle field {where}.kind must be one of {', '.join(LIABILITY_KINDS)}, not {_quoted(kind)}")
    effective_date = _str(d["effective_date"], f"{where}.effective_date", pattern=_DATE)
    _checked(effective_date, f"{where}.effective_date", parse_date, "a date YYYY-MM-DD")
    return Liability(
        kind=kind,
        creditor=_str(d["creditor"], f"{where}.creditor", pattern=_CREDITOR),
        amount_sat=_int(d["amount_sat"], f"{where}.amount_sat"),
        entry_id=_int(d["entry_id"], f"{where}.entry_id", minimum=1, maximum=MAX_ID),
        effective_date=effective_date,
        authority_ref=_str(d["authority_ref"], f"{where}.authority_ref", nullable=True),
        txids=_list(d["txids"], f"{where}.txids", lambda v, f: _str(v, f, pattern=_HEX64)),
    )


_TOP = ("version", "reserve", "network", "height", "block_hash", "challenge", "message", "scan_from_height",
        "addresses", "liabilities", "totals")
_TOP_V2 = (*_TOP, "custody", "funds_proofs")
_RESERVE_FORM = "a reserve code (1-32 capital letters, digits, '-', '_')"


def parse_bundle(document: Any) -> ProofBundle:
    """A bundle from its JSON document; ProofError for an unknown version or any malformed field.

    Only the form is checked here; whether the numbers and proofs are right is `verify`'s job.
    """
    if not isinstance(document, dict):
        raise ProofError("a proof bundle is a JSON object")
    if "version" not in document:
        raise ProofError("bundle field version is missing")
    version = _int(document["version"], "version", maximum=MAX_ID)
    if version not in VERSIONS:
        raise ProofError(f"bundle version {version} is not known to this Bóveda (it reads versions "
                         f"{BUNDLE_VERSION} and {FUNDS_VERSION})")
    d = _fields(document, "(top)", _TOP_V2 if version >= FUNDS_VERSION else _TOP, version)
    network_name = d["network"]
    try:
        network = Network(network_name)
    except ValueError:
        raise ProofError(f"bundle field network must be one of {', '.join(n.value for n in Network)}, "
                         f"not {_quoted(network_name)}") from None
    challenge = d["challenge"]
    try:
        check_challenge(challenge)
    except ProofError as exc:
        raise ProofError(f"bundle field challenge: {exc}") from None
    message = d["message"]
    if not isinstance(message, str) or len(message) > 2_000 or unsafe_character(message.replace("\n", "")):
        raise ProofError("bundle field message must be the text of the signed message: lines of printable text")
    totals = _fields(d["totals"], "totals", ("assets_sat", "liabilities_sat", "net_sat"))
    custody = None
    if version >= FUNDS_VERSION:
        custody = _checked(d["custody"], "custody", check_case_number, "a case number", nullable=True)
    reserve = _checked(d["reserve"], "reserve", check_code, _RESERVE_FORM, nullable=custody is not None)
    if reserve is not None and custody is not None:
        raise ProofError("bundle fields reserve and custody are both set: a bundle proves one holding")
    return ProofBundle(
        reserve=reserve,
        custody=custody,
        funds_proofs=_list(d["funds_proofs"], "funds_proofs", _funds_proof) if version >= FUNDS_VERSION else (),
        network=network,
        height=_int(d["height"], "height", maximum=MAX_HEIGHT),
        block_hash_hex=_str(d["block_hash"], "block_hash", pattern=_HEX64),
        challenge=challenge,
        scan_from_height=_int(d["scan_from_height"], "scan_from_height", maximum=MAX_HEIGHT),
        addresses=_list(d["addresses"], "addresses", lambda item, where: _address(item, where, version)),
        liabilities=_list(d["liabilities"], "liabilities", _liability),
        assets_sat=_int(totals["assets_sat"], "totals.assets_sat"),
        liabilities_sat=_int(totals["liabilities_sat"], "totals.liabilities_sat"),
        net_sat=_int(totals["net_sat"], "totals.net_sat", minimum=-MAX_MONEY_SAT),
        message=message,
        version=version,
    )
