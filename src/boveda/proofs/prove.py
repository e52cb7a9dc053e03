"""`boveda prove`: a holding's funded addresses at a block, from the book's synced store, with the
liabilities its journal records, as a bundle; signed by a `Signer` or left for external signers.

A holding is a reserve or a custody case (the coins a seizing agency holds): both are proved the same
way, by the same functions.

Nothing here reads a private key from the book: signers bring their own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.engine import Connection

from boveda.bitcoin import bip322
from boveda.bitcoin.network import Network
from boveda.book import Book
from boveda.book.domain import Account, AccountKind, Entry, EntryKind
from boveda.proofs.bundle import (
    BUNDLE_VERSION,
    FUNDS_VERSION,
    AddressProof,
    FundsProof,
    Liability,
    ProofBundle,
    ProvenUtxo,
)
from boveda.proofs.challenge import ProofError, check_challenge, new_nonce
from boveda.wallets import facts_store as facts
from boveda.wallets.report import address_of
from boveda.wallets.sync import stored_network


class Signer(Protocol):
    """Anything that can prove control of a script: a BIP-322 proof (base64) of `message`, or None."""

    def sign(self, script_pubkey: bytes, message: str) -> str | None: ...


@dataclass(frozen=True, slots=True)
class ReserveWallet:
    name: str
    descriptor: str
    birth_height: int


@dataclass(frozen=True, slots=True)
class FundedAddress:
    wallet: str
    branch: int
    index: int
    script_pubkey: bytes
    utxos: tuple[ProvenUtxo, ...]

    @property
    def balance_sat(self) -> int:
        return sum(u.value_sat for u in self.utxos)


# The accounts a reserve can owe coins to, and the kind of obligation an entry paying them records.
_OBLIGATIONS = {
    EntryKind.RESTITUTION: AccountKind.VICTIMS,
    EntryKind.SHARING: AccountKind.PARTNER,
    EntryKind.RELEASE: AccountKind.CLAIMANT,
}


def holding_of(holding: str | Account) -> Account:
    """A reserve code means that reserve; an Account is a reserve or a custody holding."""
    account = Account.reserve(holding) if isinstance(holding, str) else holding
    if account.kind not in (AccountKind.RESERVE, AccountKind.CUSTODY):
        raise ProofError(f"only reserves and custody holdings are proved, not {account}")
    return account


def holder_words(holding: Account) -> str:
    """`reserve SV`, `custody 1:13-cr-00950`: how messages name a holding."""
    return f"{'reserve' if holding.kind is AccountKind.RESERVE else 'custody'} {holding.name}"


def reserve_wallets(book: Book, holding: str | Account) -> tuple[ReserveWallet, ...]:
    """The wallets of a reserve (its code) or of any holding (its account), by name."""
    owner = holding_of(holding)
    return tuple(ReserveWallet(w.name, w.descriptor, w.birth_height or 0)
                 for w in sorted(book.wallets(), key=lambda w: w.name) if w.owner == owner)


def funded_addresses(conn: Connection, wallet_names: Sequence[str], height: int) -> tuple[FundedAddress, ...]:
    """Every script of the wallets holding coins after block `height`: created at or below it, not spent by then."""
    coins: dict[bytes, list[ProvenUtxo]] = defaultdict(list)
    where: dict[bytes, tuple[str, int, int]] = {}
    for coin in facts.wallet_coins(conn, wallet_names, made_by=height, with_locations=True):
        if coin.spent_height is not None and coin.spent_height <= height:
            continue
        script = coin.script_pubkey
        coins[script].append(ProvenUtxo(coin.txid[::-1].hex(), coin.vout, coin.value_sat, coin.height))
        where[script] = (coin.wallet, -1 if coin.branch is None else coin.branch, -1 if coin.index is None else coin.index)
    funded = [
        FundedAddress(*where[script], script, tuple(sorted(utxos, key=lambda u: (u.height, u.txid_hex, u.vout))))
        for script, utxos in coins.items()
    ]
    funded.sort(key=lambda f: (f.wallet, f.branch, f.index, f.script_pubkey))
    return tuple(funded)


def reserve_liabilities(journal: Sequence[Entry], reserve: str | Account, *, payments: Mapping[str, int]
                        ) -> tuple[Liability, ...]:
    """What the reserve owes at a block, as its journal records it (docs/proof-bundle.md, "Liabilities").

    Every entry that takes coins from `reserve:CODE` for victims (restitution), a partner government
    (sharing) or a claimant (release) is an obligation, whatever its date. It is paid — and so no
    longer a liability — only when a txid it cites is in `payments` (the reserve's own payments out,
    confirmed at or below the block: txid -> satoshis that left the reserve to scripts no book
    tracks) and that payment still holds the obligation's amount once the obligations citing it
    before it (by entry id) are paid from it. Anything else is owed: an entry citing no txid, a txid
    not confirmed by the block, an internal move, a transaction that also spent others' coins, or
    one that paid out less. The amount is what the entry gives the creditor, fees excluded.
    """
    holding = holding_of(reserve)
    left = dict(payments)  # what each payment still holds for the obligations citing it
    owed = []
    for entry in sorted(journal, key=lambda e: e.entry_id):
        creditor_kind = _OBLIGATIONS.get(entry.kind)
        if creditor_kind is None or not any(p.account == holding and p.amount_sat < 0 for p in entry.postings):
            continue
        amount_sat = sum(p.amount_sat for p in entry.postings if p.amount_sat > 0 and p.account.kind is creditor_kind)
        paid_by = next((t for t in entry.txids if left.get(t, 0) >= amount_sat > 0), None)
        if paid_by is not None:
            left[paid_by] -= amount_sat
            continue
        for posting in entry.postings:
            if posting.amount_sat > 0 and posting.account.kind is creditor_kind:
                owed.append(Liability(
                    kind=entry.kind.value, creditor=str(posting.account), amount_sat=posting.amount_sat,
                    entry_id=entry.entry_id, effective_date=entry.effective_date.isoformat(),
                    authority_ref=entry.authority_ref, txids=tuple(entry.txids),
                ))
    return tuple(owed)


def reserve_payments(conn: Connection, wallet_names: Sequence[str], height: int) -> dict[str, int]:
    """The reserve's payments out at or below `height`: txid (display hex) -> satoshis paid to scripts no book tracks.

    Only a transaction every input of which is a coin of the reserve's wallets counts (the chain
    facts count each transaction's inputs): what it paid out is its output total less what any
    tracked wallet received from it; the fee, inputs less outputs, is not part of it.
    """
    names = set(wallet_names)
    spent_count: dict[bytes, int] = defaultdict(int)
    tracked_out_sat: dict[bytes, int] = defaultdict(int)
    for coin in facts.coins_to(conn, height):
        tracked_out_sat[coin.txid] += coin.value_sat
        if coin.wallet in names and coin.spent_txid is not None and coin.spent_height is not None \
                and coin.spent_height <= height:
            spent_count[coin.spent_txid] += 1
    payments = {}
    for tx in facts.tx_facts_to(conn, height):
        count = spent_count.get(tx.txid, 0)
        if count and count == tx.input_count:
            paid_out_sat = tx.output_total_sat - tracked_out_sat.get(tx.txid, 0)
            if paid_out_sat > 0:
                payments[tx.txid[::-1].hex()] = paid_out_sat
    return payments


def _synced_block(conn: Connection, wallets: Sequence[ReserveWallet], holder: str, height: int | None
                  ) -> tuple[int, bytes, int]:
    heights = facts.synced_heights(conn, [w.name for w in wallets])
    never = [w.name for w in wallets if heights.get(w.name) is None]
    if never:
        raise ProofError(f"wallet {never[0]} of {holder} has not been synced: run boveda sync")
    lowest = min(heights[w.name] for w in wallets)
    height = lowest if height is None else height
    if height > lowest:
        raise ProofError(f"{holder}'s wallets are synced to height {lowest}, not {height}: run boveda sync")
    block = facts.synced_block(conn, height)
    if block is None:
        raise ProofError(f"block {height} was not synced (the {holder}'s wallets start later): choose a later --at")
    return height, *block


def known_holding(book: Book, holding: str | Account) -> Account:
    """The holding's account, once the book is known to hold it; ProofError otherwise."""
    account = holding_of(holding)
    if account.kind is AccountKind.RESERVE and account.name not in {r.code for r in book.reserves()}:
        raise ProofError(f"no reserve {account.name!r} in the book: see boveda balances")
    if account.kind is AccountKind.CUSTODY and account.name not in {c.number for c in book.cases()}:
        raise ProofError(f"no case {account.name!r} in the book: see boveda lots")
    return account


