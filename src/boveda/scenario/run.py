"""Turns a scenario into a regtest chain through the simulation, and says what it built.

The result carries what the book needs (each tracked wallet's descriptor, each event's book
record with the txid that carried it) and the builder's own accounting, against which the
scanner and the sync are checked.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from boveda.bitcoin.tx import Transaction
from boveda.chain.regtest.simulation import Simulation
from boveda.errors import BuilderError, ScenarioError
from boveda.scenario.load import MINER
from boveda.scenario.model import Action, Event, Scenario

SECONDS_PER_DAY = 86_400
_FIRST_BLOCK_OFFSET_S = 600  # the day's first block, ten minutes after midnight UTC
_BURST_INTERVAL_S = 60  # spacing of the blocks a `mine` event adds


@dataclass(frozen=True, slots=True)
class BuiltWallet:
    name: str
    owner: str
    descriptor: str  # multipath <0;1>/* with checksum
    birth_height: int
    balance_sat: int  # the builder's own accounting at the tip


@dataclass(frozen=True, slots=True)
class BookRecord:
    """An event's book annotation, with what the chain says about it."""

    date: datetime.date
    fields: tuple[tuple[str, object], ...]
    txid_hex: str | None
    chain_amount_sat: int | None  # what the transaction's recipient received
    fee_sat: int | None  # what the transaction paid its miner
    note: str

    def get(self, key: str, default: object = None) -> object:
        return dict(self.fields).get(key, default)


@dataclass(frozen=True, slots=True)
class BuiltScenario:
    scenario: Scenario
    datadir: Path
    tip_height: int
    wallets: tuple[BuiltWallet, ...]
    book_records: tuple[BookRecord, ...]
    transaction_count: int

    def wallet(self, name: str) -> BuiltWallet:
        return next(w for w in self.wallets if w.name == name)


def build_scenario(
    scenario: Scenario, datadir: Path, *, on_block: Callable[[int, int], None] | None = None
) -> BuiltScenario:
    """Grows the scenario's chain in `datadir` (which must hold no chain yet).

    `on_block(height, planned_blocks)` is called after each block, for progress.
    """
    planned = planned_block_count(scenario)
    start_s = int(datetime.datetime.combine(scenario.start_date, datetime.time(), datetime.UTC).timestamp())
    with Simulation(datadir, seed_label=scenario.seed) as sim:
        for wallet in scenario.wallets:
            sim.add_wallet(wallet.name, wallet.kind, threshold=wallet.threshold, cosigners=wallet.cosigners)
        runner = _Runner(scenario, sim, start_s, planned, on_block)
        runner.run()
        wallets = tuple(
            BuiltWallet(
                w.name,
                w.owner,
                sim.wallet(w.name).multipath_descriptor(),
                runner.birth_heights.get(w.name, sim.height),
                sim.balance_sat(w.name),
            )
            for w in scenario.wallets
        )
        return BuiltScenario(scenario=scenario, datadir=datadir, tip_height=sim.height, wallets=wallets,
                             book_records=tuple(runner.records), transaction_count=runner.transaction_count)


def planned_block_count(scenario: Scenario) -> int:
    last_day = max((e.day for e in scenario.events), default=0)
    burst = sum(e.blocks for e in scenario.events if e.action is Action.MINE)
    return burst + (last_day + 1) * scenario.blocks_per_day


class _Runner:
    def __init__(self, scenario: Scenario, sim: Simulation, start_s: int, planned: int, on_block) -> None:
        self.scenario, self.sim, self.start_s = scenario, sim, start_s
        self.planned, self.on_block = planned, on_block
        self.records: list[BookRecord] = []
        self.birth_heights: dict[str, int] = {}
        self.transaction_count = 0
        self.last_time = 0

    def run(self) -> None:
        last_day = max((e.day for e in self.scenario.events), default=0)
        events_by_day: dict[int, list[Event]] = {}
        for event in self.scenario.events:
            events_by_day.setdefault(event.day, []).append(event)
        for day in range(last_day + 1):
            day_start = self.start_s + day * SECONDS_PER_DAY
            self.last_time = max(self.last_time, day_start)
            for event in events_by_day.get(day, ()):
                try:
                    self._apply(event, day_start)
                except BuilderError as exc:
                    raise ScenarioError(f"day {event.day}, {event.action.value} {event.source or ''}→"
                                        f"{event.target or ''}: {exc}") from None
            interval = SECONDS_PER_DAY // self.scenario.blocks_per_day
            for n in range(self.scenario.blocks_per_day):
                self._mine(max(self.last_time + 1, day_start + _FIRST_BLOCK_OFFSET_S + n * interval))

    def _mine(self, time: int) -> None:
        self.sim.mine(time=time)
        self.last_time = time
        if self.on_block:
            self.on_block(self.sim.height, self.planned)

    def _touch(self, *wallet_names: str | None) -> None:
        for name in wallet_names:
            if name is not None and name != MINER:
                self.birth_heights.setdefault(name, self.sim.height)

    def _apply(self, event: Event, day_start: int) -> None:
        sim = self.sim
        self._touch(event.source, event.target)
        tx: Transaction | None = None
        amount_sat: int | None = None
        fee_sat: int | None = event.fee_sat
        if event.action is Action.MINE:
            for _ in range(event.blocks):
                self._mine(self.last_time + _BURST_INTERVAL_S)
        elif event.action is Action.PAY:
            amount_sat = event.amount_sat
            tx = sim.pay(event.source, [(sim.receive_script(event.target), amount_sat)], fee_sat=event.fee_sat)
        elif event.action is Action.SWEEP:
            tx = sim.sweep(event.source, sim.receive_script(event.target), fee_sat=event.fee_sat)
            amount_sat = tx.outputs[0].value_sat
        elif event.action is Action.SPLIT:
            coins = sim.spendable(event.source)
            total_sat = sum(c.value_sat for c in coins) - event.fee_sat
            if total_sat <= 0:
                raise BuilderError(f"wallet {event.source!r} has too little to split")
            part_sat, remainder_sat = divmod(total_sat, event.outputs)
            outputs = [(sim.receive_script(event.target), part_sat) for _ in range(event.outputs)]
            fee_sat = event.fee_sat + remainder_sat
            tx = sim.pay(event.source, outputs, fee_sat=fee_sat, utxos=[c.outpoint for c in coins])
            amount_sat = part_sat * event.outputs
        if tx is not None:
            self.transaction_count += 1
        if event.book is not None:
            txid_hex = tx.txid_hex if tx is not None else None
            self.records.append(BookRecord(self.scenario.date_of(event), event.book, txid_hex, amount_sat,
                                           fee_sat if tx is not None else None, event.note))
