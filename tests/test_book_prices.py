"""The price table: CSV files read exactly (never through float), refused with the bad row's line number and
nothing imported, a day's price changed only with --replace, and Book.price_on the latest price at or before
a day — all through one audited event that `audit verify` replays."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from _book_fixtures import backend, book, book_location, postgres_url  # noqa: F401
from test_book_audit import raw_sql

from boveda.book import Book, BookError
from boveda.book.domain import Price
from boveda.book.prices import format_price_minor, parse_price_csv, parse_price_minor, read_price_file

GOOD = """date,currency,price
2025-08-01,USD,64123.45
2025-08-02,usd,64200
2025-08-04,EUR,59000.5
"""


def test_prices_are_read_exactly_with_their_source() -> None:
    prices = parse_price_csv(GOOD, source="BCR daily close")
    assert prices == (Price(date(2025, 8, 1), "USD", 6_412_345, "BCR daily close"),
                      Price(date(2025, 8, 2), "USD", 6_420_000, "BCR daily close"),
                      Price(date(2025, 8, 4), "EUR", 5_900_050, "BCR daily close"))
    # Exact where a float is not: 0.1 + 0.2 of a currency is 30 hundredths.
    assert parse_price_minor("0.30") == 30 and parse_price_minor("99999999999999.99") == 9_999_999_999_999_999
    assert format_price_minor(6_412_345) == "64123.45"


def test_a_source_column_names_each_rows_source_and_the_option_fills_blanks() -> None:
    text = "date,currency,price,source\n2025-08-01,USD,1,Kraken\n2025-08-02,USD,2,\n"
    assert [p.source for p in parse_price_csv(text, source="BCR")] == ["Kraken", "BCR"]
    with pytest.raises(BookError, match="line 3: no source: give --source or fill the source column"):
        parse_price_csv(text)


@pytest.mark.parametrize("text,message", [
    ("date,currency,price\n2025-08-01,USD,64123.456\n", "line 2: bad price '64123.456'"),
    ("date,currency,price\n2025-08-01,USD,64 123\n", "line 2: bad price"),
    ("date,currency,price\n2025-08-01,USD,1e5\n", "line 2: bad price"),
    ("date,currency,price\n2025-08-01,USD,1\n2025-13-01,USD,2\n", "line 3: bad date"),
    ("date,currency,price\n2025-08-01,DOLLAR,1\n", "line 2: bad currency"),
    ("date,currency,price\n2025-08-01,USD,0\n", "line 2: price '0' must be positive"),
    ("date,currency,price\n2025-08-01,USD\n", "line 2: expected 3 columns"),
    ("date,currency,price\n2025-08-01,USD,1\n2025-08-01,USD,2\n", "line 3: USD on 2025-08-01 is already given on line 2"),
    ("day,currency,price\n2025-08-01,USD,1\n", "line 1: expected the header"),
    ("date,currency,price\n", "holds no price"),
    ("", "is empty"),
], ids=["three decimals", "a space", "exponent", "bad date", "bad currency", "zero", "short row", "twice",
        "bad header", "no rows", "empty"])
def test_a_bad_file_is_refused_with_its_line_number(text: str, message: str) -> None:
    with pytest.raises(BookError, match=message):
        parse_price_csv(text, source="BCR")


def test_importing_and_reading_prices(book: Book, tmp_path: Path) -> None:  # noqa: F811
    path = tmp_path / "prices.csv"
    path.write_text(GOOD, encoding="utf-8")
    stored = book.import_prices(read_price_file(path, source="BCR"))
    assert len(stored) == 3
    assert book.price_on("USD", date(2025, 8, 3)) == Price(date(2025, 8, 2), "USD", 6_420_000, "BCR")
    assert book.price_on("USD", date(2025, 8, 1)).price_minor == 6_412_345
    assert book.price_on("USD", date(2025, 7, 31)) is None
    assert book.price_on("EUR", date(2026, 1, 1)).on == date(2025, 8, 4)
    assert [p.currency for p in book.prices()] == ["EUR", "USD", "USD"]
    assert book.iter_audit_events().__next__().kind == "prices.imported"
    assert book.verify().ok


def test_the_same_price_again_changes_nothing_and_another_needs_replace(book: Book) -> None:  # noqa: F811
    first = parse_price_csv(GOOD, source="BCR")
    book.import_prices(first)
    assert book.import_prices(first) == ()  # recorded (audited), but nothing new
    head = book.audit_head()
    other = (Price(date(2025, 8, 1), "USD", 6_500_000, "Kraken"),)
    with pytest.raises(BookError, match=r"already holds USD 64123.45 per BTC on 2025-08-01 \(source BCR\); "
                                        r"the file gives 65000.00 \(source Kraken\): import with --replace"):
        book.import_prices(other)
    assert book.audit_head() == head and book.price_on("USD", date(2025, 8, 1)).price_minor == 6_412_345
    assert book.import_prices(other, replace=True) == other
    assert book.price_on("USD", date(2025, 8, 1)) == other[0]
    assert book.verify().ok


def test_an_edited_price_row_is_found_by_audit_verify(book: Book) -> None:  # noqa: F811
    book.import_prices(parse_price_csv(GOOD, source="BCR"))
    raw_sql(book.store.location, "UPDATE prices SET price_minor = 1 WHERE currency = 'EUR'")
    report = book.verify()
    assert not report.ok
    assert "prices" in report.problems[0].message and "price_minor is 1" in report.problems[0].message