def prepare_bundle(book: Book, holding: str | Account, *, height: int | None = None, challenge: str | None = None,
                   per_wallet: bool = False) -> ProofBundle:
    """The unsigned bundle of a holding (a reserve's code, or an Account) after block `height` (default: the
    height its wallets were synced to). `per_wallet` asks for one proof of funds per wallet (version 2)
    instead of one proof per address."""
    account = known_holding(book, holding)
    holder = holder_words(account)
    challenge = check_challenge(challenge) if challenge is not None else new_nonce()
    network = stored_network(book.store)
    if network is None:
        raise ProofError(f"this book has no wallets and was never synced: add the {holder}'s wallets and run "
                         "boveda sync")
    wallets = reserve_wallets(book, account)
    with book.store.read() as conn:
        if not wallets:
            option = "--reserve" if account.kind is AccountKind.RESERVE else "--case"
            raise ProofError(f"{holder} has no wallets: boveda wallet add NAME {option} {account.name} ...")
        height, block_hash, _block_time = _synced_block(conn, wallets, holder, height)
        funded = funded_addresses(conn, [w.name for w in wallets], height)
        payments = reserve_payments(conn, [w.name for w in wallets], height)
    liabilities = reserve_liabilities(book.journal(), account, payments=payments)
    return build_bundle(account, network, height, block_hash[::-1].hex(), challenge,
                        scan_from_height=min([w.birth_height for w in wallets] + [u.height for f in funded
                                                                                   for u in f.utxos]),
                        funded=funded, liabilities=liabilities, per_wallet=per_wallet)


