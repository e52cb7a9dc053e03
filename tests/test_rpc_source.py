"""RpcSource, RpcClient and NodeEvents against a real bitcoind serving chains the kernel built."""

from __future__ import annotations

import shutil
import time

import _bitcoind
import _chains
import pytest
from _bitcoind import bitcoind, bitcoind_factory, free_port  # noqa: F401
from hypothesis import given
from hypothesis import strategies as st

from boveda.bitcoin.network import Network
from boveda.bitcoin.tx import Transaction, TxOut
from boveda.chain.blockfiles import BlockFileSource
from boveda.chain.kernel import KernelSource
from boveda.chain.node_events import BlockWaiter, NodeEventKind, NodeEvents, Topic, parse_notification
from boveda.chain.rpc import (
    BlockRoute,
    PrevoutRoute,
    RpcSource,
    parse_spent_txouts,
    serialize_spent_txouts,
    source_from_options,
)
from boveda.chain.rpc_client import RpcClient, RpcEndpoint, RpcError, endpoint_from_url, sat_from_btc
from boveda.chain.scanner import Scanner
from boveda.chain.source import ChainSource
from boveda.errors import ChainError, CodecError

REGTEST = Network.REGTEST
ANYONE_ADDRESS = "bcrt1qft5p2uhsdcdc3l2ua4ap5qqfg4pjaqlp250x7us7a8qqhrxrxfsqseac85"  # P2WSH(OP_TRUE)


# --- chains the kernel built, and what the block files say of them -------------------------------


class KernelChain:
    """A kernel-built datadir and what BlockFileSource (checked by the kernel) reads from it."""

    def __init__(self, built: _chains.BuiltChain) -> None:
        self.pristine = built.datadir
        with KernelSource(built.datadir, REGTEST) as kernel, \
                BlockFileSource(built.datadir, REGTEST, kernel=kernel) as files:
            self.tip = files.tip()
            self.blocks = list(files.blocks(0, self.tip.height))
            self.raw = list(files.raw_blocks(0, self.tip.height, with_undo=False))
        self.scripts = {o.script_pubkey for b in self.blocks for tx in b.block.transactions for o in tx.outputs}

    def copy_to(self, folder):
        """A copy for a node to run on (bitcoind writes to its datadir)."""
        shutil.copytree(self.pristine, folder)
        return folder


@pytest.fixture(scope="module")
def spending_chain(tmp_path_factory):
    return KernelChain(_chains.build_spending_chain(tmp_path_factory.mktemp("spending")))


@pytest.fixture(scope="module")
def reorg_chain(tmp_path_factory):
    return KernelChain(_chains.build_reorg_chain(tmp_path_factory.mktemp("reorg")))


@pytest.fixture(params=["spending", "reorg"])
def kernel_chain(request):
    return request.getfixturevalue(f"{request.param}_chain")


def serve(bitcoind_factory, chain: KernelChain, tmp_path, **options):  # noqa: F811
    return bitcoind_factory(chain.copy_to(tmp_path / "served"), **options)


# --- the same chain as the block files ------------------------------------------------------------


def test_rpc_source_yields_the_block_files_blocks_and_prevouts_at_every_height(
    bitcoind_factory, kernel_chain, tmp_path  # noqa: F811
):
    node = serve(bitcoind_factory, kernel_chain, tmp_path)
    with RpcSource(node.client(), window=8) as source:
        assert isinstance(source, ChainSource)
        assert source.block_route is BlockRoute.REST and source.prevout_route is PrevoutRoute.REST
        assert source.tip() == kernel_chain.tip
        assert [source.hash_at(b.height) for b in kernel_chain.blocks] == [b.hash for b in kernel_chain.blocks]
        assert list(source.blocks(0, kernel_chain.tip.height)) == kernel_chain.blocks
        assert list(source.raw_blocks(0, kernel_chain.tip.height)) == kernel_chain.raw
        middle = kernel_chain.tip.height // 2
        assert list(source.blocks(middle, middle)) == [kernel_chain.blocks[middle]]


