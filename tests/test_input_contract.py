"""Input validation as a contract (issue 10, class 7): whole numbers, amounts, outpoints and dates in ASCII
digits of bounded length and range (Python's `int()` and `str.isdigit()` take Arabic-Indic and
superscript digits, and a 5,000-digit number is no one's height); descriptors whose multisig names
one key twice, or whose raw() script is over 10,000 bytes, refused on every path; a malformed
`--expect-head` is bad input, a huge `--price-usd` has its own message."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from _book_fixtures import StepClock
from click.testing import CliRunner
from embit import bip32
from embit.descriptor.checksum import checksum
from embit.networks import NETWORKS
from hypothesis import given, settings
from hypothesis import strategies as st

from boveda.bitcoin.network import Network
from boveda.book import Book, BookError
from boveda.book.checks import MAX_HEIGHT, check_date_range, check_outpoint, parse_usd_cents, parse_whole_number
from boveda.book.descriptor_rules import MAX_RAW_SCRIPT_BYTES, check_descriptor
from boveda.cli.main import run
from boveda.errors import BovedaError, DescriptorError
from boveda.money import AmountError, parse_btc
from boveda.wallets.descriptors import parse_descriptor

OTHER_DIGITS = "٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹०१२३४५६७८९０１２３４５６７８９²³¹⁰①"
NUMBERISH = st.one_of(
    st.from_regex(r"-?[0-9]{1,30}", fullmatch=True),
    st.text(alphabet="0123456789" + OTHER_DIGITS + "_ +-.e", max_size=25),
    st.just("9" * 5000), st.just("1_000"), st.just(" 7"), st.just("7 "), st.just("+7"),
)


@given(NUMBERISH, st.integers(min_value=0, max_value=5), st.sampled_from([1, 255, MAX_HEIGHT, 2**63 - 1]))
@settings(max_examples=500)
def test_a_whole_number_is_ascii_digits_within_its_bounds(text, minimum, maximum):
    accepted = (re.fullmatch(r"-?[0-9]+", text) is not None and len(text) < 100
                and minimum <= int(text) <= maximum)
    if accepted:
        assert parse_whole_number(text, what="n", minimum=minimum, maximum=maximum) == int(text)
    else:
        with pytest.raises(BookError) as refused:
            parse_whole_number(text, what="n", minimum=minimum, maximum=maximum)
        assert len(str(refused.value)) < 200  # named, not echoed


@given(st.text(alphabet="0123456789." + OTHER_DIGITS, max_size=30) | st.just("9" * 5000 + ".5"))
@settings(max_examples=500)
def test_an_amount_is_ascii_digits_and_never_a_traceback(text):
    try:
        amount_sat = parse_btc(text)
    except AmountError as exc:
        assert len(str(exc)) < 200
        return
    assert re.fullmatch(r"[0-9]*\.?[0-9]*", text.strip()) and 0 < amount_sat <= 21_000_000 * 100_000_000


@given(st.sampled_from(OTHER_DIGITS + "x-+ "), st.text(alphabet="0123456789", max_size=3))
def test_an_outpoint_index_is_ascii_digits(other, digits):
    with pytest.raises(BookError):
        check_outpoint(f"{'ab' * 32}:{digits}{other}")
    assert check_outpoint(f"{'AB' * 32}:0{digits}") == f"{'ab' * 32}:{int('0' + digits)}"


def test_an_outpoint_index_beyond_32_bits_is_refused():
    assert check_outpoint(f"{'ab' * 32}:4294967295").endswith(":4294967295")
    for vout in ("4294967296", "9" * 5000, "99999999999999999999999"):
        with pytest.raises(BookError):
            check_outpoint(f"{'ab' * 32}:{vout}")


@given(st.dates())
def test_a_date_is_between_bitcoins_first_day_and_a_year_from_today(day):
    today = date(2026, 12, 1)
    if date(2009, 1, 3) <= day <= date(2027, 12, 1):
        assert check_date_range(day, today=today) == day
    else:
        with pytest.raises(BookError):
            check_date_range(day, today=today)


def test_the_last_day_a_change_on_the_29th_of_february_may_carry():
    assert check_date_range(date(2029, 3, 1), today=date(2028, 2, 29)) == date(2029, 3, 1)
    with pytest.raises(BookError):
        check_date_range(date(2029, 3, 2), today=date(2028, 2, 29))


@given(st.from_regex(r"0{0,3}[1-9][0-9]{13,40}(\.[0-9]{1,2})?", fullmatch=True))
def test_a_huge_usd_price_has_its_own_message(text):
    with pytest.raises(BookError, match="USD price .* per BTC is too large"):
        parse_usd_cents(text)


# -- descriptors -------------------------------------------------------------------------------------

def _xpubs(seed: bytes) -> tuple[str, str]:
    root = bip32.HDKey.from_seed(seed, version=NETWORKS["test"]["xprv"])
    child = root.derive([0])
    version = NETWORKS["test"]["xpub"]
    return root.to_public().to_base58(version=version), child.to_public().to_base58(version=version)


@given(st.binary(min_size=16, max_size=32), st.integers(min_value=2, max_value=3),
       st.sampled_from(["multi", "sortedmulti"]), st.sampled_from(["wsh", "sh", "sh-wsh"]),
       st.sampled_from(["same", "origin", "child"]))
@settings(max_examples=60, deadline=None)
def test_a_multisig_naming_one_key_twice_is_refused(seed, threshold, name, wrap, spelling):
    xpub, child = _xpubs(seed)
    other, _ = _xpubs(seed[::-1] + b"x")
    first = f"{xpub}/0/*"
    again = {"same": f"{xpub}/0/*", "origin": f"[d34db33f/48h/1h/0h/2h]{xpub}/0/*", "child": f"{child}/*"}[spelling]
    keys = [first, again, f"{other}/0/*"][:threshold + (1 if threshold == 3 else 0)]
    inner = f"{name}({threshold},{','.join(keys[:max(threshold, 2)])})"
    body = {"wsh": f"wsh({inner})", "sh": f"sh({inner})", "sh-wsh": f"sh(wsh({inner}))"}[wrap]
    text = f"{body}#{checksum(body)}"
    with pytest.raises(DescriptorError, match="names one key twice"):
        parse_descriptor(text, Network.REGTEST)
    if spelling != "child":  # the book reads the text; the wallets layer also sees a child xpub for what it is
        with pytest.raises(BookError, match="names one key twice"):
            check_descriptor(text)


def test_a_one_of_n_may_name_a_key_twice():
    xpub, _ = _xpubs(b"1" * 16)
    body = f"wsh(multi(1,{xpub}/0/*,{xpub}/0/*))"
    assert parse_descriptor(f"{body}#{checksum(body)}", Network.REGTEST)
    assert check_descriptor(f"{body}#{checksum(body)}")


@pytest.mark.parametrize("size, refused", [(MAX_RAW_SCRIPT_BYTES, False), (MAX_RAW_SCRIPT_BYTES + 1, True),
                                           (12_000, True)])
def test_a_raw_script_over_10000_bytes_is_refused_on_every_path(tmp_path, size, refused):
    body = f"raw({'51' * size})"
    text = f"{body}#{checksum(body)}"
    location = str(tmp_path / "book.db")
    Book.init(location)
    with Book.open(location, clock=StepClock()) as book:
        book.add_reserve("SV", name="El Salvador")
        if refused:
            with pytest.raises(BookError, match="10000"):
                check_descriptor(text)
            with pytest.raises(BovedaError, match="10000"):
                book.add_wallet("w", descriptor=text, reserve="SV")
            assert book.wallets() == ()
        else:
            assert book.add_wallet("w", descriptor=text, reserve="SV").name == "w"


# -- on the command line -----------------------------------------------------------------------------


def _invoke(*args: str):
    class Entry:
        name = "boveda"

        def main(self, args=None, prog_name=None, **_):
            raise SystemExit(run(args))

    return CliRunner().invoke(Entry(), list(args), catch_exceptions=False)


@pytest.fixture
def location(tmp_path) -> str:
    location = str(tmp_path / "book.db")
    assert run(["--book", location, "init"]) == 0
    assert run(["--book", location, "reserve", "add", "SV", "--name", "El Salvador"]) == 0
    assert run(["--book", location, "case", "add", "C-1", "--agency", "Agency"]) == 0
    assert run(["--book", location, "lot", "seize", "--case", "C-1", "--amount", "1", "--txid", "ab" * 32]) == 0
    return location


@pytest.mark.parametrize("head, code, says", [
    ("zz", 2, "64 hex digits"), ("", 2, "64 hex digits"), ("ab" * 31, 2, "64 hex digits"), ("\u0661" * 64, 2, "hex"),
    ("ab" * 32, 1, "is not in this audit log"),
])
def test_a_malformed_expect_head_is_bad_input_and_a_missing_one_a_failed_check(location, head, code, says):
    result = _invoke("--book", location, "audit", "verify", "--expect-head", head)
    assert result.exit_code == code and says in result.output, result.output
    if code == 2:
        assert len(result.stderr.splitlines()) == 1 and "removed" not in result.output


@pytest.mark.parametrize("args, says", [
    (("purchase", "add", "--reserve", "SV", "--amount", "1", "--txid", "cd" * 32, "--price-usd", "9" * 40),
     "per BTC is too large"),
    (("purchase", "add", "--reserve", "SV", "--amount", "9" * 5000, "--txid", "cd" * 32), "21,000,000 BTC"),
    (("lot", "forfeiture-pending", "\u0661", "--order", "o"), "digits 0-9"),
    (("lot", "forfeiture-pending", "\u00b9", "--order", "o"), "digits 0-9"),
    (("lot", "forfeiture-pending", "99999999999999999999999", "--order", "o"), "too large"),
    (("lot", "seize", "--case", "C-1", "--amount", "1", "--txid", "cd" * 32, "--outpoint", "cd" * 32 + ":\u0661"),
     "bad outpoint"),
    (("wallet", "add", "w", "--reserve", "SV", "--descriptor", "raw(51)#x", "--birth-height", "9" * 5000),
     "too large"),
    (("reconcile", "--reserve", "SV", "--at", "99999999999999999999999"), "too large"),
    (("purchase", "add", "--reserve", "SV", "--amount", "1", "--txid", "cd" * 32, "--date", "2008-12-31"),
     "before 2009-01-03"),
    (("purchase", "add", "--reserve", "SV", "--amount", "1", "--txid", "cd" * 32, "--date", "2025-W01-1"),
     "YYYY-MM-DD"),
    (("sync", "--follow", "--idle-exit-s", "nan"), "seconds"),
])
def test_hostile_numbers_and_dates_are_one_line_of_bad_input(location, args, says):
    result = _invoke("--book", location, *args)
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1, result.output
    assert says in result.stderr


def test_a_date_more_than_a_year_ahead_is_refused_and_a_year_is_not(location):
    base = ("--book", location, "purchase", "add", "--reserve", "SV", "--amount", "1")
    ahead = date.today() + timedelta(days=300)
    assert _invoke(*base, "--txid", "ef" * 32, "--date", ahead.isoformat()).exit_code == 0
    far = _invoke(*base, "--txid", "fe" * 32, "--date", (date.today() + timedelta(days=400)).isoformat())
    assert far.exit_code == 2 and "a year" in far.stderr
