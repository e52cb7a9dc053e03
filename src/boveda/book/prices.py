"""The book's price table: the price of one bitcoin per day and currency, as the office supplies it.

Bóveda fetches no price: an office imports its own source's prices from a CSV file
(``date,currency,price[,source]``). Prices are parsed exactly (digits, at most two decimals)
into hundredths of the currency — never through ``float``. An import is one audited event
(``prices.imported``); the table is derived from those events.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime

from boveda.book.checks import check_date_range, check_stored_text, check_text, parse_date, shown
from boveda.book.domain import Price
from boveda.book.errors import BookError

MAX_PRICE_MINOR = 10**16  # 100,000,000,000,000.00 per BTC: room for currencies far weaker than the dollar
MAX_PRICES_PER_IMPORT = 100_000
MAX_FILE_BYTES = 20_000_000
_CURRENCY_RE = re.compile(r"[A-Z]{3}")
_PRICE_RE = re.compile(r"([0-9]+)(?:\.([0-9]{1,2}))?")
_COLUMNS = ("date", "currency", "price")


def check_currency(code: object) -> str:
    """An ISO 4217 currency code: three capital letters (``USD``, ``EUR``)."""
    if not isinstance(code, str) or not _CURRENCY_RE.fullmatch(code):
        raise BookError(f"bad currency {shown(code)}: use an ISO 4217 code of three capital letters such as USD")
    return code


def parse_price_minor(text: str, *, currency: str = "") -> int:
    """``"64123.45"`` → ``6412345``: a price per BTC in the currency's units, exactly, as hundredths."""
    match = _PRICE_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise BookError(f"bad price {shown(text)}: expected a number such as 64123 or 64123.45 "
                        "(digits, at most two decimals, no thousands separator)")
    whole = match.group(1).lstrip("0") or "0"
    if len(whole) > len(str(MAX_PRICE_MINOR // 100)):
        raise BookError(f"price {shown(text)} {currency} per BTC is too large")
    return check_price_minor(int(whole) * 100 + int((match.group(2) or "").ljust(2, "0")), shown_as=text)


def check_price_minor(value: object, *, shown_as: object = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BookError(f"a price is a whole number of hundredths, not {shown(value)}")
    if value <= 0:
        raise BookError(f"price {shown(shown_as if shown_as is not None else value)} must be positive")
    if value > MAX_PRICE_MINOR:
        raise BookError(f"price {shown(shown_as if shown_as is not None else value)} per BTC is too large")
    return value


def format_price_minor(price_minor: int) -> str:
    """``6412345`` → ``"64123.45"``."""
    return f"{price_minor // 100}.{price_minor % 100:02d}"


def check_price(price: Price, *, today: date | None) -> None:
    """A stored price as :func:`parse_price_csv` would have made it."""
    if not isinstance(price, Price):
        raise BookError("malformed price")
    check_date_range(price.on, today=today, what="price date")
    check_currency(price.currency)
    check_price_minor(price.price_minor)
    check_stored_text(price.source, what="price source")


def check_import(prices: Iterable[Price]) -> tuple[Price, ...]:
    """At least one price, at most one per day and currency."""
    found = tuple(prices)
    if not found:
        raise BookError("the price file holds no price: nothing was imported")
    if len(found) > MAX_PRICES_PER_IMPORT:
        raise BookError(f"at most {MAX_PRICES_PER_IMPORT} prices per import: split the file")
    seen: set[tuple[date, str]] = set()
    for price in found:
        key = (price.on, price.currency)
        if key in seen:
            raise BookError(f"the import gives {price.currency} on {price.on.isoformat()} twice")
        seen.add(key)
    return found


def parse_price_csv(text: str, *, source: str | None = None, name: str = "the price file",
                    today: date | None = None) -> tuple[Price, ...]:
    """The prices of a CSV file with a header ``date,currency,price`` and, optionally, ``source``.

    Every row needs a source: its ``source`` cell, or ``source`` (``--source``) when the cell is
    empty or the column absent. A bad row is refused with its line number, and then nothing
    is imported.
    """
    default_source = check_text(source, what="price source (--source)", required=False)
    text = text.removeprefix("\ufeff")  # a spreadsheet's byte-order mark
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as exc:
        raise BookError(f"{name} is not CSV this reader accepts: {exc}") from None
    if not rows:
        raise BookError(f"{name} is empty: expected a header line date,currency,price[,source]")
    header = [cell.strip().lower() for cell in rows[0]]
    if header[:3] != list(_COLUMNS) or header[3:] not in ([], ["source"]):
        raise BookError(f"{name} line 1: expected the header date,currency,price or date,currency,price,source, "
                        f"got {shown(','.join(rows[0]))}; nothing was imported")
    has_source = len(header) == 4
    prices: list[Price] = []
    seen: dict[tuple[date, str], int] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise BookError(f"{name} line {line}: expected {len(header)} columns ({','.join(header)}), "
                            f"got {len(row)}; nothing was imported")
        try:
            on = parse_date(row[0].strip())
            check_date_range(on, today=today, what="date")
            currency = check_currency(row[1].strip().upper())
            price_minor = parse_price_minor(row[2], currency=currency)
            cell = row[3].strip() if has_source else ""
            row_source = check_text(cell, what="source", required=False) or default_source
            if row_source is None:
                raise BookError("no source: give --source or fill the source column")
        except BookError as exc:
            raise BookError(f"{name} line {line}: {exc}; nothing was imported") from None
        key = (on, currency)
        if key in seen:
            raise BookError(f"{name} line {line}: {currency} on {on.isoformat()} is already given on line "
                            f"{seen[key]}; nothing was imported")
        seen[key] = line
        prices.append(Price(on, currency, price_minor, row_source))
    return check_import(prices)


def read_price_file(path: str | os.PathLike[str], *, source: str | None = None) -> tuple[Price, ...]:
    """:func:`parse_price_csv` of the UTF-8 file at ``path``."""
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            text = handle.read(MAX_FILE_BYTES + 1)
    except (OSError, ValueError) as exc:
        raise BookError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    except UnicodeDecodeError:
        raise BookError(f"{path} is not UTF-8 text") from None
    if len(text) > MAX_FILE_BYTES:
        raise BookError(f"{path} is larger than {MAX_FILE_BYTES // 1_000_000} MB: split it")
    return parse_price_csv(text, source=source, name=str(path), today=datetime.now(UTC).date())


def latest_at_or_before(prices: Iterable[Price], currency: str, on: date) -> Price | None:
    """The price of ``currency`` on ``on`` or the nearest day before it (``None`` when there is none)."""
    best: Price | None = None
    for price in prices:
        if price.currency == currency and price.on <= on and (best is None or price.on > best.on):
            best = price
    return best
