"""The commands' parameter types: each parses what the user typed with the book's (or money's) own
check, so that a value is refused on the command line in the same words as in the book, before any
work — and as a usage error (exit 2, one line), never a traceback.

click's own `INT`/`IntRange` take `int()`'s view of a number (Arabic-Indic and superscript digits,
underscores, any length) and `click.Path` takes any text; these take ASCII digits of bounded length
and paths without control, line-separator or bidi characters.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import Any

import click

from boveda.book.checks import (
    MAX_HEIGHT,
    MAX_ID,
    check_date_range,
    parse_date,
    parse_percent_bp,
    parse_usd_cents,
    parse_whole_number,
)
from boveda.errors import BovedaError
from boveda.money import parse_btc
from boveda.text import shown, unsafe_character


class BadValue(BovedaError):
    """A parameter's value refused by its check: one line on stderr and exit 2, however the command is run
    (a click usage error would print the usage too when click itself handles it)."""


def _refuse(message: str, param: click.Parameter | None) -> BadValue:
    name = (param.opts[0] if isinstance(param, click.Option) else (param.human_readable_name if param else "")) or ""
    return BadValue(f"{name}: {message}" if name else message)


class Checked(click.ParamType):
    """A parameter converted by `parse`, whose BovedaError is the refusal's message."""

    def __init__(self, name: str, parse: Callable[[str], Any]) -> None:
        self.name = name
        self._parse = parse

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value  # a default, already of the type
        try:
            return self._parse(value)
        except BovedaError as exc:
            raise _refuse(str(exc), param) from None


def whole_number(what: str, *, minimum: int = 0, maximum: int) -> Checked:
    return Checked("integer", lambda text: parse_whole_number(text, what=what, minimum=minimum, maximum=maximum))


def _date(text: str) -> datetime.date:
    today = datetime.datetime.now(datetime.UTC).date()
    return check_date_range(parse_date(text), today=today)


_HASH_RE = re.compile(r"[0-9a-fA-F]{64}")


def _audit_hash(text: str) -> str:
    if not _HASH_RE.fullmatch(text):
        raise BovedaError(f"an audit head is 64 hex digits, not {shown(text)}")
    return text.lower()


_SECONDS_RE = re.compile(r"[0-9]{1,7}(?:\.[0-9]{1,6})?")


def _seconds(text: str) -> float:
    if not _SECONDS_RE.fullmatch(text) or float(text) <= 0:
        raise BovedaError(f"expected a number of seconds above 0 such as 30 or 0.5 (at most 9999999), not {shown(text)}")
    return float(text)


BTC = Checked("BTC", parse_btc)
HEIGHT = whole_number("block height", maximum=MAX_HEIGHT)
LOT_ID = whole_number("lot id", minimum=1, maximum=MAX_ID)
ALERT_ID = whole_number("alert id", minimum=1, maximum=MAX_ID)
BLOCK_COUNT = whole_number("number of blocks", minimum=1, maximum=MAX_HEIGHT)
GAP_LIMIT = whole_number("gap limit", minimum=1, maximum=10_000)
SATOSHIS = whole_number("amount in satoshis", maximum=21_000_000 * 100_000_000)
DATE = Checked("YYYY-MM-DD", _date)
PERIOD_DATE = Checked("YYYY-MM-DD", parse_date)  # a period's bound: any real day
PERCENT = Checked("PERCENT", parse_percent_bp)
USD_PRICE = Checked("USD", parse_usd_cents)
AUDIT_HASH = Checked("HASH", _audit_hash)
SECONDS = Checked("SECONDS", _seconds)


class SafePath(click.Path):
    """`click.Path` that first refuses a path holding NUL, a control, line-separator or bidi character:
    such a name cannot be opened (NUL) or would be printed as something else."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str):
            unsafe = unsafe_character(value)
            if unsafe is not None:
                raise _refuse(f"a path may not hold {unsafe} (a control, line-separator or bidi character)", param)
            if value == "":
                raise _refuse("the path is empty", param)
        return super().convert(value, param, ctx)
