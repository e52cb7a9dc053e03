"""What the stored chain facts say about wallets: balances, coins and history at any height, and exposure.

Everything here reads what `boveda sync` stored; nothing rescans the chain.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from boveda.bitcoin.network import Network
from boveda.bitcoin.script import ScriptType, classify
from boveda.book.domain import Account
from boveda.errors import WalletError
from boveda.wallets import facts_store as facts
from boveda.wallets.descriptors import address_of as descriptor_address_of


@dataclass(frozen=True, slots=True)
class Coin:
    txid_hex: str
    vout: int
    value_sat: int
    height: int
    address: str


@dataclass(frozen=True, slots=True)
class HistoryLine:
    txid_hex: str
    height: int
    delta_sat: int


@dataclass(frozen=True, slots=True)
class WalletState:
    name: str
    owner: str
    height: int
    balance_sat: int
    utxos: tuple[Coin, ...]
    history: tuple[HistoryLine, ...]

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "owner": self.owner,
            "height": self.height,
            "balance_sat": self.balance_sat,
            "utxos": [
                {"txid": c.txid_hex, "vout": c.vout, "value_sat": c.value_sat, "height": c.height, "address": c.address}
                for c in self.utxos
            ],
            "history": [{"txid": h.txid_hex, "height": h.height, "delta_sat": h.delta_sat} for h in self.history],
        }


@dataclass(frozen=True, slots=True)
class AddressLine:
    branch: int
    index: int
    address: str
    received_count: int
    balance_sat: int


def address_of(script_pubkey: bytes, network: Network) -> str:
    """The address of a script, or `script:HEX` for one without an address form (bare multisig, raw)."""
    return descriptor_address_of(script_pubkey, network) or f"script:{script_pubkey.hex()}"


def synced_height(conn: Connection, name: str) -> int | None:
    return facts.synced_heights(conn, [name]).get(name)


def wallet_owner(conn: Connection, name: str) -> str:
    owner = facts.wallet_owners(conn).get(name)
    if owner is None:
        raise WalletError(f"no wallet named {name!r}: see boveda wallet list")
    return owner


def wallet_state(conn: Connection, name: str, network: Network, at_height: int | None = None) -> WalletState:
    """The wallet after block `at_height` (default: the height it was last synced to)."""
    owner = wallet_owner(conn, name)
    synced = synced_height(conn, name)
    if synced is None:
        raise WalletError(f"wallet {name!r} has not been synced yet: run boveda sync")
    height = synced if at_height is None else at_height
    if height < 0 or height > synced:
        raise WalletError(f"height {height} is beyond what wallet {name!r} was synced to ({synced}): run boveda sync")
    # Each coin with the positions (in their blocks) of the transactions that made and spent it.
    utxos = []
    deltas: dict[tuple[int, bytes], int] = defaultdict(int)
    positions: dict[bytes, int] = {}
    for coin in facts.wallet_coins(conn, [name], made_by=height, with_positions=True):
        deltas[(coin.height, coin.txid)] += coin.value_sat
        positions[coin.txid] = coin.made_tx_index or 0
        if coin.spent_height is not None and coin.spent_height <= height:
            deltas[(coin.spent_height, coin.spent_txid)] -= coin.value_sat
            positions[coin.spent_txid] = coin.spent_tx_index or 0
        else:
            utxos.append(Coin(coin.txid[::-1].hex(), coin.vout, coin.value_sat, coin.height,
                              address_of(coin.script_pubkey, network)))
    # In chain order: by height, then by the transaction's position in its block.
    ordered = sorted(deltas.items(), key=lambda item: (item[0][0], positions[item[0][1]], item[0][1]))
    history = tuple(HistoryLine(txid[::-1].hex(), h, delta) for (h, txid), delta in ordered)
    utxos.sort(key=lambda c: (c.height, c.txid_hex, c.vout))
    return WalletState(name, owner, height, sum(c.value_sat for c in utxos), tuple(utxos), history)


def wallet_addresses(conn: Connection, name: str, network: Network) -> tuple[AddressLine, ...]:
    wallet_owner(conn, name)
    received: dict[bytes, int] = defaultdict(int)
    balance: dict[bytes, int] = defaultdict(int)
    for coin in facts.wallet_coins(conn, [name]):
        received[coin.script_pubkey] += 1
        if coin.spent_txid is None:
            balance[coin.script_pubkey] += coin.value_sat
    derived = sorted(facts.derived_scripts(conn, [name]), key=lambda w: (int(w.branch), w.index))
    return tuple(
        AddressLine(int(w.branch), w.index, address_of(w.script_pubkey, network), received[w.script_pubkey],
                    balance[w.script_pubkey])
        for w in derived
    )


# -- exposure ---------------------------------------------------------------------------

# Spending from these reveals the public key(s) behind the address.
_REVEALED_WHEN_SPENT = {ScriptType.P2PKH, ScriptType.P2WPKH, ScriptType.P2SH, ScriptType.P2WSH}
# These show the key in the output itself.
_ALWAYS_REVEALED = {ScriptType.P2TR, ScriptType.P2PK, ScriptType.MULTISIG}


@dataclass(frozen=True, slots=True)
class ExposedAddress:
    wallet: str
    address: str
    balance_sat: int
    reasons: tuple[str, ...]  # "key revealed (spent from)", "key in output (taproot)", "reused", "over cap"


@dataclass(frozen=True, slots=True)
class ExposureReport:
    reserve: str
    height: int | None
    address_cap_sat: int | None
    total_sat: int
    revealed_sat: int
    reused_sat: int
    over_cap_sat: int
    addresses: tuple[ExposedAddress, ...]

    def to_json(self) -> dict:
        return {
            "reserve": self.reserve,
            "height": self.height,
            "address_cap_sat": self.address_cap_sat,
            "totals": {
                "holdings_sat": self.total_sat,
                "revealed_key_sat": self.revealed_sat,
                "reused_address_sat": self.reused_sat,
                "over_cap_sat": self.over_cap_sat,
            },
            "addresses": [
                {"wallet": a.wallet, "address": a.address, "balance_sat": a.balance_sat, "reasons": list(a.reasons)}
                for a in self.addresses
            ],
        }


def exposure(conn: Connection, reserve: str, network: Network, address_cap_sat: int | None) -> ExposureReport:
    """Coins of reserve `reserve` behind revealed keys, at reused addresses, and above the address cap."""
    owner = Account.reserve(reserve)
    names = [name for name, account in facts.wallet_owners(conn).items() if Account.parse(account) == owner]
    per_script: dict[bytes, dict] = {}
    for coin in facts.wallet_coins(conn, names):
        entry = per_script.setdefault(coin.script_pubkey, {"wallet": coin.wallet, "received": 0, "spent": False,
                                                           "balance": 0})
        entry["received"] += 1
        if coin.spent_txid is None:
            entry["balance"] += coin.value_sat
        else:
            entry["spent"] = True
    lines = []
    total = revealed = reused = over_cap = 0
    for script, entry in per_script.items():
        balance = entry["balance"]
        total += balance
        kind = classify(script)
        reasons = []
        if kind in _ALWAYS_REVEALED:
            reasons.append("key in output (taproot)" if kind is ScriptType.P2TR else "key in output")
        elif entry["spent"] and kind in _REVEALED_WHEN_SPENT:
            reasons.append("key revealed (spent from)")
        if entry["received"] > 1:
            reasons.append("reused")
        if address_cap_sat is not None and balance > address_cap_sat:
            reasons.append("over cap")
        if not reasons or balance == 0:
            continue
        revealed += balance if any(r.startswith("key") for r in reasons) else 0
        reused += balance if "reused" in reasons else 0
        over_cap += balance if "over cap" in reasons else 0
        lines.append(ExposedAddress(entry["wallet"], address_of(script, network), balance, tuple(reasons)))
    lines.sort(key=lambda a: -a.balance_sat)
    height = facts.top_height(conn)
    return ExposureReport(reserve, height, address_cap_sat, total, revealed, reused, over_cap, tuple(lines))
