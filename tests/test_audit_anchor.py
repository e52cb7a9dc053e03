"""The audit anchor's payload codec and the judgement of anchors found on chain against a log (no node)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from boveda.bitcoin import script
from boveda.book.domain import AuditHead
from boveda.book.errors import BookError
from boveda.book.spend_events import SpendProposed, check_spend_event
from boveda.service.anchors import _Found, _judge
from boveda.spend.anchor import PAYLOAD_SIZE, AnchorPayload, AnchorUnreadable, read_anchor


def event_hash(seq: int) -> str:
    return hashlib.sha256(f"event {seq}".encode()).hexdigest()


@given(st.integers(min_value=1, max_value=2**64 - 1), st.binary(min_size=32, max_size=32))
def test_a_payload_round_trips_through_its_op_return_script(seq: int, head: bytes):
    payload = AnchorPayload(seq, head.hex())
    assert len(payload.serialize()) == PAYLOAD_SIZE == 45
    assert payload.script_pubkey[:2] == bytes((script.OP_RETURN, PAYLOAD_SIZE))
    assert script.classify(payload.script_pubkey) is script.ScriptType.NULL_DATA
    assert read_anchor(payload.script_pubkey) == payload


def test_the_payload_is_tag_version_seq_and_hash_in_that_order():
    payload = AnchorPayload(12, "ab" * 32)
    assert payload.serialize().hex() == b"BVDA".hex() + "01" + "000000000000000c" + "ab" * 32


@pytest.mark.parametrize("script_pubkey", [
    script.p2wpkh(bytes.fromhex("02" + "11" * 32)),
    script.null_data(b"hello world"),
    script.null_data(b"XBVDA" + bytes(40)),
    bytes((script.OP_RETURN,)),
    bytes((script.OP_RETURN, 0x4c)),  # a push running past the end
    b"",
])
def test_other_scripts_are_not_anchors(script_pubkey: bytes):
    assert read_anchor(script_pubkey) is None


@pytest.mark.parametrize(("data", "message"), [
    (b"BVDA\x02" + bytes(8) + bytes(32), "version 2"),
    (b"BVDA\x01" + (1).to_bytes(8, "big") + bytes(31), "44 bytes"),
    (b"BVDA\x01" + bytes(8) + bytes(32), "event 0"),
    (b"BVDA", "no version or payload"),
])
def test_a_tagged_payload_this_version_cannot_read_is_refused_by_name(data: bytes, message: str):
    with pytest.raises(AnchorUnreadable, match=message):
        read_anchor(script.null_data(data))


def found(n: int, seq: int, head: str | None = None) -> _Found:
    return _Found(f"{n:064x}", 100 + n, 0, AnchorPayload(seq, head or event_hash(seq)))


LOG = {seq: event_hash(seq) for seq in range(1, 21)}
HEAD = AuditHead(20, event_hash(20))


def test_anchors_whose_heads_the_log_holds_pass():
    judged = _judge([found(1, 5), found(2, 5), found(3, 17)], LOG, HEAD)
    assert [a.problem for a in judged] == [None, None, None]
    assert [a.log_hex for a in judged] == [event_hash(5), event_hash(5), event_hash(17)]


def test_an_anchor_whose_head_the_log_no_longer_holds_is_named():
    [judged] = _judge([found(1, 7, "ee" * 32)], LOG, HEAD)
    assert judged.problem == (f"anchor {1:064x} (height 101) commits event 7 with hash {'ee' * 32}, but the log's "
                              f"event 7 has hash {event_hash(7)}: the log was rewritten at or before event 7")


def test_an_anchor_past_the_end_of_the_log_is_named():
    [judged] = _judge([found(1, 21)], LOG, HEAD)
    assert "commits event 21, past the log's end at event 20" in judged.problem and judged.log_hex is None


def test_a_later_anchor_with_a_lower_seq_is_named_with_the_earlier_one():
    judged = _judge([found(1, 9), found(2, 4)], LOG, HEAD)
    assert judged[0].problem is None
    assert judged[1].problem == (f"anchor {2:064x} (height 102) commits event 4, below event 9 that the earlier "
                                 f"anchor {1:064x} (height 101) commits: anchors never go back")


def _proposed(purpose: str, amount_sat: int) -> SpendProposed:
    return SpendProposed(1, "reserve:R", "hot", purpose, "audit anchor of event 3", None, "reserve:R", amount_sat,
                         141, "aa" * 32, "bb" * 32, "cHNidP8=", ("aa" * 32 + ":0",), None)


def test_only_an_audit_anchor_proposal_pays_nothing():
    check_spend_event(_proposed("audit_anchor", 0))
    with pytest.raises(BookError, match="amount"):
        check_spend_event(_proposed("internal", 0))
