"""Checks and parsers of single values — codes, names, txids, amounts, whole numbers, dates,
percentages, prices, descriptors — used by the commands (on what a user typed) and by replay (on
what an event stored), so that both refuse the same values with the same words.

Numbers are ASCII digits of bounded length: Python's ``int()`` and ``str.isdigit()`` also take
Arabic-Indic and superscript digits, and a 5,000-digit number is no one's amount or height.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from boveda.book.descriptor_rules import check_descriptor  # noqa: F401  (its rules live there; re-exported)
from boveda.book.errors import BookError
from boveda.text import shown, unsafe_character

FIRST_DATE = date(2009, 1, 3)  # the day of Bitcoin's genesis block: no entry is older
MAX_HEIGHT = 2**31 - 1  # block heights are stored as 32-bit integers
MAX_ID = 2**31 - 1  # lot, entry and alert ids
MAX_USD_CENTS = 10**14  # a USD price per BTC of at most 1,000,000,000,000.00
TEXT_MAX_CHARS = 500

_CODE_RE = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,31}")
_CASE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9:._/-]{0,63}")
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_TXID_RE = re.compile(r"[0-9a-f]{64}")
_WALLET_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def check_code(code: str, *, what: str = "code") -> str:
    if not isinstance(code, str) or not _CODE_RE.fullmatch(code):
        raise BookError(f"bad {what} {shown(code)}: use 1-32 capital letters, digits, '-' or '_' (e.g. SV, US-SBR)")
    return code


def check_case_number(number: str) -> str:
    if not isinstance(number, str) or not _CASE_RE.fullmatch(number):
        raise BookError(
            f"bad case number {shown(number)}: use 1-64 letters, digits and ':._/-', no spaces (e.g. 1:21-cr-00399)"
        )
    return number


def check_name(name: str, *, what: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise BookError(f"bad {what} {shown(name)}: use 1-64 letters, digits, '.', '_' or '-'")
    return name


def check_wallet_name(name: str) -> str:
    if not isinstance(name, str) or not _WALLET_RE.fullmatch(name):
        raise BookError(f"bad wallet name {shown(name)}: use 1-100 letters, digits, '.', '_' or '-'")
    return name


def check_text(text: str, *, what: str, required: bool = True) -> str | None:
    """A free-text field (name, court, reference): one line, not blank when required."""
    if text is None:
        if required:
            raise BookError(f"{what} is required")
        return None
    if not isinstance(text, str):
        raise BookError(f"{what} must be text")
    stripped = text.strip()
    if not stripped:
        if required:
            raise BookError(f"{what} is required and may not be blank")
        return None
    if len(stripped) > TEXT_MAX_CHARS:
        raise BookError(f"{what} must be one line of at most {TEXT_MAX_CHARS} characters")
    unsafe = unsafe_character(stripped)
    if unsafe is not None:
        raise BookError(f"{what} must be one line of printable text: it holds {unsafe} (a control, line-separator "
                        "or bidi character)")
    return stripped


def check_stored_text(text: str | None, *, what: str, required: bool = True) -> None:
    """A text field of a stored event: as :func:`check_text` would have left it (trimmed, one line)."""
    if text is None and not required:
        return
    if check_text(text, what=what, required=required) != text:
        raise BookError(f"{what} must not be blank or have leading or trailing blanks")


def check_txid(txid: str) -> str:
    """A transaction id as 64 hex digits (the usual big-endian display order); returned lower-case."""
    if not isinstance(txid, str) or not _TXID_RE.fullmatch(txid.lower()):
        raise BookError(f"bad txid {shown(txid, 80)}: expected 64 hex digits")
    return txid.lower()


def check_outpoint(outpoint: str) -> str:
    """``TXID:N`` with N an output index in ASCII digits (0..4294967295); returned in canonical form."""
    txid, sep, vout = outpoint.rpartition(":") if isinstance(outpoint, str) else ("", "", "")
    if not sep or not re.fullmatch(r"[0-9]{1,10}", vout) or int(vout) > 0xFFFFFFFF:
        raise BookError(f"bad outpoint {shown(outpoint, 80)}: expected TXID:N (N an output index, digits 0-9)")
    return f"{check_txid(txid)}:{int(vout)}"


def parse_whole_number(text: str, *, what: str, minimum: int = 0, maximum: int) -> int:
    """``text`` as a whole number between ``minimum`` and ``maximum``, written in ASCII digits only."""
    digits = len(str(maximum))
    if not isinstance(text, str) or not re.fullmatch(r"-?[0-9]+", text):
        raise BookError(f"{what} must be a whole number written in digits 0-9, not {shown(text)}")
    if len(text.lstrip("-").lstrip("0")) > digits or int(text) > maximum:
        raise BookError(f"{what} {shown(text)} is too large: at most {maximum}")
    value = int(text)
    if value < minimum:
        raise BookError(f"{what} must be at least {minimum}, not {shown(text)}")
    return value


def check_whole_number(value: object, *, what: str, minimum: int = 0, maximum: int) -> int:
    """A stored whole number (not a bool) between ``minimum`` and ``maximum``."""
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise BookError(f"{what} must be a whole number from {minimum} to {maximum}, not {shown(value)}")
    return value


def check_amount_sat(amount_sat: int, *, what: str = "amount") -> int:
    if isinstance(amount_sat, bool) or not isinstance(amount_sat, int):
        raise BookError(f"{what} must be a whole number of satoshis, not {type(amount_sat).__name__}")
    if amount_sat <= 0:
        raise BookError(f"{what} must be positive, got {amount_sat} sat")
    if amount_sat > 21_000_000 * 100_000_000:
        raise BookError(f"{what} {amount_sat} sat exceeds the 21,000,000 BTC supply")
    return amount_sat


_DATE_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


def parse_date(text: str | date) -> date:
    """Exactly ``YYYY-MM-DD`` in ASCII digits, a real day (``date.fromisoformat`` also reads ISO week dates
    such as ``2025-W01-1`` and ``20250101``: they are refused here)."""
    if isinstance(text, datetime):
        return _bad_date(text)
    if isinstance(text, date):
        return text
    match = _DATE_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        return _bad_date(text)
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return _bad_date(text)


def _bad_date(text: object) -> date:
    raise BookError(f"bad date {shown(text)}: not a date in the form YYYY-MM-DD")


def latest_date(today: date) -> date:
    """The latest effective date a change recorded on ``today`` may carry: a year ahead."""
    try:
        return today.replace(year=today.year + 1)
    except ValueError:  # 29 February
        return date(today.year + 1, 3, 1)


def check_date_range(value: date, *, today: date | None, what: str = "date") -> date:
    """``value`` between Bitcoin's first day (2009-01-03) and a year after ``today`` (no upper bound without one)."""
    if isinstance(value, datetime) or not isinstance(value, date):
        raise BookError(f"{what} must be a date")
    if value < FIRST_DATE:
        raise BookError(f"{what} {value.isoformat()} is before {FIRST_DATE.isoformat()}, the day Bitcoin began")
    if today is not None and value > latest_date(today):
        raise BookError(f"{what} {value.isoformat()} is more than a year after the day it is recorded "
                        f"({today.isoformat()})")
    return value


