"""BTC strings at the edge: exact parsing into satoshis and formatting back."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from boveda.errors import BovedaError
from boveda.money import MAX_MONEY_SAT, AmountError, format_btc, parse_btc


@pytest.mark.parametrize(
    ("text", "amount_sat"),
    [
        ("1.5", 150_000_000),
        ("1", 100_000_000),
        ("0.00000001", 1),
        (".5", 50_000_000),
        ("2.", 200_000_000),
        ("94636.7", 9_463_670_000_000),
        (" 0.1 ", 10_000_000),
        ("21000000", MAX_MONEY_SAT),
        ("0.30000000", 30_000_000),  # where float arithmetic would give 29999999.999…
    ],
)
def test_parse_btc_is_exact(text: str, amount_sat: int) -> None:
    assert parse_btc(text) == amount_sat


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0.000000001", "9 decimals"),
        ("1.123456789", "at most 8"),
        ("0", "positive"),
        ("0.00000000", "positive"),
        ("-1", "not a BTC amount"),
        ("+1", "not a BTC amount"),
        ("1e3", "not a BTC amount"),
        ("1,5", "not a BTC amount"),
        ("1_000", "not a BTC amount"),
        ("1.5 BTC", "not a BTC amount"),
        ("abc", "not a BTC amount"),
        ("", "not a BTC amount"),
        ("nan", "not a BTC amount"),
        ("21000000.00000001", "21,000,000"),
    ],
)
def test_parse_btc_refuses(text: str, message: str) -> None:
    with pytest.raises(AmountError, match=message):
        parse_btc(text)


def test_amount_errors_are_bovedaerrors_so_the_cli_exits_2() -> None:
    assert issubclass(AmountError, BovedaError)


def test_parse_btc_refuses_floats() -> None:
    with pytest.raises(AmountError, match="as text"):
        parse_btc(1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("amount_sat", "text"),
    [(150_000_000, "1.50000000"), (1, "0.00000001"), (0, "0.00000000"), (-250_000_000, "-2.50000000")],
)
def test_format_btc(amount_sat: int, text: str) -> None:
    assert format_btc(amount_sat) == text


def test_format_btc_refuses_non_int() -> None:
    with pytest.raises(TypeError):
        format_btc(1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        format_btc(True)


@given(st.integers(min_value=1, max_value=MAX_MONEY_SAT))
def test_round_trip(amount_sat: int) -> None:
    assert parse_btc(format_btc(amount_sat)) == amount_sat
