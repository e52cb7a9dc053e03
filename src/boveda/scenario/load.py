"""Reads and validates a scenario TOML file; every problem is a ScenarioError naming where it is."""

from __future__ import annotations

import datetime
import tomllib
from pathlib import Path
from typing import Any

from boveda.book.domain import Account
from boveda.errors import BovedaError, ScenarioError
from boveda.scenario.model import (
    Action,
    CaseSpec,
    Event,
    PartnerSpec,
    ReserveSpec,
    Scenario,
    WalletKind,
    WalletSpec,
)

MINER = "miner"  # the implicit wallet every coinbase pays
_OWNER_PREFIXES = ("reserve:", "custody:", "external:", "partner:")


class _Table:
    """One TOML table being read, remembering where it is for error messages."""

    def __init__(self, where: str, data: Any) -> None:
        if not isinstance(data, dict):
            raise ScenarioError(f"{where}: expected a table, got {type(data).__name__}")
        self.where = where
        self.data = dict(data)

    def take(self, key: str, kind: type | tuple[type, ...], default: Any = ..., *, required: bool = False) -> Any:
        if key not in self.data:
            if required or default is ...:
                raise ScenarioError(f"{self.where}: missing {key!r}")
            return default
        value = self.data.pop(key)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise ScenarioError(f"{self.where}: {key!r} must be {expected}, got {value!r}")
        return value

    def take_btc(self, key: str, default: Any = None) -> int | None:
        value = self.take(key, str, None)
        if value is None:
            return default
        from boveda.money import parse_btc

        try:
            return parse_btc(value)
        except BovedaError as exc:
            raise ScenarioError(f"{self.where}: {key!r}: {exc}") from None

    def done(self) -> None:
        if self.data:
            raise ScenarioError(f"{self.where}: unknown key(s) {', '.join(sorted(self.data))}")


def load_scenario(path: Path | str) -> Scenario:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"no scenario file at {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read scenario {path}: {exc}") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path} is not valid TOML: {exc}") from None
    return parse_scenario(document, str(path))


def parse_scenario(document: dict[str, Any], where: str = "scenario") -> Scenario:
    root = _Table(where, document)
    head = _Table(f"{where}: [scenario]", root.take("scenario", dict, required=True))
    name = head.take("name", str, required=True)
    description = head.take("description", str, "")
    start_date = head.take("start_date", datetime.date, required=True)
    if isinstance(start_date, datetime.datetime):
        raise ScenarioError(f"{where}: [scenario] start_date must be a date (YYYY-MM-DD), not a date-time")
    seed = head.take("seed", str, name)
    blocks_per_day = head.take("blocks_per_day", int, 6)
    if not 1 <= blocks_per_day <= 144:
        raise ScenarioError(f"{where}: [scenario] blocks_per_day must be 1..144, got {blocks_per_day}")
    head.take("scale_note", str, "")
    head.done()

    reserves = tuple(_reserve(_Table(f"{where}: reserves[{i}]", t)) for i, t in enumerate(root.take("reserves", list, [])))
    partners = tuple(_partner(_Table(f"{where}: partners[{i}]", t)) for i, t in enumerate(root.take("partners", list, [])))
    cases = tuple(_case(_Table(f"{where}: cases[{i}]", t)) for i, t in enumerate(root.take("cases", list, [])))
    wallets = tuple(_wallet(_Table(f"{where}: wallets[{i}]", t)) for i, t in enumerate(root.take("wallets", list, [])))
    _unique(where, "wallet name", [MINER] + [w.name for w in wallets])
    # Stable sort: events of one day keep the order they are written in.
    events = tuple(
        sorted(
            (
                event
                for i, t in enumerate(root.take("events", list, []))
                for event in _events(_Table(f"{where}: events[{i}]", t), {MINER} | {w.name for w in wallets})
            ),
            key=lambda event: event.day,
        )
    )
    root.done()

    _unique(where, "reserve code", [r.code for r in reserves])
    _unique(where, "partner code", [p.code for p in partners])
    _unique(where, "case number", [c.number for c in cases])
    known_owners = {str(Account.reserve(r.code)) for r in reserves} | {str(Account.custody(c.number)) for c in cases}
    for wallet in wallets:
        if wallet.tracked and wallet.owner not in known_owners:
            raise ScenarioError(f"{where}: wallet {wallet.name!r} belongs to {wallet.owner}, which is not declared")
    return Scenario(name=name, description=description, start_date=start_date, seed=seed,
                    blocks_per_day=blocks_per_day, reserves=reserves, partners=partners, cases=cases, wallets=wallets,
                    events=events)