_RECORDED_AT_RE = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]{1,6})?Z")


def parse_recorded_at(text: str) -> date:
    """The UTC day of an audit event's ``recorded_at`` (``2025-03-06T12:00:01.000000Z``); BookError otherwise."""
    match = _RECORDED_AT_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None or int(match.group(2)) > 23 or int(match.group(3)) > 59 or int(match.group(4)) > 59:
        raise BookError(f"recorded_at {shown(text)} is not a UTC timestamp (YYYY-MM-DDTHH:MM:SS.ffffffZ)")
    try:
        return parse_date(match.group(1))
    except BookError:
        raise BookError(f"recorded_at {shown(text)} is not a UTC timestamp (no such day)") from None


def parse_percent_bp(text: str) -> int:
    """Parse a share such as ``"25"`` or ``"33.33"`` percent into basis points (2500, 3333), exactly."""
    match = re.fullmatch(r"([0-9]{1,3})(?:\.([0-9]{1,2}))?", text.strip()) if isinstance(text, str) else None
    if match is None:
        raise BookError(f"bad percentage {text!r}: expected a number such as 25 or 33.33 (at most 2 decimals)")
    share_bp = int(match.group(1)) * 100 + int((match.group(2) or "").ljust(2, "0"))
    return check_share_bp(share_bp)


def check_share_bp(share_bp: int | None) -> int:
    if share_bp is None:
        raise BookError("sharing needs the partner's percentage (--percent)")
    if isinstance(share_bp, bool) or not isinstance(share_bp, int) or not 0 < share_bp <= 10_000:
        raise BookError(f"sharing percentage must be above 0 and at most 100, got {share_bp} basis points")
    return share_bp


def format_percent_bp(share_bp: int) -> str:
    whole, frac = divmod(share_bp, 100)
    return f"{whole}.{frac:02d}".rstrip("0").rstrip(".")


def parse_usd_cents(text: str) -> int:
    """Parse a USD price per BTC such as ``"104250.5"`` into cents, exactly."""
    match = re.fullmatch(r"([0-9]+)(?:\.([0-9]{1,2}))?", text.strip().replace(",", "")) if isinstance(
        text, str
    ) else None
    if match is None:
        raise BookError(f"bad USD price {shown(text)}: expected a number such as 104250 or 104250.50")
    whole = match.group(1).lstrip("0") or "0"
    if len(whole) > len(str(MAX_USD_CENTS // 100)):
        raise _price_too_large(text)
    return check_usd_cents(int(whole) * 100 + int((match.group(2) or "").ljust(2, "0")), shown_as=text)


def check_usd_cents(cents: int, *, shown_as: object = None) -> int:
    """A USD price per BTC in cents: positive, and at most 1,000,000,000,000.00 USD."""
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise BookError(f"a USD price is a whole number of cents, not {shown(cents)}")
    if cents <= 0:
        raise BookError(f"USD price {shown(shown_as if shown_as is not None else cents)} must be positive")
    if cents > MAX_USD_CENTS:
        raise _price_too_large(shown_as if shown_as is not None else f"{cents / 100:.2f}")
    return cents


def _price_too_large(text: object) -> BookError:
    return BookError(f"USD price {shown(text)} per BTC is too large: at most {MAX_USD_CENTS // 100:,} USD")
