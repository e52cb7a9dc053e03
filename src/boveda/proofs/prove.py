"""`boveda prove`: a reserve's funded addresses at a block, from the book's synced store, with the
liabilities its journal records, as a bundle; signed by a `Signer` or left for external signers.

Nothing here reads a private key from the book: signers bring their own.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from boveda.bitcoin import bip322
from boveda.bitcoin.network import Network
from boveda.book import Book
from boveda.book.domain import Account, AccountKind, Entry, EntryKind
from boveda.book.schema import wallets as wallets_table
from boveda.proofs.bundle import AddressProof, Liability, ProofBundle, ProvenUtxo
from boveda.proofs.challenge import ProofError, check_challenge, new_nonce
from boveda.wallets.report import address_of
from boveda.wallets.sync import stored_network
from boveda.wallets.tables import chain_blocks, txos, wallet_scripts, wallet_sync


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


def reserve_wallets(conn: Connection, reserve: str) -> tuple[ReserveWallet, ...]:
    rows = conn.execute(
        sa.select(wallets_table.c.name, wallets_table.c.descriptor, wallets_table.c.birth_height)
        .where(wallets_table.c.owner == str(Account.reserve(reserve))).order_by(wallets_table.c.name)
    ).all()
    return tuple(ReserveWallet(name, descriptor, birth or 0) for name, descriptor, birth in rows)


def funded_addresses(conn: Connection, wallet_names: Sequence[str], height: int) -> tuple[FundedAddress, ...]:
    """Every script of the wallets holding coins after block `height`: created at or below it, not spent by then."""
    rows = conn.execute(
        sa.select(txos.c.txid, txos.c.vout, txos.c.value_sat, txos.c.height, txos.c.script_pubkey, txos.c.wallet,
                  wallet_scripts.c.branch, wallet_scripts.c.idx)
        .select_from(txos.outerjoin(wallet_scripts, wallet_scripts.c.script_pubkey == txos.c.script_pubkey))
        .where(txos.c.wallet.in_(list(wallet_names)), txos.c.height <= height,
               sa.or_(txos.c.spent_height.is_(None), txos.c.spent_height > height))
    ).all()
    coins: dict[bytes, list[ProvenUtxo]] = defaultdict(list)
    where: dict[bytes, tuple[str, int, int]] = {}
    for txid, vout, value_sat, created, script, wallet, branch, index in rows:
        script = bytes(script)
        coins[script].append(ProvenUtxo(bytes(txid)[::-1].hex(), vout, value_sat, created))
        where[script] = (wallet, -1 if branch is None else branch, -1 if index is None else index)
    funded = [
        FundedAddress(*where[script], script, tuple(sorted(utxos, key=lambda u: (u.height, u.txid_hex, u.vout))))
        for script, utxos in coins.items()
    ]
    funded.sort(key=lambda f: (f.wallet, f.branch, f.index, f.script_pubkey))
    return tuple(funded)


def reserve_liabilities(journal: Sequence[Entry], reserve: str, *, as_of: datetime.date,
                        settled_txids: set[str]) -> tuple[Liability, ...]:
    """What the reserve owes at a block, as its journal records it (docs/proof-bundle.md, "Liabilities").

    An entry is a liability when it takes coins from `reserve:CODE` for victims (restitution), a
    partner government (sharing) or a claimant (release), is dated on or before `as_of` (the block's
    UTC day), and none of the txids it cites is a transaction that spent the reserve's coins at or
    below the block (`settled_txids`): the book says the coins are owed, the chain says they have
    not been paid. The amount is what the entry gives the creditor, fees excluded.
    """
    holding = str(Account.reserve(reserve))
    owed = []
    for entry in journal:
        creditor_kind = _OBLIGATIONS.get(entry.kind)
        if creditor_kind is None or entry.effective_date > as_of:
            continue
        if not any(p.account == holding and p.amount_sat < 0 for p in entry.postings):
            continue
        if any(txid in settled_txids for txid in entry.txids):
            continue
        for posting in entry.postings:
            if posting.amount_sat > 0 and Account.parse(posting.account).kind is creditor_kind:
                owed.append(Liability(entry.kind.value, posting.account, posting.amount_sat, entry.entry_id,
                                      entry.effective_date.isoformat(), entry.authority_ref, tuple(entry.txids)))
    return tuple(owed)


def _synced_block(conn: Connection, wallets: Sequence[ReserveWallet], reserve: str, height: int | None
                  ) -> tuple[int, bytes, int]:
    synced = conn.execute(
        sa.select(wallet_sync.c.wallet, wallet_sync.c.synced_height)
        .where(wallet_sync.c.wallet.in_([w.name for w in wallets]))
    ).all()
    heights = {name: h for name, h in synced}
    never = [w.name for w in wallets if heights.get(w.name) is None]
    if never:
        raise ProofError(f"wallet {never[0]} of reserve {reserve} has not been synced: run boveda sync")
    lowest = min(heights[w.name] for w in wallets)
    height = lowest if height is None else height
    if height > lowest:
        raise ProofError(f"reserve {reserve}'s wallets are synced to height {lowest}, not {height}: run boveda sync")
    row = conn.execute(sa.select(chain_blocks.c.hash, chain_blocks.c.time).where(chain_blocks.c.height == height)).first()
    if row is None:
        raise ProofError(f"block {height} was not synced (the reserve's wallets start later): choose a later --at")
    return height, bytes(row[0]), row[1]


def prepare_bundle(book: Book, reserve: str, *, height: int | None = None, challenge: str | None = None
                   ) -> ProofBundle:
    """The unsigned bundle of `reserve` after block `height` (default: the height its wallets were synced to)."""
    if reserve not in {r.code for r in book.reserves()}:
        raise ProofError(f"no reserve {reserve!r} in the book: see boveda balances")
    challenge = check_challenge(challenge) if challenge is not None else new_nonce()
    network = stored_network(book.store)
    if network is None:
        raise ProofError("this book has no wallets and was never synced: add the reserve's wallets and run boveda sync")
    with book.store.read() as conn:
        wallets = reserve_wallets(conn, reserve)
        if not wallets:
            raise ProofError(f"reserve {reserve} has no wallets: boveda wallet add NAME --reserve {reserve} ...")
        height, block_hash, block_time = _synced_block(conn, wallets, reserve, height)
        funded = funded_addresses(conn, [w.name for w in wallets], height)
        settled = {
            bytes(t)[::-1].hex() for t in conn.execute(
                sa.select(txos.c.spent_txid).where(txos.c.wallet.in_([w.name for w in wallets]),
                                                   txos.c.spent_height <= height)
            ).scalars()
        }
    as_of = datetime.datetime.fromtimestamp(block_time, datetime.UTC).date()
    liabilities = reserve_liabilities(book.journal(), reserve, as_of=as_of, settled_txids=settled)
    return build_bundle(reserve, network, height, block_hash[::-1].hex(), challenge,
                        scan_from_height=min([w.birth_height for w in wallets] + [u.height for f in funded
                                                                                   for u in f.utxos]),
                        funded=funded, liabilities=liabilities)


def build_bundle(reserve: str, network: Network, height: int, block_hash_hex: str, challenge: str, *,
                 scan_from_height: int, funded: Sequence[FundedAddress], liabilities: Sequence[Liability]
                 ) -> ProofBundle:
    addresses = tuple(
        AddressProof(address_of(f.script_pubkey, network), f.script_pubkey, f.wallet, f.balance_sat, f.utxos,
                     None, None)
        for f in funded
    )
    assets_sat = sum(a.balance_sat for a in addresses)
    liabilities_sat = sum(x.amount_sat for x in liabilities)
    bundle = ProofBundle(reserve, network, height, block_hash_hex, challenge, min(scan_from_height, height),
                         addresses, tuple(liabilities), assets_sat, liabilities_sat, assets_sat - liabilities_sat)
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


def prove(book: Book, reserve: str, signer: Signer, *, height: int | None = None, challenge: str | None = None
          ) -> ProofBundle:
    """A signed bundle; ProofError naming an address `signer` cannot sign for."""
    signed, unsigned = sign_bundle(prepare_bundle(book, reserve, height=height, challenge=challenge), signer)
    if unsigned:
        more = f" and {len(unsigned) - 1} more" if len(unsigned) > 1 else ""
        raise ProofError(f"the keys given cannot sign for {unsigned[0]}{more}: use --psbt-dir for external signers")
    return signed
