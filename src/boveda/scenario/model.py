"""The parsed form of a scenario file (see src/boveda/scenarios/README.md for the format)."""

from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass

from boveda.keys.software_wallet import WalletKind


class Action(enum.Enum):
    MINE = "mine"  # mine blocks to the miner
    PAY = "pay"  # from → to, an amount
    SWEEP = "sweep"  # every coin of from → one address of to
    SPLIT = "split"  # every coin of from → `outputs` fresh addresses of to, in equal parts
    BOOK = "book"  # no transaction: a book-only record (e.g. a forfeiture order)


@dataclass(frozen=True, slots=True)
class ReserveSpec:
    code: str
    name: str
    no_sale: bool = False
    address_cap_sat: int | None = None


@dataclass(frozen=True, slots=True)
class PartnerSpec:
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class CaseSpec:
    number: str
    agency: str
    court: str | None = None


@dataclass(frozen=True, slots=True)
class WalletSpec:
    """A wallet of the scenario; `owner` is a book account such as reserve:SV or custody:CASE."""

    name: str
    owner: str
    kind: WalletKind = WalletKind.WPKH
    threshold: int = 1
    cosigners: int = 1

    @property
    def tracked(self) -> bool:
        """Whether the wallet belongs to a book (a reserve or a custody holding) and is registered."""
        return self.owner.startswith(("reserve:", "custody:"))


@dataclass(frozen=True, slots=True)
class Event:
    """One dated step. `book` is passed through to the book as written (None: nothing recorded)."""

    day: int
    action: Action
    source: str | None = None
    target: str | None = None
    amount_sat: int | None = None
    fee_sat: int = 2_000
    outputs: int = 1
    blocks: int = 1
    book: tuple[tuple[str, object], ...] | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    start_date: datetime.date
    seed: str
    blocks_per_day: int
    reserves: tuple[ReserveSpec, ...]
    partners: tuple[PartnerSpec, ...]
    cases: tuple[CaseSpec, ...]
    wallets: tuple[WalletSpec, ...]
    events: tuple[Event, ...]

    def date_of(self, event: Event) -> datetime.date:
        return self.start_date + datetime.timedelta(days=event.day)

    def wallet(self, name: str) -> WalletSpec:
        for wallet in self.wallets:
            if wallet.name == name:
                return wallet
        raise KeyError(name)
