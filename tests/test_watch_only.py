"""No private key enters the book by any path (issue 10, class 2): `wallet add` (API, wallets layer and
CLI), a scenario's registration, `import` of a file whose hashes are all right, and a log written behind
the tool's back (`audit verify` replays it). Every form of private key — BIP-32 xprv/tprv, SLIP-132
yprv/zprv…, WIF compressed or not, on main or test networks, with a valid checksum or a mistyped one —
in every position of every script form is refused, and no refusal quotes the key."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from _book_fixtures import StepClock
from _exports import reserve_added, sealed, wallet_added, write_export
from click.testing import CliRunner
from embit import base58, bip32, ec
from embit.descriptor.checksum import checksum
from embit.networks import NETWORKS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boveda.bitcoin.network import Network
from boveda.book import Book, BookError
from boveda.book.audit import append, seal
from boveda.book.descriptor_rules import check_descriptor, check_watch_only
from boveda.book.domain import Account, Wallet
from boveda.book.events import WalletAdded
from boveda.book.state import Effects
from boveda.book.store import write_effects
from boveda.cli.main import run
from boveda.errors import BovedaError
from boveda.wallets.registry import register_wallet

SLIP132_PRIVATE = ("049d7878", "04b2430c", "0295b005", "02aa7a99", "044a4e28", "045f18bc", "024285b5", "02575048")
SHAPES = (
    "wpkh({k}/0/*)", "wpkh([d34db33f/84h/1h/0h]{k}/<0;1>/*)", "pkh({k})", "sh(wpkh({k}/1/*))", "tr({k}/0/*)",
    "wsh(multi(1,{k}/0/*,{pub}/0/*))", "wsh(sortedmulti(2,{pub}/0/*,{k}/0/*,{pub2}/0/*))",
    "sh(wsh(multi(2,{pub}/*,{k}/*)))", "sh(multi(1,{pub},{k}))",
)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _key_texts(seed: bytes, network: str) -> tuple[str, str, str]:
    root = bip32.HDKey.from_seed(seed, version=NETWORKS[network]["xprv"])
    other = bip32.HDKey.from_seed(hashlib.sha256(seed).digest(), version=NETWORKS[network]["xprv"])
    xpub = NETWORKS[network]["xpub"]
    return root.to_base58(), root.to_public().to_base58(version=xpub), other.to_public().to_base58(version=xpub)


@st.composite
def private_descriptors(draw) -> tuple[str, str]:
    """(descriptor with a valid checksum, the private key text it holds)."""
    seed = draw(st.binary(min_size=16, max_size=64))
    network = draw(st.sampled_from(["main", "test"]))
    private, pub, pub2 = _key_texts(seed, network)
    form = draw(st.sampled_from(["bip32", "slip132", "wif-compressed", "wif-uncompressed", "mistyped"]))
    if form == "slip132":
        payload = base58.decode_check(private)
        private = base58.encode_check(bytes.fromhex(draw(st.sampled_from(SLIP132_PRIVATE))) + payload[4:])
    elif form.startswith("wif"):
        secret = ec.PrivateKey(hashlib.sha256(seed).digest())
        secret.compressed = form == "wif-compressed"
        private = secret.wif(NETWORKS[network])
    elif form == "mistyped":
        position = draw(st.integers(min_value=8, max_value=len(private) - 1))
        replacement = draw(st.sampled_from("23456789ABCDEFGH"))
        private = private[:position] + replacement + private[position + 1:]
    shape = draw(st.sampled_from(SHAPES))
    if form.startswith("wif"):  # a WIF key takes no derivation steps
        shape = shape.replace("{k}/0/*", "{k}").replace("{k}/1/*", "{k}").replace("{k}/*", "{k}")
        shape = shape.replace("{k}/<0;1>/*", "{k}")
    body = shape.format(k=private, pub=pub, pub2=pub2)
    return f"{body}#{checksum(body)}", private


def _quotes_key(message: str, key: str) -> bool:
    return any(key[i:i + 12] in message for i in range(0, len(key) - 12, 6))


@given(private_descriptors())
@SETTINGS
def test_the_books_own_check_refuses_every_private_key_without_quoting_it(case):
    descriptor, key = case
    with pytest.raises(BookError, match="watch-only") as refused:
        check_descriptor(descriptor)
    assert not _quotes_key(str(refused.value), key)


@given(st.data())
@SETTINGS
def test_public_descriptors_pass_the_watch_only_check(data):
    seed = data.draw(st.binary(min_size=16, max_size=64))
    _, pub, pub2 = _key_texts(seed, data.draw(st.sampled_from(["main", "test"])))
    shape = data.draw(st.sampled_from(SHAPES))
    body = shape.format(k=pub, pub=pub2, pub2=_key_texts(hashlib.sha256(seed).digest(), "main")[1])
    check_watch_only(body)


@pytest.fixture
def book(tmp_path) -> Book:
    location = str(tmp_path / "book.db")
    Book.init(location)
    with Book.open(location, clock=StepClock()) as opened:
        opened.add_reserve("SV", name="El Salvador")
        yield opened


@given(private_descriptors())
@SETTINGS
def test_wallet_add_refuses_them_through_the_book_and_the_wallets_layer(book, case):
    descriptor, key = case
    head = book.audit_head()
    for add in (lambda: book.add_wallet("w", descriptor=descriptor, reserve="SV"),
                lambda: register_wallet(book, "w", descriptor, network=Network.REGTEST, reserve="SV"),
                lambda: register_wallet(book, "w", descriptor, network=Network.MAIN, reserve="SV")):
        with pytest.raises(BovedaError) as refused:
            add()
        assert not _quotes_key(str(refused.value), key)
    assert book.audit_head() == head and book.wallets() == ()


@given(private_descriptors())
@SETTINGS
def test_import_refuses_a_file_whose_hashes_are_right_and_whose_wallet_holds_a_private_key(tmp_path, case):
    descriptor, key = case
    path = write_export(tmp_path / "export.json", sealed([reserve_added(), wallet_added(descriptor)]))
    location = str(tmp_path / f"import-{hashlib.sha256(descriptor.encode()).hexdigest()[:8]}.db")
    with Book.open(location, create=True) as book:
        with pytest.raises(BookError, match="watch-only") as refused:
            book.import_file(path)
        assert book.audit_head().seq == 0 and book.wallets() == ()
    assert not _quotes_key(str(refused.value), key)


@given(private_descriptors())
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_import_on_the_command_line_refuses_it_in_one_line(tmp_path, case):
    descriptor, key = case
    path = write_export(tmp_path / "export.json", sealed([reserve_added(), wallet_added(descriptor)]))
    result = CliRunner().invoke(_Entry("boveda"), ["--book", str(tmp_path / "b.db"), "import", str(path)],
                                catch_exceptions=False)
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1 and "watch-only" in result.stderr
    assert not _quotes_key(result.stdout + result.stderr, key)


def test_a_private_key_written_into_the_log_behind_the_tools_back_fails_audit_verify(book):
    private, _, _ = _key_texts(b"behind the back", "test")
    body = f"wpkh({private}/0/*)"
    wallet = Wallet("w", f"{body}#{checksum(body)}", Account.reserve("SV"), None)
    with book.store.write() as (conn, head):
        event = seal(head, WalletAdded(wallet), "2025-03-06T12:00:09.000000Z")
        write_effects(conn, Effects(added=(wallet,)))
        append(conn, event)  # moves the head too: the log is whole, only the rules can object
    report = book.verify()
    assert not report.ok and "watch-only" in report.problems[0].message
    assert not _quotes_key(report.problems[0].message, private)


class _Entry:
    """`boveda.cli.main.run` for CliRunner, which calls `.main(args=…, prog_name=…)`."""

    def __init__(self, name: str) -> None:
        self.name = name

    def main(self, args=None, prog_name=None, **_):
        raise SystemExit(run(args))


@given(private_descriptors())
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_wallet_add_on_the_command_line_refuses_it_in_one_line(tmp_path, case):
    location = str(tmp_path / "b.db")
    if not Path(location).exists():
        assert run(["--book", location, "init"]) == 0
        assert run(["--book", location, "reserve", "add", "SV", "--name", "El Salvador"]) == 0
    for descriptor, key in (case,):
        result = CliRunner().invoke(_Entry("boveda"), ["--book", location, "wallet", "add", "w", "--reserve", "SV",
                                                       "--network", "regtest", "--descriptor", descriptor],
                                    catch_exceptions=False)
        assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1, result.stderr
        assert not _quotes_key(result.stdout + result.stderr, key)
    with Book.open(location) as book:
        assert book.wallets() == ()


VECTORS = json.loads((Path(__file__).parent / "data" / "descriptors" / "bip380_389.json").read_text())


@pytest.mark.parametrize("key", VECTORS["keys"]["private"])
def test_every_bip380_private_key_vector_is_refused_by_the_book(key):
    with pytest.raises(BookError, match="watch-only"):
        check_watch_only(f"pkh({key})")


@pytest.mark.parametrize("vector", VECTORS["valid"], ids=lambda v: v["text"][:40])
def test_no_public_bip_vector_is_taken_for_a_private_key(vector):
    check_watch_only(vector.get("public_text", vector["text"]))