def test_spent_txouts_bytes_from_the_node_are_the_prevouts_serialised_exactly(
    bitcoind_factory, spending_chain, tmp_path  # noqa: F811
):
    node = serve(bitcoind_factory, spending_chain, tmp_path)
    client = node.client()
    for spent in spending_chain.blocks:
        body = client.rest(f"spenttxouts/{spent.block.hash_hex}.bin")
        assert body == serialize_spent_txouts(spent.prevouts)
        assert parse_spent_txouts(body) == spent.prevouts


_txouts = st.tuples(st.integers(0, 21_000_000 * 100_000_000), st.binary(max_size=300)).map(lambda t: TxOut(*t))


@given(st.lists(st.lists(_txouts, max_size=4).map(tuple), max_size=5).map(tuple))
def test_spent_txouts_round_trip_and_refuse_trailing_bytes(prevouts):
    data = serialize_spent_txouts(prevouts)
    assert parse_spent_txouts(data) == prevouts
    with pytest.raises(CodecError):
        parse_spent_txouts(data + b"\x00")


def test_a_node_without_rest_gives_the_same_blocks_through_rpc(
    bitcoind_factory, reorg_chain, tmp_path  # noqa: F811
):
    node = serve(bitcoind_factory, reorg_chain, tmp_path, rest=False)
    with RpcSource(node.client()) as source:
        assert source.block_route is BlockRoute.RPC and source.prevout_route is PrevoutRoute.RPC
        assert list(source.blocks(0, reorg_chain.tip.height)) == reorg_chain.blocks
        assert list(source.raw_blocks(0, reorg_chain.tip.height)) == reorg_chain.raw
        tip_hash = reorg_chain.tip.hash
        assert [h.hash for h in source.headers_after(reorg_chain.blocks[-3].hash, 10)] == [
            b.hash for b in reorg_chain.blocks[-3:]
        ]
        assert source.contains(tip_hash)


def test_getblock_verbosity_3_gives_the_same_prevouts_as_spent_txouts(
    bitcoind_factory, spending_chain, tmp_path  # noqa: F811
):
    node = serve(bitcoind_factory, spending_chain, tmp_path)
    with RpcSource(node.client(), prevout_route=PrevoutRoute.RPC) as source:
        assert list(source.blocks(0, spending_chain.tip.height)) == spending_chain.blocks


def test_the_scanner_finds_over_rpc_what_it_finds_in_the_block_files(
    bitcoind_factory, spending_chain, tmp_path  # noqa: F811
):
    node = serve(bitcoind_factory, spending_chain, tmp_path)
    watch = spending_chain.scripts
    expected = [e for b in spending_chain.blocks for e in Scanner(watch).scan_spent_block(b)]
    with RpcSource(node.client()) as source:
        raw_walk = list(Scanner(watch).scan(source, 0, spending_chain.tip.height))
        spent_walk = [e for b in source.blocks(0, spending_chain.tip.height) for e in Scanner(watch).scan_spent_block(b)]
    assert len(expected) > 100
    assert sorted(map(repr, raw_walk)) == sorted(map(repr, expected))
    assert spent_walk == expected


def test_reading_past_the_tip_or_asking_for_undo_records_is_a_chain_error(bitcoind):  # noqa: F811
    with RpcSource(bitcoind.client()) as source:
        with pytest.raises(ChainError, match=r"height 5 is outside the active chain \(0\.\.0\)"):
            source.hash_at(5)
        with pytest.raises(ChainError, match="outside the active chain"):
            list(source.blocks(0, 5))
        with pytest.raises(ChainError, match="no undo records"):
            source.raw_blocks(0, 0, with_undo=True)
        assert len(list(source.blocks(0, 0))) == 1


# --- reorganisations ----------------------------------------------------------------------------


