"""Every query parameter the site takes, parsed and bounded here: a bad one is a 400 with a one-line
reason (JSON on the API, a page on the site), never a 500, and never reaches the service layer."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from boveda.reconcile.model import MovementKind
from boveda.service.site import SiteSnapshot

MAX_VALUE_LENGTH = 100
DEFAULT_LIMIT = 100
MAX_LIMIT = 500
_HEIGHT = re.compile(r"[0-9]{1,9}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_CURSOR = re.compile(r"([0-9]{1,9})-([0-9]{1,7})")
_TXID = re.compile(r"[0-9a-fA-F]{64}")
_CODE = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,31}")


class SiteError(Exception):
    """A request the site refuses: `status` and a one-line `reason` (safe to show: it echoes input
    only through the renderer, which escapes it)."""

    status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadRequest(SiteError):
    status = 400


class NotFound(SiteError):
    status = 404


class NotReady(SiteError):
    """The book has no synced block yet: nothing to show."""

    status = 503


def check_names(query: Mapping[str, str], allowed: frozenset[str] | set[str], *, strict: bool) -> None:
    """Refuses over-long values and, when `strict` (the API), any parameter the route does not take."""
    for name in query:
        if len(name) > 40 or any(len(v) > MAX_VALUE_LENGTH for v in _values(query, name)):
            raise BadRequest(f"query parameter {name[:40]!r} is too long (at most {MAX_VALUE_LENGTH} characters)")
        if strict and name not in allowed:
            raise BadRequest(f"unknown query parameter {name!r}: this route takes {', '.join(sorted(allowed)) or 'none'}")
        if len(_values(query, name)) > 1:
            raise BadRequest(f"query parameter {name!r} is given more than once")


def _values(query: Mapping[str, str], name: str) -> list[str]:
    getlist = getattr(query, "getlist", None)
    return list(getlist(name)) if getlist else [query[name]]


def parse_day(text: str | None, name: str) -> date | None:
    if text is None or text == "":
        return None
    if not _DAY.fullmatch(text):
        raise BadRequest(f"{name}: expected a date YYYY-MM-DD, got {text!r}")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{name}: {text!r} is not a calendar date") from None


@dataclass(frozen=True, slots=True)
class Period:
    period_from: date | None
    period_to: date | None

    @property
    def given(self) -> bool:
        return self.period_from is not None or self.period_to is not None


def parse_period(query: Mapping[str, str]) -> Period:
    period_from, period_to = parse_day(query.get("from"), "from"), parse_day(query.get("to"), "to")
    if period_from and period_to and period_from > period_to:
        raise BadRequest(f"from ({period_from}) comes after to ({period_to})")
    return Period(period_from, period_to)


def parse_at(text: str | None, snapshot: SiteSnapshot) -> int | None:
    """`at`: a synced block height, or a date (the last synced block of that day, UTC); None for the tip."""
    if text is None or text == "":
        return None
    low = snapshot.block_heights[0] if snapshot.block_heights else snapshot.height
    if _HEIGHT.fullmatch(text):
        height = int(text)
        if not low <= height <= snapshot.version.tip_height:
            raise BadRequest(f"at: height {height} is outside the synced blocks ({low}–{snapshot.version.tip_height})")
        return height
    if _DAY.fullmatch(text):
        day = parse_day(text, "at")
        height = snapshot.height_on(day)
        if height is None:
            raise BadRequest(f"at: no synced block on or before {day} (the first is at height {low})")
        return height
    raise BadRequest(f"at: expected a block height or a date YYYY-MM-DD, got {text!r}")


def parse_limit(text: str | None, default: int = DEFAULT_LIMIT) -> int:
    if text is None or text == "":
        return default
    if not _HEIGHT.fullmatch(text) or not 1 <= int(text) <= MAX_LIMIT:
        raise BadRequest(f"limit: expected a whole number from 1 to {MAX_LIMIT}, got {text!r}")
    return int(text)


def parse_page(text: str | None) -> int:
    if text is None or text == "":
        return 1
    if not _HEIGHT.fullmatch(text) or not 1 <= int(text) <= 100_000:
        raise BadRequest(f"page: expected a whole number from 1, got {text!r}")
    return int(text)


def encode_cursor(height: int, tx_index: int) -> str:
    """The position after which the next page starts: ``HEIGHT-TXINDEX`` of the page's last movement."""
    return f"{height}-{tx_index}"


def parse_cursor(text: str | None) -> tuple[int, int] | None:
    if text is None or text == "":
        return None
    match = _CURSOR.fullmatch(text)
    if match is None:
        raise BadRequest(f"cursor: expected the next_cursor of a previous page (HEIGHT-INDEX), got {text!r}")
    return int(match.group(1)), int(match.group(2))


def parse_kind(text: str | None) -> MovementKind | None:
    if text is None or text == "":
        return None
    try:
        return MovementKind(text)
    except ValueError:
        raise BadRequest(f"kind: expected one of {', '.join(k.value for k in MovementKind)}, got {text!r}") from None


def parse_txid(text: str) -> str:
    if not _TXID.fullmatch(text):
        raise BadRequest(f"txid: expected 64 hex digits, got {text[:80]!r}")
    return text.lower()


def parse_code(text: str) -> str:
    if not _CODE.fullmatch(text):
        raise NotFound(f"no reserve {text[:40]!r}: reserve codes are capital letters, digits, '-' or '_'")
    return text


def parse_flag(text: str | None, name: str) -> bool:
    if text is None or text in ("", "0", "false", "no"):
        return False
    if text in ("1", "true", "yes"):
        return True
    raise BadRequest(f"{name}: expected true or false, got {text!r}")