def build_bundle(holding: str | Account, network: Network, height: int, block_hash_hex: str, challenge: str, *,
                 scan_from_height: int, funded: Sequence[FundedAddress], liabilities: Sequence[Liability],
                 per_wallet: bool = False) -> ProofBundle:
    """The unsigned bundle; with `per_wallet`, a proof of funds per wallet whose message address is the
    wallet's first funded address (funded addresses come sorted by wallet, branch and index)."""
    account = holding_of(holding)
    addresses = tuple(
        AddressProof(address=address_of(f.script_pubkey, network), script_pubkey=f.script_pubkey, wallet=f.wallet,
                     balance_sat=f.balance_sat, utxos=f.utxos, proof=None, proof_format=None)
        for f in funded
    )
    funds: dict[str, FundsProof] = {}
    for address in addresses if per_wallet else ():
        funds.setdefault(address.wallet or "", FundsProof(address.wallet, address.address, address.script_pubkey, None))
    custody = account.name if account.kind is AccountKind.CUSTODY else None
    assets_sat = sum(a.balance_sat for a in addresses)
    liabilities_sat = sum(x.amount_sat for x in liabilities)
    bundle = ProofBundle(
        reserve=None if custody else account.name, custody=custody, funds_proofs=tuple(funds.values()),
        version=FUNDS_VERSION if per_wallet or custody else BUNDLE_VERSION,
        network=network, height=height, block_hash_hex=block_hash_hex, challenge=challenge,
        scan_from_height=min(scan_from_height, height), addresses=addresses, liabilities=tuple(liabilities),
        assets_sat=assets_sat, liabilities_sat=liabilities_sat, net_sat=assets_sat - liabilities_sat,
    )
    return ProofBundle(**{**_fields(bundle), "message": bundle.expected_message})


def _fields(bundle: ProofBundle) -> dict:
    return {name: getattr(bundle, name) for name in ProofBundle.__slots__}


def sign_bundle(bundle: ProofBundle, signer: Signer) -> tuple[ProofBundle, tuple[str, ...]]:
    """The bundle with every proof `signer` could make, and the addresses it could not sign."""
    message = bundle.expected_message
    proofs, unsigned = {}, []
    for address in bundle.addresses:
        proof = signer.sign(address.script_pubkey, message)
        if proof is None:
            unsigned.append(address.address)
            continue
        checked = bip322.verify(address.script_pubkey, message, proof)
        if not checked.is_valid:  # never publish a proof a verifier will refuse
            raise ProofError(f"the signer's proof for {address.address} does not verify: {checked.detail}")
        proofs[address.address] = (proof, checked.proof_format.value)
    return bundle.with_proofs(proofs), tuple(unsigned)


def prove(book: Book, holding: str | Account, signer: Signer, *, height: int | None = None,
          challenge: str | None = None) -> ProofBundle:
    """A signed bundle (one proof per address); ProofError naming an address `signer` cannot sign for."""
    signed, unsigned = sign_bundle(prepare_bundle(book, holding, height=height, challenge=challenge), signer)
    if unsigned:
        more = f" and {len(unsigned) - 1} more" if len(unsigned) > 1 else ""
        raise ProofError(f"the keys given cannot sign for {unsigned[0]}{more}: use --psbt-dir for external signers")
    return signed
