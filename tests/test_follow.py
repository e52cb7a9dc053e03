"""`boveda sync --follow` against a real bitcoind serving a kernel-built chain: blocks synced as they come
(within a second of their ZMQ notification), reorganisations followed (one 600 blocks deep), a node
killed and restarted, unauthorised spends alerted from the mempool and again when mined — once each."""

from __future__ import annotations

import json
import signal
import time

import pytest
from _bitcoind import bitcoind_factory  # noqa: F401
from _following import RunningFollower, WebhookReceiver, invoke, one_line_error, start_boveda
from _reserve_chain import CASE, P2WSH_TRUE_ADDRESS, RESERVE, build_reserve_chain, chain_facts

from boveda.book import Book
from boveda.chain.node_events import NodeEventKind, NodeEvents, Topic
from boveda.follower.alerts import deliveries, list_alerts
from boveda.follower.loop import FollowOptions
from boveda.service.wallets import sync_book


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    return build_reserve_chain(tmp_path_factory.mktemp("follow"))


@pytest.fixture
def node(bitcoind_factory, chain, tmp_path):  # noqa: F811
    node = bitcoind_factory(chain.copy_datadir(tmp_path / "node"))
    node.cli("generatetoaddress", 1, P2WSH_TRUE_ADDRESS)  # a block of today: the node leaves initial block download
    return node


def ground_truth(chain, node, folder) -> dict:
    """The chain facts of a book synced from scratch through RPC from the node as it is now."""
    location = chain.copy_book(folder, synced=False)
    with Book.open(location) as book:
        sync_book(book, rpc_url=node.rpc_url)
    return chain_facts(location)


def tip_height(node) -> int:
    return node.cli("getblockcount")


