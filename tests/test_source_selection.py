"""`sync`, `reconcile --refresh` and `prove` read a running node (`--rpc-url`, `--rpc`) as they read a stopped
node's datadir: the same balances at every height; the route is remembered without its password; every
bad input is one line, exit 2, and the book unchanged."""

from __future__ import annotations

import json

import pytest
from _bitcoind import bitcoind_factory, free_port  # noqa: F401
from _following import invoke, one_line_error
from _reserve_chain import LABEL, P2WSH_TRUE_ADDRESS, RESERVE, book_state, build_reserve_chain, chain_facts

from boveda.book import Book
from boveda.proofs.bundle import load_bundle
from boveda.service.wallets import sync_book, wallet_view


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    return build_reserve_chain(tmp_path_factory.mktemp("sources"))


@pytest.fixture
def node(bitcoind_factory, chain, tmp_path):  # noqa: F811
    return bitcoind_factory(chain.copy_datadir(tmp_path / "node"))


def balances(location: str, heights) -> dict:
    with Book.open(location) as book:
        names = [w.name for w in book.wallets()]
        return {(name, h): wallet_view(book, name, h).balance_sat for name in names for h in heights}


def test_a_sync_through_rpc_gives_the_block_files_balances_at_every_height(chain, node, tmp_path):
    rpc_book = chain.copy_book(tmp_path / "rpc", synced=False)
    for round_, wallets in enumerate((("hot", "cold", "seized"), ("hot", "cold"), ())):  # history: spends, change
        for wallet in wallets:
            node.cli("sendrawtransaction", chain.spend(wallet, 10_000_000 * (round_ + 1), nth=round_).serialize().hex())
        node.cli("generatetoaddress", 2, chain.address("cold"))
        if round_ == 1:  # an incremental sync in the middle, while the node runs
            with Book.open(rpc_book) as book:
                assert sync_book(book, rpc_url=node.rpc_url).tip_height == node.cli("getblockcount")
    with Book.open(rpc_book) as book:
        report = sync_book(book, rpc_url=node.rpc_url)
    node.stop()
    files_book = chain.copy_book(tmp_path / "files", synced=False)
    with Book.open(files_book) as book:
        assert sync_book(book, node.datadir, "regtest").tip_height == report.tip_height
    heights = range(chain.birth_height, report.tip_height + 1)
    assert balances(rpc_book, heights) == balances(files_book, heights)
    facts = chain_facts(rpc_book)
    assert facts == chain_facts(files_book)
    assert len(facts["txos"]) > 12 and sum(1 for coin in facts["txos"] if coin[6] is not None) == 5