@pytest.mark.parametrize("rest", [True, False], ids=["rest", "rpc"])
def test_a_tip_reorganised_away_has_no_headers_after_it_and_is_not_contained(
    bitcoind_factory, spending_chain, tmp_path, rest  # noqa: F811
):
    node = serve(bitcoind_factory, spending_chain, tmp_path, rest=rest)
    address = ANYONE_ADDRESS
    with RpcSource(node.client()) as source:
        old_tip = source.tip()
        fork_height = old_tip.height - 2
        fork_hash = source.hash_at(fork_height)
        assert [h.hash for h in source.headers_after(old_tip.hash, 5)] == [old_tip.hash]

        node.cli("invalidateblock", source.hash_at(fork_height + 1)[::-1].hex())
        new_branch = node.cli("generatetoaddress", 4, address)
        new_tip = source.tip()
        assert new_tip.height == old_tip.height + 2 and new_tip.hash_hex == new_branch[-1]

        assert source.headers_after(old_tip.hash, 5) == ()  # electrs-style: our tip left the active chain
        assert not source.contains(old_tip.hash)
        assert source.contains(fork_hash) and source.contains(new_tip.hash)
        after_fork = source.headers_after(fork_hash, 2000)
        assert [h.hash_hex for h in after_fork[1:]] == new_branch
        assert after_fork[1].prev_hash == fork_hash
        blocks = list(source.blocks(fork_height + 1, new_tip.height))
        assert [b.block.hash_hex for b in blocks] == new_branch


def test_a_reorganisation_during_a_read_raises_a_retryable_error_instead_of_mixing_branches(
    bitcoind_factory, spending_chain, tmp_path  # noqa: F811
):
    node = serve(bitcoind_factory, spending_chain, tmp_path)
    with RpcSource(node.client(), window=2, hash_batch=10) as source:
        reading = source.raw_blocks(0, spending_chain.tip.height)
        assert next(reading).height == 0  # hashes 0..9 are fixed now
        node.cli("invalidateblock", source.hash_at(5)[::-1].hex())
        node.cli("generatetoaddress", spending_chain.tip.height, ANYONE_ADDRESS)
        with pytest.raises(RpcError, match="changed at height 10 while reading") as caught:
            list(reading)
        assert caught.value.retryable


# --- logging in, and everything that can go wrong doing so ---------------------------------------


def test_cookie_and_url_and_environment_logins_read_the_same_tip(bitcoind, monkeypatch):  # noqa: F811
    expected = bitcoind.client().getbestblockhash()
    with RpcSource.from_cookie(bitcoind.datadir, REGTEST, port=bitcoind.rpc_port) as by_cookie:
        assert by_cookie.tip().hash == expected
    with RpcSource.from_url(bitcoind.rpc_url, REGTEST) as by_url:
        assert by_url.tip().hash == expected
    monkeypatch.setenv("BOVEDA_RPC_URL", bitcoind.rpc_url)
    with RpcSource.from_url(None, REGTEST) as by_env:
        assert by_env.tip().hash == expected
    for options in ({"rpc_url": bitcoind.rpc_url}, {"rpc_url": bitcoind.url}, {"use_cookie": True,
                                                                                  "rpc_port": bitcoind.rpc_port}):
        with source_from_options(bitcoind.datadir, REGTEST, **options) as source:
            assert isinstance(source, RpcSource) and source.tip().hash == expected


def _one_line_without(exc: BaseException, *secrets: str) -> str:
    message = str(exc)
    assert "\n" not in message and message
    for secret in secrets:
        assert secret not in message and secret not in repr(exc)
    return message


def test_a_wrong_password_is_one_line_that_never_shows_it(bitcoind):  # noqa: F811
    wrong = "hunter2-not-the-password"
    url = f"http://boveda-test:{wrong}@127.0.0.1:{bitcoind.rpc_port}"
    client = RpcClient(endpoint_from_url(url), REGTEST)
    assert wrong not in repr(client) and wrong not in repr(client.endpoint)
    with pytest.raises(ChainError) as caught:
        client.getblockcount()
    message = _one_line_without(caught.value, wrong, bitcoind.rpc_password)
    assert "refused the credentials from the RPC URL" in message and not caught.value.retryable
    client.close()
    with pytest.raises(ChainError) as caught, source_from_options(None, REGTEST, rpc_url=url):
        pass
    _one_line_without(caught.value, wrong)


