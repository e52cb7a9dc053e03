"""`boveda verify`: a proof bundle checked against a Bitcoin Core data directory, with no book at all.

Two stages: `read_chain` asks the node what the bundle's claims can be checked against (is the
block in the active chain, which coins the bundle's scripts held after it), and `check` — pure —
compares, naming every failure. Proofs are checked against the message rebuilt from the bundle's
fields, never against the message string the bundle carries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from boveda.bitcoin import bip322
from boveda.bitcoin.network import Network
from boveda.bitcoin.tx import TxOut
from boveda.chain.blockfiles import BlockFileSource
from boveda.chain.scanner import Credit, Scanner
from boveda.chain.source import ChainSource
from boveda.proofs.bundle import FUNDS_FORMAT, AddressProof, FundsProof, ProofBundle, ProvenUtxo
from boveda.proofs.challenge import ProofError
from boveda.proofs.funds import Coin, verify_funds
from boveda.wallets.report import address_of


@dataclass(frozen=True, slots=True)
class ChainFacts:
    """What the node says about a bundle: its tip, its block at the bundle's height, the scripts' coins."""

    tip_height: int
    block_hash_hex: str | None  # the active chain's block at the bundle's height; None above the tip
    unspent: dict[bytes, frozenset[ProvenUtxo]]  # per script: coins created from scan_from_height, unspent at height
    scanned_from: int
    scanned_to: int | None  # None when nothing could be scanned


@dataclass(frozen=True, slots=True)
class AddressCheck:
    address: str
    wallet: str | None
    claimed_sat: int
    chain_sat: int | None
    proof_verdict: bip322.Verdict | None  # None: the address carries no proof
    failures: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def proof_label(self) -> str:
        """``valid``, ``invalid``, ``inconclusive`` or ``missing``, as reports print it."""
        return "missing" if self.proof_verdict is None else self.proof_verdict.value

    def to_json(self) -> dict:
        return {"address": self.address, "wallet": self.wallet, "balance_sat": self.claimed_sat,
                "chain_balance_sat": self.chain_sat, "proof": self.proof_label, "ok": self.ok,
                "failures": list(self.failures)}


@dataclass(frozen=True, slots=True)
class VerificationReport:
    reserve: str | None  # None for a custody holding's bundle
    network: Network
    height: int
    block_hash_hex: str
    challenge: str
    addresses: tuple[AddressCheck, ...]
    assets_sat: int
    chain_assets_sat: int
    liabilities_sat: int
    net_sat: int
    failures: tuple[str, ...]  # every failure, the per-address ones included, each naming what failed
    custody: str | None = None

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def holder(self) -> str:
        return f"reserve {self.reserve}" if self.custody is None else f"custody {self.custody}"

    @property
    def verdict(self) -> str:
        """What the bundle proves, in one line: control of *at least* these coins at that block (a reserve may
        hold more than it proves; it proves nothing of keys it did not sign with)."""
        if self.ok:
            return (f"VERIFIED: {self.holder} controlled at least {self.chain_assets_sat} sat at height "
                    f"{self.height} in {len(self.addresses)} addresses; liabilities {self.liabilities_sat} sat; "
                    f"net {self.net_sat} sat")
        return f"FAILED: {len(self.failures)} check(s) failed for {self.holder} at height {self.height}"

    def with_failures(self, more: tuple[str, ...]) -> VerificationReport:
        """The report with further failures (found beyond this bundle, such as a coin another bundle claims)."""
        return replace(self, failures=self.failures + more) if more else self

    def to_json(self) -> dict:
        return {
            "reserve": self.reserve, **({"custody": self.custody} if self.custody is not None else {}),
            "network": self.network.value, "height": self.height,
            "block_hash": self.block_hash_hex, "challenge": self.challenge, "ok": self.ok, "verdict": self.verdict,
            "addresses": [a.to_json() for a in self.addresses],
            "totals": {"assets_sat": self.assets_sat, "chain_assets_sat": self.chain_assets_sat,
                       "liabilities_sat": self.liabilities_sat, "net_sat": self.net_sat},
            "failures": list(self.failures),
        }


# -- stage 1: the chain ----------------------------------------------------------------------


def read_chain(bundle: ProofBundle, kernel: ChainSource, files: ChainSource,
               on_block: Callable[[int], None] | None = None) -> ChainFacts:
    """The active chain's block at the bundle's height, and the coins its scripts held after it.

    The scan is the scanner's raw walk over blocks scan_from_height..height of the block files,
    whose active chain the kernel decides; it sees every coin paid to the scripts from
    scan_from_height on and follows it until spent.
    """
    tip_height = kernel.tip().height
    if bundle.height > tip_height:
        return ChainFacts(tip_height, None, {}, bundle.scan_from_height, None)
    block_hash_hex = kernel.hash_at(bundle.height)[::-1].hex()
    start = bundle.scan_from_height
    if start > bundle.height:
        return ChainFacts(tip_height, block_hash_hex, {}, start, None)
    scanner = Scanner({a.script_pubkey for a in bundle.addresses})
    for _event in scanner.scan(files, start, bundle.height,
                               on_block=(lambda block: on_block(block.height)) if on_block else None):
        pass  # the scanner keeps the unspent set; the events themselves are not needed
    unspent: dict[bytes, set[ProvenUtxo]] = defaultdict(set)
    for credit in scanner.unspent:
        unspent[credit.script_pubkey].add(_utxo(credit))
    return ChainFacts(tip_height, block_hash_hex, {s: frozenset(u) for s, u in unspent.items()}, start, bundle.height)


def _utxo(credit: Credit) -> ProvenUtxo:
    return ProvenUtxo(credit.txid[::-1].hex(), credit.vout, credit.value_sat, credit.height)


# -- stage 2: the comparison ------------------------------------------------------------------


def check(bundle: ProofBundle, facts: ChainFacts, *, expect_total_sat: int | None = None) -> VerificationReport:
    """Every check of docs/proof-bundle.md ("What verify checks"), as named failures.

    ``expect_total_sat`` is a figure published elsewhere (the reserve's announced holdings): the bundle
    fails unless it proves control of at least that many satoshis.
    """
    failures: list[str] = []
    if not bundle.addresses:
        failures.append("the bundle lists no address: it proves control of no coin")
    if facts.block_hash_hex is None:
        failures.append(f"block height {bundle.height} is above the chain's tip ({facts.tip_height})")
    elif facts.block_hash_hex != bundle.block_hash_hex:
        failures.append(f"block hash {bundle.block_hash_hex} is not the active chain's block at height "
                        f"{bundle.height} (that is {facts.block_hash_hex})")
    if bundle.scan_from_height > bundle.height:
        failures.append(f"scan_from_height {bundle.scan_from_height} is above the height {bundle.height}")
    message = bundle.expected_message
    if bundle.message != message:
        failures.append("the bundle's message field is not the message its fields define (proofs are checked "
                        "against the latter)")
    funds_proved: set[Coin] = set()
    for funds in bundle.funds_proofs:
        proved, funds_failures = _check_funds(bundle, funds, message, facts)
        funds_proved |= proved
        failures += funds_failures
    checks = []
    proved_sat: dict[Coin, int] = {}  # each coin proved on chain, once
    seen: set[bytes] = set()
    for address in bundle.addresses:
        address_check, coins = _check_address(bundle, address, message, facts, address.script_pubkey in seen,
                                              frozenset(funds_proved))
        checks.append(address_check)
        proved_sat.update(coins)
        seen.add(address.script_pubkey)
        failures += [f"{address.address}: {f}" for f in checks[-1].failures]
    chain_assets = sum(proved_sat.values())
    claimed = sum(a.balance_sat for a in bundle.addresses)
    if bundle.assets_sat != claimed:
        failures.append(f"totals.assets_sat is {bundle.assets_sat}, but the addresses' balances add up to {claimed}")
    owed = sum(x.amount_sat for x in bundle.liabilities)
    if bundle.liabilities_sat != owed:
        failures.append(f"totals.liabilities_sat is {bundle.liabilities_sat}, but the liabilities add up to {owed}")
    if bundle.net_sat != bundle.assets_sat - bundle.liabilities_sat:
        failures.append(f"totals.net_sat is {bundle.net_sat}, not assets − liabilities = "
                        f"{bundle.assets_sat - bundle.liabilities_sat}")
    if expect_total_sat is not None and chain_assets < expect_total_sat:
        failures.append(f"the published total is {expect_total_sat} sat, but the bundle proves control of "
                        f"{chain_assets} sat on chain: {expect_total_sat - chain_assets} sat are not proved")
    return VerificationReport(
        reserve=bundle.reserve, custody=bundle.custody, network=bundle.network, height=bundle.height,
        block_hash_hex=bundle.block_hash_hex,
        challenge=bundle.challenge, addresses=tuple(checks), assets_sat=bundle.assets_sat,
        chain_assets_sat=chain_assets, liabilities_sat=bundle.liabilities_sat, net_sat=bundle.net_sat,
        failures=tuple(failures),
    )


def _check_funds(bundle: ProofBundle, funds: FundsProof, message: str, facts: ChainFacts
                 ) -> tuple[set[Coin], list[str]]:
    """The coins a wallet's proof of funds proves (each checked against the chain's own output), and its failures."""
    name = f"proof of funds of wallet {funds.wallet or '(unnamed)'} ({funds.address})"
    failures = []
    if funds.address != address_of(funds.script_pubkey, bundle.network):
        failures.append(f"{name}: {funds.address} is not the {bundle.network.value} address of script "
                        f"{funds.script_pubkey.hex()}")
    if funds.script_pubkey not in {a.script_pubkey for a in bundle.addresses}:
        failures.append(f"{name}: its message address is not one of the bundle's addresses")
    if funds.proof is None:
        return set(), [*failures, f"{name}: has no proof (an unsigned bundle: boveda prove finalize)"]
    # Each coin's output as the verifier's own chain has it, for the coins the bundle lists (both routes
    # alike: the live one knows only listed coins): a proof spending any other coin proves nothing.
    listed = {(u.txid_hex, u.vout) for a in bundle.addresses for u in a.utxos}
    prevouts = {(u.txid_hex, u.vout): TxOut(u.value_sat, script)
                for script, coins in facts.unspent.items() for u in coins if (u.txid_hex, u.vout) in listed}
    result = verify_funds(funds.script_pubkey, message, funds.proof, prevouts)
    if not result.is_valid:
        failures.append(f"{name}: proof is {result.verdict.value} ({result.reason.value}: {result.detail})")
    return (set(result.proved) if not failures else set()), failures


def _check_address(bundle: ProofBundle, address: AddressProof, message: str, facts: ChainFacts, duplicate: bool,
                   funds_proved: frozenset[Coin]) -> tuple[AddressCheck, dict[Coin, int]]:
    """The address's checks, and the coins on chain it proves (coin -> satoshis): only those a valid
    signature covers."""
    failures = []
    if duplicate:
        failures.append("listed more than once")
    if address.address != address_of(address.script_pubkey, bundle.network):
        failures.append(f"is not the {bundle.network.value} address of script {address.script_pubkey.hex()}")
    listed = sum(u.value_sat for u in address.utxos)
    if listed != address.balance_sat:
        failures.append(f"balance_sat {address.balance_sat} is not the sum of its listed coins ({listed})")
    chain_sat = None
    if facts.scanned_to is not None:
        on_chain = facts.unspent.get(address.script_pubkey, frozenset())
        chain_sat = sum(u.value_sat for u in on_chain)
        if chain_sat != address.balance_sat:
            failures.append(f"balance_sat {address.balance_sat} differs from the chain's {chain_sat} at height "
                            f"{bundle.height}")
        for utxo in sorted(set(address.utxos) - on_chain, key=lambda u: (u.height, u.txid_hex, u.vout)):
            failures.append(f"coin {utxo.txid_hex}:{utxo.vout} ({utxo.value_sat} sat, height {utxo.height}) is not "
                            f"an unspent output of this script at height {bundle.height}")
        for utxo in sorted(on_chain - set(address.utxos), key=lambda u: (u.height, u.txid_hex, u.vout)):
            failures.append(f"coin {utxo.txid_hex}:{utxo.vout} ({utxo.value_sat} sat) is on chain but not listed")
    verdict: bip322.Verdict | None = None
    on_chain_coins = {(u.txid_hex, u.vout): u.value_sat for u in facts.unspent.get(address.script_pubkey, ())} \
        if facts.scanned_to is not None else {}
    if address.proof_format == FUNDS_FORMAT:
        uncovered = [u for u in address.utxos if (u.txid_hex, u.vout) not in funds_proved]
        for utxo in uncovered:
            failures.append(f"coin {utxo.txid_hex}:{utxo.vout} is not spent by a valid proof of funds of the bundle")
        verdict = bip322.Verdict.INVALID if uncovered or not address.utxos else bip322.Verdict.VALID
        proved = {coin: value for coin, value in on_chain_coins.items() if coin in funds_proved}
    elif address.proof is None:
        failures.append("has no proof (an unsigned bundle: boveda prove finalize)")
    else:
        result = bip322.verify(address.script_pubkey, message, address.proof)
        verdict = result.verdict
        if not result.is_valid:
            failures.append(f"proof is {verdict.value} ({result.reason.value}: {result.detail})")
        elif address.proof_format != result.proof_format.value:
            failures.append(f"proof_format says {address.proof_format}, the proof is {result.proof_format.value}")
    if address.proof_format != FUNDS_FORMAT:
        proved = on_chain_coins if verdict is bip322.Verdict.VALID else {}
    return AddressCheck(address=address.address, wallet=address.wallet, claimed_sat=address.balance_sat,
                        chain_sat=chain_sat, proof_verdict=verdict, failures=tuple(failures)), proved


# -- several bundles together --------------------------------------------------------------------


def coins_claimed_twice(bundles: Sequence[tuple[str, ProofBundle]]) -> dict[int, tuple[str, ...]]:
    """Per bundle (by position), a failure for each of its coins that a bundle of *another* reserve also
    lists: one coin cannot back two reserves. ``bundles`` are (name shown, bundle) pairs; bundles of one
    reserve (two heights, say) may list the same coin."""
    claims: dict[tuple[str, int], list[int]] = defaultdict(list)
    for position, (_, bundle) in enumerate(bundles):
        for coin in sorted({(u.txid_hex, u.vout) for a in bundle.addresses for u in a.utxos}):
            claims[coin].append(position)
    found: dict[int, list[str]] = defaultdict(list)
    for (txid_hex, vout), positions in sorted(claims.items()):
        for position in positions:
            others = [p for p in positions if bundles[p][1].holder != bundles[position][1].holder]
            if others:
                names = ", ".join(f"{bundles[p][1].holder} ({bundles[p][0]})" for p in others)
                found[position].append(f"coin {txid_hex}:{vout} is also claimed by {names}")
    return {position: tuple(failures) for position, failures in found.items()}


# -- both, from a data directory ----------------------------------------------------------------


def verify_bundle(bundle: ProofBundle, datadir: Path | str, network: Network | None = None,
                  on_block: Callable[[int], None] | None = None, *, expect_total_sat: int | None = None
                  ) -> VerificationReport:
    """Reads `datadir`'s block files (ChainError when it cannot) and checks `bundle` against its active chain.

    Only the blk/rev files are read, never through the kernel, which rewrites the node's LevelDB files
    even to read them: the datadir is left exactly as it was, and may belong to a running node. The
    active chain is the most-work chain of blocks the node connected (see BlockFileSource).
    """
    if network is not None and network is not bundle.network:
        raise ProofError(f"the bundle is a {bundle.network.value} proof, not {network.value}")
    with BlockFileSource(datadir, bundle.network) as files:
        facts = read_chain(bundle, files, files, on_block)
    return check(bundle, facts, expect_total_sat=expect_total_sat)