def test_the_route_is_remembered_without_the_password_and_reused(chain, node, tmp_path):
    location = chain.copy_book(tmp_path / "book")
    done = invoke("--book", location, "sync", "--rpc-url", node.rpc_url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    raw = b"".join(path.read_bytes() for path in tmp_path.glob("book/book.db*"))
    assert node.rpc_password.encode() not in raw and b"boveda-test" not in raw
    with Book.open(location) as book:
        from boveda.wallets import facts_store as facts

        with book.store.read() as conn:
            assert facts.setting(conn, "rpc_url") == node.url and facts.setting(conn, "chain_route") == "rpc"
    # The cookie logs in where the URL gives no password; with nothing given, the remembered route is taken.
    cookie = invoke("--book", location, "sync", "--rpc", "--rpc-url", node.url, "--datadir", str(node.datadir),
                        cwd=tmp_path)
    assert cookie.returncode == 0, cookie.stderr
    node.cli("generatetoaddress", 2, chain.address("hot"))
    again = invoke("--book", location, "sync", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"to height {node.cli('getblockcount')}" in again.stdout


def test_reconcile_refresh_syncs_from_the_node_first(chain, node, tmp_path):
    location = chain.copy_book(tmp_path / "book")
    spend = chain.spend("hot")
    node.cli("sendrawtransaction", spend.serialize().hex())
    node.cli("generatetoaddress", 1, P2WSH_TRUE_ADDRESS)
    stale = invoke("--book", location, "reconcile", "--reserve", RESERVE, "--json", cwd=tmp_path)
    assert spend.txid_hex not in stale.stdout
    fresh = invoke("--book", location, "reconcile", "--reserve", RESERVE, "--refresh", "--rpc-url",
                       node.rpc_url, "--json", cwd=tmp_path)
    assert fresh.returncode == 1, fresh.stderr  # a critical discrepancy now
    document = json.loads(fresh.stdout)
    assert document["height"] == node.cli("getblockcount")
    assert any(d["kind"] == "unrecorded_outflow" and d["txid"] == spend.txid_hex for d in document["discrepancies"])
    assert "synced 3 wallets" in fresh.stderr


def test_prove_syncs_from_the_node_and_the_bundle_verifies_live(chain, node, tmp_path):
    location = chain.copy_book(tmp_path / "book")
    node.cli("generatetoaddress", 3, chain.address("cold"))
    proved = invoke("--book", location, "prove", "--reserve", RESERVE, "--rpc-url", node.rpc_url,
                        "--seed-label", LABEL, "--out", "proof.json", cwd=tmp_path)
    assert proved.returncode == 0, proved.stderr
    bundle = load_bundle(tmp_path / "proof.json")
    assert bundle.height == node.cli("getblockcount") and bundle.is_signed
    verified = invoke("verify", "proof.json", "--rpc-url", node.rpc_url, cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "VERIFIED" in verified.stdout and "chain read from live" in verified.stdout


# -- bad input ----------------------------------------------------------------------------------


def test_a_wrong_password_is_one_line_without_it_and_the_book_is_unchanged(chain, node, tmp_path):
    location = chain.copy_book(tmp_path / "book")
    before = book_state(location)
    wrong = f"http://boveda-test:not-the-password-42@127.0.0.1:{node.rpc_port}"
    for command in (["sync"], ["sync", "--follow"], ["reconcile", "--reserve", RESERVE, "--refresh"]):
        result = invoke("--book", location, *command, "--rpc-url", wrong, cwd=tmp_path)
        assert "refused the credentials" in one_line_error(result, "not-the-password-42")
    assert book_state(location) == before


def test_a_node_that_is_down_is_one_line_and_exit_2(chain, tmp_path):
    location = chain.copy_book(tmp_path / "book")
    before = book_state(location)
    result = invoke("--book", location, "sync", "--rpc-url", f"http://u:pw-77@127.0.0.1:{free_port()}",
                        cwd=tmp_path)
    assert "no Bitcoin Core answers at http://127.0.0.1:" in one_line_error(result, "pw-77")
    assert book_state(location) == before


@pytest.mark.parametrize("url, expected", [
    ("ftp://u:pw-secret@127.0.0.1:18443", "must start with http://"),
    ("http://u:pw-secret@127.0.0.1", "has no port"),
])
def test_a_malformed_rpc_url_is_one_line_and_exit_2(chain, tmp_path, url, expected):
    location = chain.copy_book(tmp_path / "book")
    before = book_state(location)
    for command in (["sync"], ["sync", "--follow"]):
        result = invoke("--book", location, *command, "--rpc-url", url, cwd=tmp_path)
        assert expected in one_line_error(result, "pw-secret")
    assert book_state(location) == before


def test_a_node_of_another_network_is_refused(chain, node, tmp_path):
    location = chain.copy_book(tmp_path / "book")
    before = book_state(location)
    result = invoke("--book", location, "sync", "--rpc-url", node.rpc_url, "--network", "main", cwd=tmp_path)
    assert "this book's wallets are on regtest, not main" in one_line_error(result, node.rpc_password)
    empty = str(tmp_path / "empty.db")
    assert invoke("--book", empty, "init", cwd=tmp_path).returncode == 0
    result = invoke("--book", empty, "sync", "--rpc-url", node.rpc_url, "--network", "signet", cwd=tmp_path)
    assert "serves regtest, not signet" in one_line_error(result, node.rpc_password)
    assert book_state(location) == before


def test_a_node_without_rest_is_read_through_rpc_and_says_so(bitcoind_factory, chain, tmp_path):  # noqa: F811
    node = bitcoind_factory(chain.copy_datadir(tmp_path / "node"), rest=False)
    node.cli("sendrawtransaction", chain.spend("hot").serialize().hex())
    node.cli("generatetoaddress", 1, P2WSH_TRUE_ADDRESS)
    location = chain.copy_book(tmp_path / "book", synced=False)
    result = invoke("--book", location, "sync", "--rpc-url", node.rpc_url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if line.startswith("note: ")]
    assert len(notes) == 1 and "serves no REST" in notes[0]
    reference = chain.copy_book(tmp_path / "reference", synced=False)
    node.restart(rest=True)
    with Book.open(reference) as book:
        sync_book(book, rpc_url=node.rpc_url)
    assert chain_facts(location) == chain_facts(reference)


def test_options_of_the_follower_need_follow(chain, tmp_path):
    location = chain.copy_book(tmp_path / "book")
    result = invoke("--book", location, "sync", "--datadir", str(chain.datadir), "--zmq", "tcp://127.0.0.1:1",
                        cwd=tmp_path)
    assert "go with --follow" in one_line_error(result)
    result = invoke("--book", location, "sync", "--follow", "--datadir", str(chain.datadir), cwd=tmp_path)
    assert "following needs a running node" in one_line_error(result)