def test_a_node_that_is_down_is_named_with_its_address_and_is_worth_retrying():
    port = free_port()
    secret = "s3cret-pass"
    with pytest.raises(RpcError) as caught:
        RpcSource.from_url(f"http://me:{secret}@127.0.0.1:{port}", REGTEST).tip()
    message = _one_line_without(caught.value, secret)
    assert message == f"no Bitcoin Core answers at http://127.0.0.1:{port}: start it, or check --rpc-url"
    assert caught.value.retryable


def test_a_node_of_another_network_is_refused(bitcoind):  # noqa: F811
    with pytest.raises(ChainError) as caught:
        RpcSource.from_url(bitcoind.rpc_url, Network.MAIN).tip()
    message = _one_line_without(caught.value, bitcoind.rpc_password)
    assert "serves regtest, not main" in message


@pytest.mark.parametrize(
    "url, expected",
    [
        ("ftp://me:{pw}@127.0.0.1:8332", "must start with http://"),
        ("http://me:{pw}@127.0.0.1", "has no port"),
        ("http://me:{pw}@127.0.0.1:notaport", "not an RPC URL"),
        ("http://me:{pw}@:8332", "names no host"),
        ("me:{pw}@127.0.0.1:8332", "must start with http://"),
    ],
)
def test_a_malformed_rpc_url_is_one_line_without_the_password(url, expected):
    password = "p%40ss-w0rd-secret"  # percent-encoded '@': neither form may appear
    with pytest.raises(ChainError) as caught:
        endpoint_from_url(url.format(pw=password))
    message = _one_line_without(caught.value, password, "p@ss-w0rd-secret", "ss-w0rd-secret")
    assert expected in message


def test_a_percent_encoded_password_logs_in_and_is_redacted_from_what_the_node_says():
    endpoint = endpoint_from_url("http://me:p%40ss%3Aword@127.0.0.1:8332/wallet/w")
    assert (endpoint.url, endpoint.user, endpoint.password) == ("http://127.0.0.1:8332/wallet/w", "me", "p@ss:word")
    assert "p@ss:word" not in repr(endpoint)
    assert endpoint.redact("bad p@ss:word and p%40ss%3Aword") == "bad *** and ***"


def test_a_missing_environment_url_says_how_to_give_one(monkeypatch):
    monkeypatch.delenv("BOVEDA_RPC_URL", raising=False)
    with pytest.raises(ChainError, match="BOVEDA_RPC_URL"):
        endpoint_from_url(None)


def test_a_client_on_the_cookie_survives_the_node_restarting_with_a_new_cookie(bitcoind):  # noqa: F811
    client = bitcoind.client()
    height = client.getblockcount()
    old_cookie = (bitcoind.net_dir / ".cookie").read_text()
    bitcoind.kill()
    with pytest.raises(RpcError) as caught:
        client.getblockcount()
    assert caught.value.retryable and "no Bitcoin Core answers" in str(caught.value)
    bitcoind.start()
    assert (bitcoind.net_dir / ".cookie").read_text() != old_cookie
    assert client.getblockcount() == height


def test_errors_while_the_node_starts_are_retryable_and_the_first_answer_comes_after_warm_up(
    bitcoind,  # noqa: F811
):
    client = RpcClient(RpcEndpoint(bitcoind.url, "boveda-test", bitcoind.rpc_password), REGTEST)
    bitcoind.stop()
    bitcoind.start(wait=False)
    seen = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            client.getblockchaininfo()
            break
        except RpcError as exc:
            seen.append(exc)
            time.sleep(0.01)
    assert all(e.retryable for e in seen), [str(e) for e in seen]
    assert any("no Bitcoin Core answers" in str(e) for e in seen)  # before the RPC server listens
    assert client.getblockcount() == 0
    client.close()


def test_a_kept_alive_connection_the_node_closed_is_reopened(bitcoind_factory):  # noqa: F811
    node = bitcoind_factory(extra_args=("-rpcservertimeout=1",))
    client = node.client()
    assert client.getblockcount() == 0
    time.sleep(1.5)  # the node drops the idle connection
    assert client.getblockcount() == 0