def _unique(where: str, what: str, values: list[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ScenarioError(f"{where}: {what} {value!r} is declared twice")
        seen.add(value)


def _reserve(t: _Table) -> ReserveSpec:
    spec = ReserveSpec(
        code=t.take("code", str, required=True),
        name=t.take("name", str, required=True),
        no_sale=t.take("no_sale", bool, False),
        address_cap_sat=t.take_btc("address_cap_btc"),
    )
    t.done()
    return spec


def _partner(t: _Table) -> PartnerSpec:
    spec = PartnerSpec(t.take("code", str, required=True), t.take("name", str, required=True))
    t.done()
    return spec


def _case(t: _Table) -> CaseSpec:
    spec = CaseSpec(t.take("number", str, required=True), t.take("agency", str, required=True), t.take("court", str, None))
    t.done()
    return spec


def _wallet(t: _Table) -> WalletSpec:
    name = t.take("name", str, required=True)
    owner = t.take("owner", str, required=True)
    if not owner.startswith(_OWNER_PREFIXES) or owner.endswith(":"):
        raise ScenarioError(f"{t.where}: owner {owner!r} must be reserve:CODE, custody:CASE, external:NAME or partner:CODE")
    kind_name = t.take("kind", str, "wpkh")
    try:
        kind = WalletKind(kind_name)
    except ValueError:
        raise ScenarioError(f"{t.where}: kind {kind_name!r} is not one of wpkh, wsh, tr") from None
    threshold = t.take("threshold", int, 1 if kind is not WalletKind.WSH_SORTEDMULTI else 2)
    cosigners = t.take("cosigners", int, 1 if kind is not WalletKind.WSH_SORTEDMULTI else 3)
    if kind is WalletKind.WSH_SORTEDMULTI and not 1 <= threshold <= cosigners <= 15:
        raise ScenarioError(f"{t.where}: a wsh wallet needs 1 <= threshold <= cosigners <= 15")
    if kind is not WalletKind.WSH_SORTEDMULTI and (threshold, cosigners) != (1, 1):
        raise ScenarioError(f"{t.where}: threshold and cosigners apply only to kind = \"wsh\"")
    t.done()
    return WalletSpec(name, owner, kind, threshold, cosigners)


def _events(t: _Table, wallet_names: set[str]) -> list[Event]:
    """One event table; `repeat = N` makes it happen on N consecutive days."""
    day = t.take("day", int, required=True)
    if day < 0:
        raise ScenarioError(f"{t.where}: day must be >= 0")
    action_name = t.take("action", str, required=True)
    try:
        action = Action(action_name)
    except ValueError:
        choices = ", ".join(a.value for a in Action)
        raise ScenarioError(f"{t.where}: unknown action {action_name!r} (choose one of {choices})") from None
    source = t.take("from", str, None)
    target = t.take("to", str, None)
    amount_sat = t.take_btc("amount_btc")
    fee_sat = t.take("fee_sat", int, 2_000)
    outputs = t.take("outputs", int, 1)
    blocks = t.take("blocks", int, 1)
    book = t.take("book", dict, None)
    note = t.take("note", str, "")
    repeat = t.take("repeat", int, 1)
    t.done()
    needs = {
        Action.MINE: (),
        Action.PAY: ("from", "to", "amount_btc"),
        Action.SWEEP: ("from", "to"),
        Action.SPLIT: ("from", "to", "outputs"),
        Action.BOOK: ("book",),
    }[action]
    present = {"from": source, "to": target, "amount_btc": amount_sat, "outputs": outputs if outputs > 1 else None,
               "book": book}
    for key in needs:
        if present[key] is None:
            raise ScenarioError(f"{t.where}: action {action.value!r} needs {key!r}")
    for role, wallet_name in (("from", source), ("to", target)):
        if wallet_name is not None and wallet_name not in wallet_names:
            raise ScenarioError(f"{t.where}: {role} wallet {wallet_name!r} is not declared in [[wallets]]")
    if fee_sat < 0 or blocks < 1 or outputs < 1 or repeat < 1:
        raise ScenarioError(f"{t.where}: fee_sat must be >= 0; blocks, outputs and repeat >= 1")
    frozen_book = tuple(sorted(book.items())) if book is not None else None
    return [
        Event(day=day + n, action=action, source=source, target=target, amount_sat=amount_sat, fee_sat=fee_sat,
              outputs=outputs, blocks=blocks, book=frozen_book, note=note)
        for n in range(repeat)
    ]
