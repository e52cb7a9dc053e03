"""Calendar days as synced blocks, and the bounds of a period statement.

A day ends at the next midnight in its time zone (UTC unless another IANA zone is named); the day's
block is the last synced block whose header time is at or before that end (23:59:59 is in the day,
00:00:00 is the next). A period D1..D2 covers the blocks after D1−1's block up to D2's block, so
consecutive periods neither share nor miss a block. A day after the synced tip's day is refused: the
book cannot know what its blocks will hold.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import Connection

from boveda.book import Book
from boveda.errors import WalletError
from boveda.reconcile.facts import ReconcileError
from boveda.report.rollforward import day_before
from boveda.text import shown
from boveda.wallets import facts_store as facts

UTC = "UTC"


@dataclass(frozen=True, slots=True)
class DayBlock:
    """The last synced block of ``day`` in ``zone``."""

    day: datetime.date
    zone: str
    height: int
    block_hash_hex: str
    block_time: int  # header time, unix seconds

    @property
    def block_datetime(self) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self.block_time, zone_named(self.zone))

    def to_json(self) -> dict[str, object]:
        return {"date": self.day.isoformat(), "zone": self.zone, "height": self.height,
                "block_hash": self.block_hash_hex, "block_time": self.block_time,
                "block_time_iso": self.block_datetime.isoformat()}


@dataclass(frozen=True, slots=True)
class PeriodBounds:
    """A statement's period: days ``period_from``..``period_to`` (``period_from`` None: from the beginning)
    and its blocks, above ``opening_height`` (None: from the first synced block) up to ``closing_height``."""

    period_from: datetime.date | None
    period_to: datetime.date
    opening_height: int | None
    closing_height: int


def zone_named(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``UTC``, ``America/El_Salvador``); ReconcileError when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ReconcileError(f"unknown time zone {shown(name)}: give an IANA name such as UTC or "
                             "America/El_Salvador") from None


def end_of_day(day: datetime.date, zone: str = UTC) -> int:
    """The last second of ``day`` in ``zone``, as unix seconds."""
    next_midnight = datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time(), zone_named(zone))
    return int(next_midnight.timestamp()) - 1


def block_of_day(book: Book, day: datetime.date, zone: str = UTC) -> DayBlock:
    """The last synced block at or before the end of ``day`` in ``zone``; ReconcileError naming the synced
    range when ``day`` is after the synced tip's day or before the first synced block."""
    zone_named(zone)
    with book.store.read() as conn:
        return _block_of_day(conn, day, zone, what="date")


def period_bounds(book: Book, period_from: datetime.date | None, period_to: datetime.date | None,
                  at_height: int | None = None) -> PeriodBounds:
    """The blocks of a statement's period. ``period_to`` (its day's last block) and ``at_height`` both set
    the closing block: give at most one (neither: the synced tip); the period ends on the closing block's
    day then. Refused: a day after the synced tip's day, ``period_from`` after the period's end."""
    if period_to is not None and at_height is not None:
        raise ReconcileError("--at and --to both set the statement's last block: give one of them")
    with book.store.read() as conn:
        if period_to is not None:
            closing = _block_of_day(conn, period_to, UTC, what="period end (--to)").height
            end_day = period_to
        else:
            tip_height = synced_tip(conn)[0]
            closing = tip_height if at_height is None else at_height
            block = facts.synced_block(conn, closing)
            if block is None:
                raise ReconcileError(f"height {closing} has not been synced (the book is synced to {tip_height}): "
                                     "run boveda sync")
            end_day = _day_of(block[1], UTC)
        if period_from is None:
            return PeriodBounds(None, end_day, None, closing)
        if period_from > end_day:
            tip_note = _tip_note(conn, UTC)
            raise ReconcileError(f"the period starts ({period_from}) after it ends ({end_day}, the day of block "
                                 f"{closing}){tip_note}")
        before = day_before(period_from)
        opening = None if before is None else facts.last_block_by(conn, end_of_day(before))
    return PeriodBounds(period_from, end_day, None if opening is None else opening[0], closing)


def _block_of_day(conn: Connection, day: datetime.date, zone: str, *, what: str) -> DayBlock:
    tip_height, _, tip_time = synced_tip(conn)
    tip_day = _day_of(tip_time, zone)
    if day > tip_day:
        raise ReconcileError(f"the {what} {day} is after the synced tip: block {tip_height} of {tip_day} "
                             f"({zone}) is the last synced; run boveda sync, or choose a day up to {tip_day}")
    found = facts.last_block_by(conn, end_of_day(day, zone))
    if found is None:
        raise ReconcileError(f"the {what} {day} is before the first synced block{_first_block_note(conn, zone)}: "
                             "the book has no chain facts of that day")
    height, block_hash, block_time = found
    return DayBlock(day, zone, height, block_hash[::-1].hex(), block_time)


def synced_tip(conn: Connection) -> tuple[int, bytes, int]:
    try:
        return facts.synced_tip(conn)
    except WalletError as exc:
        raise ReconcileError(str(exc)) from None


def _tip_note(conn: Connection, zone: str) -> str:
    tip_height, _, tip_time = synced_tip(conn)
    return f"; the synced tip is block {tip_height} of {_day_of(tip_time, zone)}"


def _first_block_note(conn: Connection, zone: str) -> str:
    """``, block H of DAY (ZONE)`` for the first synced block, found from the wallets' birth heights."""
    births = [row.birth_height for row in facts.wallet_rows(conn) if row.synced_height is not None]
    block = facts.synced_block(conn, min(births)) if births else None
    return "" if block is None else f", block {min(births)} of {_day_of(block[1], zone)} ({zone})"


def _day_of(block_time: int, zone: str) -> datetime.date:
    return datetime.datetime.fromtimestamp(block_time, zone_named(zone)).date()