# --- what the follower asks ------------------------------------------------------------------------


def test_mempool_transactions_can_be_sent_listed_fetched_and_found_unspent(bitcoind):  # noqa: F811
    address = bitcoind.funded_wallet()
    client = bitcoind.client()
    wallet = ("-rpcwallet=miner",)
    unsigned = bitcoind.cli(*wallet, "createrawtransaction", "[]", f'{{"{address}": 1.25}}')
    funded = bitcoind.cli(*wallet, "fundrawtransaction", unsigned)["hex"]
    signed = bytes.fromhex(bitcoind.cli(*wallet, "signrawtransactionwithwallet", funded)["hex"])
    txid = client.sendrawtransaction(signed)
    assert txid == Transaction.parse(signed).txid
    assert txid in client.getrawmempool()
    assert client.getrawtransaction(txid) == signed
    vout = next(i for i, o in enumerate(Transaction.parse(signed).outputs) if o.value_sat == 125_000_000)
    assert client.gettxout(txid, vout) is None  # not confirmed yet
    coin = client.gettxout(txid, vout, include_mempool=True)
    assert sat_from_btc(coin["value"]) == 125_000_000
    assert client.estimatesmartfee(2) is None  # a new regtest node has no fee estimates
    assert client.getblockchaininfo()["initialblockdownload"] is False


def test_waitfornewblock_returns_at_the_timeout_or_with_the_new_tip(bitcoind):  # noqa: F811
    client = bitcoind.client()
    waiter = BlockWaiter(client)
    started = time.monotonic()
    assert waiter.wait(0.2) == ()
    assert 0.15 < time.monotonic() - started < 5
    (mined,) = bitcoind.cli("generatetoaddress", 1, ANYONE_ADDRESS)
    (event,) = waiter.wait(5)
    assert (event.kind, event.hash_hex, event.height) == (NodeEventKind.NEW_TIP, mined, 1)
    assert waiter.wait(0.05) == ()


def test_zmq_reports_a_mined_block_and_a_mempool_transaction(bitcoind):  # noqa: F811
    client = bitcoind.client()
    with NodeEvents.from_node(client) as events:
        assert events.urls == (bitcoind.zmq_url,) and events.wait_connected(5)
        started = time.monotonic()
        assert events.wait(0.2) == () and time.monotonic() - started >= 0.19  # nothing happened
        address = bitcoind.funded_wallet()
        seen = _events_until(events, lambda e: e.kind is NodeEventKind.BLOCK_CONNECTED, count=101)
        assert [e.hash for e in seen if e.kind is NodeEventKind.BLOCK_CONNECTED][-1] == client.getbestblockhash()

        txid_hex = bitcoind.cli("-rpcwallet=miner", "sendtoaddress", address, "1.5")
        seen = _events_until(events, lambda e: e.kind is NodeEventKind.TX_ADDED)
        added = next(e for e in seen if e.kind is NodeEventKind.TX_ADDED)
        assert added.hash_hex == txid_hex and added.mempool_sequence is not None
        raw = next(e for e in seen if e.kind is NodeEventKind.RAW_TX and e.hash_hex == txid_hex)
        assert Transaction.parse(raw.raw_tx).txid_hex == txid_hex

        (mined,) = bitcoind.cli("generatetoaddress", 1, address)
        seen = _events_until(events, lambda e: e.kind is NodeEventKind.NEW_TIP)
        connected = [e.hash_hex for e in seen if e.kind is NodeEventKind.BLOCK_CONNECTED]
        assert connected == [mined]

        bitcoind.cli("invalidateblock", mined)
        seen = _events_until(events, lambda e: e.kind is NodeEventKind.BLOCK_DISCONNECTED)
        assert [e.hash_hex for e in seen if e.kind is NodeEventKind.BLOCK_DISCONNECTED] == [mined]
        assert not any(e.kind is NodeEventKind.MISSED for e in seen)