def settled(node, timeout_s: float = 20.0) -> None:
    """Waits until the node's tip stays the same for half a second."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        tip = node.cli("getbestblockhash")
        if tip == last:
            return
        last = tip
        time.sleep(0.5)
    raise AssertionError("the node's tip kept moving")


# -- blocks as they come ------------------------------------------------------------------------


def test_a_mined_block_is_synced_within_a_second_of_its_zmq_notification(chain, node, tmp_path):
    location = chain.copy_book(tmp_path / "book")
    follower = RunningFollower(location, node.rpc_url, FollowOptions(zmq_urls=(node.zmq_url,)))
    try:
        follower.wait_synced(node)
        with NodeEvents(node.zmq_url, (Topic.HASHBLOCK,)) as events:
            assert events.wait_connected(5)
            for _ in range(3):
                (mined,) = node.cli("generatetoaddress", 1, chain.address("hot"))
                notified = None
                while notified is None:
                    for event in events.wait(5):
                        if event.kind is NodeEventKind.NEW_TIP and event.hash_hex == mined:
                            notified = time.time()
                line = follower.wait_for(lambda entry, mined=mined: entry["event"] == "block" and entry["hash"] == mined)
                assert line["unix_time"] - notified < 1.0, line
                assert (line["coins_in"], line["coins_out"]) == (1, 0)  # the coinbase paid a reserve address
                assert {"height", "hash", "coins_in", "coins_out", "ms", "time"} <= set(line)
    finally:
        follower.stop()


def test_reorganisations_made_on_the_node_are_followed_one_of_them_600_blocks_deep(chain, node, tmp_path):
    location = chain.copy_book(tmp_path / "book")
    follower = RunningFollower(location, node.rpc_url, FollowOptions(zmq_urls=(node.zmq_url,)))
    try:
        # A shallow one: the last 2 blocks replaced by 3 others.
        node.cli("generatetoaddress", 2, chain.address("cold"))
        follower.wait_synced(node)
        fork = tip_height(node) - 2
        node.cli("invalidateblock", node.cli("getblockhash", fork + 1))
        node.cli("generatetoaddress", 3, P2WSH_TRUE_ADDRESS)
        follower.wait_for(lambda line: line["event"] == "reorg" and line.get("fork_height") == fork)
        follower.wait_synced(node)

        # A deep one: a spend of the reserve's coin, 600 blocks on it, then a longer branch without it.
        spend = chain.spend("hot")
        node.cli("sendrawtransaction", spend.serialize().hex())
        (spent_in,) = node.cli("generatetoaddress", 1, P2WSH_TRUE_ADDRESS)
        spent_height = tip_height(node)
        node.cli("generatetoaddress", 600, P2WSH_TRUE_ADDRESS)
        follower.wait_synced(node, timeout_s=60)
        with Book.open(location) as book:
            assert any(a.kind.value == "unrecorded_outflow" for a in list_alerts(book))
        node.cli("invalidateblock", spent_in)
        node.cli("prioritisetransaction", spend.txid_hex, 0, -10**8)  # keep it out of the new branch
        node.cli("generatetoaddress", 602, P2WSH_TRUE_ADDRESS)
        follower.wait_for(lambda line: line["event"] == "reorg" and line.get("fork_height") == spent_height - 1,
                          timeout_s=60)
        follower.wait_synced(node, timeout_s=60)
    finally:
        follower.stop()
    facts = chain_facts(location)
    assert facts == ground_truth(chain, node, tmp_path / "truth")
    spent_txid = bytes.fromhex(spend.txid_hex)[::-1]
    assert not any(row[6] == spent_txid for row in facts["txos"])  # the spend left the chain, and the book


def test_killing_the_node_mid_follow_loses_nothing_and_the_follower_resumes(chain, node, tmp_path):
    location = chain.copy_book(tmp_path / "book")
    follower = RunningFollower(location, node.rpc_url, FollowOptions(zmq_urls=(node.zmq_url,),
                                                                     retry_delays_s=(0.2, 0.5)))
    try:
        follower.wait_synced(node)
        node.cli("sendrawtransaction", chain.spend("cold").serialize().hex())
        node.cli("generatetoaddress", 30, chain.address("hot"))
        node.kill()  # SIGKILL while the follower reads the new blocks
        follower.wait_for(lambda line: line["event"] == "state" and line["state"] == "unreachable")
        node.start()
        settled(node)  # a node restarted after a crash reconnects the blocks it had stored, after RPC is up
        node.cli("generatetoaddress", 3, chain.address("cold"))
        follower.wait_for(lambda line: line["event"] == "state" and line["message"].startswith("node back at height"))
        follower.wait_synced(node, timeout_s=30)
    finally:
        follower.stop()
    assert chain_facts(location) == ground_truth(chain, node, tmp_path / "truth")
    unreachable = [line for line in follower.events("state") if line["state"] == "unreachable"]
    assert len(unreachable) == 1 and "retrying in 0.2 s" in unreachable[0]["message"]  # one line per state change


# -- alerts ----------------------------------------------------------------------------------------


def test_unauthorised_spends_raise_pending_outflow_at_once_then_the_critical_alert_each_once(chain, node, tmp_path):
    location = chain.copy_book(tmp_path / "book")
    webhook = WebhookReceiver(fail_first=1)  # the first delivery is retried
    options = FollowOptions(zmq_urls=(node.zmq_url,), webhooks=(webhook.url,))
    follower = RunningFollower(location, node.rpc_url, options)
    reserve_spend, custody_spend = chain.spend("hot"), chain.spend("seized")
    try:
        follower.wait_synced(node)
        height = tip_height(node)
        for tx in (reserve_spend, custody_spend):
            node.cli("sendrawtransaction", tx.serialize().hex())
        webhook.wait_for(2)
        assert tip_height(node) == height  # before any block
        assert sorted((b["alert"]["kind"], b["alert"]["holding"], b["alert"]["txid"]) for b in webhook.bodies) == [
            ("pending_outflow", f"custody:{CASE}", custody_spend.txid_hex),
            ("pending_outflow", f"reserve:{RESERVE}", reserve_spend.txid_hex)]
        node.cli("generatetoaddress", 1, P2WSH_TRUE_ADDRESS)
        webhook.wait_for(4)
        follower.wait_for(lambda line: line["event"] == "resolved")
        node.cli("generatetoaddress", 2, P2WSH_TRUE_ADDRESS)
        follower.wait_synced(node)
    finally:
        follower.stop()
    again = RunningFollower(location, node.rpc_url, FollowOptions(zmq_urls=(node.zmq_url,), webhooks=(webhook.url,),
                                                                  idle_exit_s=1.0))
    again.thread.join(30)
    assert again.stop().alerts_raised == 0  # never twice, even after a restart
    webhook.close()
    critical = sorted((b["alert"]["kind"], b["alert"]["holding"]) for b in webhook.bodies[2:])
    assert critical == [("unrecorded_outflow", f"custody:{CASE}"), ("unrecorded_outflow", f"reserve:{RESERVE}")]
    assert all(b["alert"]["severity"] == "critical" for b in webhook.bodies) and len(webhook.bodies) == 4
    with Book.open(location) as book:
        alerts = list_alerts(book)
        assert sorted((a.kind.value, a.holding) for a in alerts) == sorted(
            [("pending_outflow", f"reserve:{RESERVE}"), ("pending_outflow", f"custody:{CASE}"), *critical])
        assert {a.resolution.value for a in alerts if a.kind.value == "pending_outflow"} == {"confirmed"}
        assert all(a.height == height + 1 for a in alerts if a.kind.value == "unrecorded_outflow")
        logged = deliveries(book)
    assert [d.delivered for d in logged].count(True) == 4 and [d.delivered for d in logged].count(False) == 1
    assert all("secret-token" not in d.url for d in logged)  # a webhook's path may hold its token


def test_a_spend_the_book_cites_is_expected_and_raises_no_pending_outflow(chain, node, tmp_path):
    location = chain.copy_book(tmp_path / "book")
    booked = chain.spend("cold")
    with Book.open(location) as book:
        book.add_transfer(from_account=f"reserve:{RESERVE}", to_account="external:exchange:kraken",
                          amount_sat=booked.outputs[0].value_sat, txid=booked.txid_hex, reason="a sale")
    unbooked = chain.spend("hot")
    follower = RunningFollower(location, node.rpc_url, FollowOptions(zmq_urls=(node.zmq_url,)))
    try:
        follower.wait_synced(node)
        node.cli("sendrawtransaction", booked.serialize().hex())
        node.cli("sendrawtransaction", unbooked.serialize().hex())
        follower.wait_for(lambda line: line["event"] == "alert")
        time.sleep(0.3)
    finally:
        follower.stop()
    with Book.open(location) as book:
        assert [a.txid_hex for a in list_alerts(book)] == [unbooked.txid_hex]


def test_a_pending_outflow_replaced_in_the_mempool_is_resolved_as_left_and_its_replacement_alerted(
        chain, node, tmp_path):
    location = chain.copy_book(tmp_path / "book")
    first, replacement = chain.spend("cold"), chain.spend("cold", fee_sat=50_000)  # the same coin, a higher fee
    follower = RunningFollower(location, node.rpc_url, FollowOptions(zmq_urls=(node.zmq_url,)))
    try:
        follower.wait_synced(node)
        node.cli("sendrawtransaction", first.serialize().hex())
        follower.wait_for(lambda line: line["event"] == "alert" and line["alert"]["txid"] == first.txid_hex)
        node.cli("sendrawtransaction", replacement.serialize().hex())  # BIP-125: the first leaves the mempool
        follower.wait_for(lambda line: line["event"] == "alert" and line["alert"]["txid"] == replacement.txid_hex)
        left = follower.wait_for(lambda line: line["event"] == "resolved")
    finally:
        follower.stop()
    assert (left["alert_id"], left["resolution"]) == (1, "left_mempool")


def test_without_zmq_blocks_come_by_waitfornewblock_and_the_mempool_is_polled(chain, node, tmp_path):
    location = chain.copy_book(tmp_path / "book")
    follower = RunningFollower(location, node.rpc_url, FollowOptions(poll_interval_s=0.2))
    spend = chain.spend("hot")
    try:
        follower.wait_synced(node)
        node.cli("sendrawtransaction", spend.serialize().hex())
        pending = follower.wait_for(lambda line: line["event"] == "alert")
        assert pending["alert"]["kind"] == "pending_outflow" and pending["alert"]["txid"] == spend.txid_hex
        (mined,) = node.cli("generatetoaddress", 1, P2WSH_TRUE_ADDRESS)
        follower.wait_for(lambda line: line["event"] == "block" and line["hash"] == mined, timeout_s=5)
        critical = follower.wait_for(lambda line: line["event"] == "alert" and line is not pending)
        assert critical["alert"]["kind"] == "unrecorded_outflow"
    finally:
        follower.stop()


# -- the command line --------------------------------------------------------------------------------


def test_the_follow_command_stops_at_a_bound_and_cleanly_on_sigterm(chain, node, tmp_path):
    location = chain.copy_book(tmp_path / "book")
    target = tip_height(node) + 2
    process = start_boveda("--book", location, "sync", "--follow", "--rpc-url", node.rpc_url, "--zmq",
                           node.zmq_url, "--log-json", "--until-height", str(target), cwd=tmp_path)
    assert json.loads(process.stdout.readline())["event"] == "state"
    node.cli("generatetoaddress", 5, P2WSH_TRUE_ADDRESS)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[-1]["event"] == "stop" and lines[-1]["height"] == target
    assert node.rpc_password not in out + err

    process = start_boveda("--book", location, "sync", "--follow", "--rpc-url", node.rpc_url, cwd=tmp_path)
    assert "node at height" in process.stdout.readline()
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "(signal SIGTERM)" in out.splitlines()[-1]
    with Book.open(location) as book:
        assert book.verify().ok


def test_a_node_that_is_down_is_retried_saying_so_until_the_idle_bound_then_exit_2(chain, tmp_path):
    location = chain.copy_book(tmp_path / "book")
    from _bitcoind import free_port

    url = f"http://someone:pa55-secret@127.0.0.1:{free_port()}"
    result = invoke("--book", location, "sync", "--follow", "--rpc-url", url, "--idle-exit-s", "2.5",
                        cwd=tmp_path)
    message = one_line_error(result, "pa55-secret")
    assert "was still unreachable when the follower stopped" in message
    retries = [line for line in result.stdout.splitlines() if "node unreachable" in line]
    assert len(retries) == 1 and "retrying in 1 s" in retries[0]


def test_zmq_asked_of_a_node_without_it_is_one_line_and_exit_2(bitcoind_factory, chain, tmp_path):  # noqa: F811
    node = bitcoind_factory(chain.copy_datadir(tmp_path / "node"), zmq=False)
    location = chain.copy_book(tmp_path / "book")
    before = chain_facts(location)
    result = invoke("--book", location, "sync", "--follow", "--rpc-url", node.rpc_url, "--zmq",
                        "tcp://127.0.0.1:28332", cwd=tmp_path)
    assert "publishes no ZMQ notifications" in one_line_error(result, node.rpc_password)
    assert chain_facts(location) == before