def test_zmq_says_notifications_were_missed_when_the_node_restarted(bitcoind):  # noqa: F811
    address = ANYONE_ADDRESS
    with NodeEvents(bitcoind.zmq_url, (Topic.HASHBLOCK,)) as events:
        assert events.wait_connected(5)
        bitcoind.cli("generatetoaddress", 2, address)
        before = _events_until(events, lambda e: e.kind is NodeEventKind.NEW_TIP, count=2)
        assert NodeEventKind.MISSED not in [e.kind for e in before]
        bitcoind.restart()
        assert events.wait_connected(10)
        # A restarted node's first notifications may be lost to a reconnected subscriber: the
        # follower resyncs from RPC on MISSED, and notifications resume.
        seen: list = []
        for _ in range(20):
            (mined,) = bitcoind.cli("generatetoaddress", 1, address)
            seen += events.wait(0.5)
            if any(e.kind is NodeEventKind.NEW_TIP and e.hash_hex == mined for e in seen):
                break
        assert seen[0].kind is NodeEventKind.MISSED
        assert seen[-1].kind is NodeEventKind.NEW_TIP and seen[-1].hash_hex == mined


def test_a_node_without_zmq_says_how_to_enable_it(bitcoind_factory):  # noqa: F811
    node = bitcoind_factory(zmq=False)
    with pytest.raises(ChainError) as caught:
        NodeEvents.from_node(node.client())
    assert "-zmqpubsequence=" in _one_line_without(caught.value, node.rpc_password)
    with pytest.raises(ChainError, match="not a ZMQ address"):
        NodeEvents("http://127.0.0.1:1")


def test_notifications_decode_hashes_into_internal_byte_order():
    block_hash = bytes(range(32))
    event = parse_notification(Topic.SEQUENCE, block_hash[::-1] + b"A" + (7).to_bytes(8, "little"))
    assert (event.kind, event.hash, event.mempool_sequence) == (NodeEventKind.TX_ADDED, block_hash, 7)
    assert parse_notification(Topic.SEQUENCE, block_hash[::-1] + b"D").kind is NodeEventKind.BLOCK_DISCONNECTED
    assert parse_notification(Topic.HASHBLOCK, block_hash[::-1]).hash == block_hash


def _events_until(events: NodeEvents, done, *, count: int = 1, timeout_s: float = 10.0) -> list:
    """Everything `events` reports until `done` held for `count` events (fails after `timeout_s`)."""
    seen: list = []
    deadline = time.monotonic() + timeout_s
    while sum(1 for e in seen if done(e)) < count:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"timed out; saw {[e.kind for e in seen][-10:]}"
        seen += events.wait(remaining)
    return seen


# --- the datadir route, for a stopped node --------------------------------------------------------


def test_without_rpc_options_the_stopped_datadir_is_read_through_the_kernel(spending_chain, tmp_path):
    datadir = spending_chain.copy_to(tmp_path / "copy")
    with source_from_options(datadir, REGTEST) as source:
        assert isinstance(source, BlockFileSource)
        assert source.tip() == spending_chain.tip
    with pytest.raises(ChainError, match="--rpc-url"), source_from_options(None, REGTEST):
        pass


def test_btc_amounts_become_exact_satoshis_and_nothing_else_does():
    from decimal import Decimal

    assert sat_from_btc(Decimal("0.00000001")) == 1
    assert sat_from_btc(Decimal("0E-8")) == 0
    assert sat_from_btc(Decimal("20999999.97690000")) == 2_099_999_997_690_000
    assert sat_from_btc(50) == 5_000_000_000
    for bad in (Decimal("0.000000001"), Decimal(-1), 0.1, "1", Decimal("NaN")):
        with pytest.raises(ChainError):
            sat_from_btc(bad)


def test_without_a_bitcoind_binary_the_tests_skip_except_under_ci(monkeypatch):
    monkeypatch.setattr(_bitcoind, "find_bitcoind", lambda: None)
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="no bitcoind binary"):
        _bitcoind.require_bitcoind()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        _bitcoind.require_bitcoind()
