"""The governance rules, approvals and events of spending, without a node: each refusal names its rule."""

from __future__ import annotations

import datetime

import coincurve
import pytest

from boveda.bitcoin import bip322
from boveda.book.domain import Account, Lot, LotState, Reserve
from boveda.book.errors import BookError
from boveda.book.events import event_from_payload
from boveda.book.spend_events import PolicySet, SpendApproved, SpendProposed, check_spend_event
from boveda.spend.approvals import check_approval, parse_approvers, proposal_digest
from boveda.spend.errors import PolicyRefusal, SpendError
from boveda.spend.model import Purpose, parse_fee_rate
from boveda.spend.policy import Proposed, check_lot_amount, check_own_output, check_proposal

NO_SALE = Reserve("R", "Reserve", True, 100_000_000)
OPEN = Reserve("S", "Sells", False, None)
RESERVE, CUSTODY = Account.reserve("R"), Account.custody("CASE-1")
VICTIMS = Account.parse("external:victims")


def lot(state: LotState, amount_sat: int = 50_000_000) -> Lot:
    return Lot(1, "CASE-1", amount_sat, "ab" * 32, (), datetime.date(2025, 1, 2), state)


def proposal(purpose: str, *, holding=RESERVE, reserve=NO_SALE, counterparty=None, owner=None, the_lot=None,
             order="Order 1") -> Proposed:
    parsed = Purpose.parse(purpose)
    return Proposed(holding, reserve, parsed, order, counterparty or parsed.default_counterparty() or owner,
                    owner, the_lot)


@pytest.mark.parametrize(("case", "rule"), [
    (proposal("sale:kraken"), "no-sale"),
    (proposal("restitution", counterparty=Account.exchange("kraken")), "no-sale"),
    (proposal("restitution", reserve=OPEN, holding=Account.reserve("S"), counterparty=Account.exchange("k")),
     "purpose"),
    (proposal("restitution", order=None), "order-required"),
    (proposal("internal", counterparty=VICTIMS), "purpose"),
    (proposal("restitution", owner=RESERVE), "purpose"),
    (proposal("forfeiture", owner=RESERVE), "purpose"),
    (proposal("forfeiture", holding=CUSTODY, reserve=None, owner=RESERVE, the_lot=lot(LotState.SEIZED)),
     "custody-lot-state"),
    (proposal("forfeiture", holding=CUSTODY, reserve=None, owner=RESERVE,
              the_lot=lot(LotState.FORFEITURE_PENDING)), "custody-lot-state"),
    (proposal("internal", holding=CUSTODY, reserve=None, owner=RESERVE), "custody-lot-state"),
    (proposal("restitution", holding=CUSTODY, reserve=None), "custody-lot"),
    (proposal("release", holding=CUSTODY, reserve=None, the_lot=lot(LotState.FORFEITED)), "custody-lot-state"),
    (proposal("fee_payment", holding=CUSTODY, reserve=None, the_lot=lot(LotState.FORFEITED)), "custody-lot-state"),
])
def test_each_refusal_names_its_rule(case, rule):
    with pytest.raises(PolicyRefusal) as caught:
        check_proposal(case)
    assert caught.value.rule == rule and str(caught.value).startswith(f"refused by rule {rule}: ")


@pytest.mark.parametrize("case", [
    proposal("restitution"),
    proposal("sharing:P"),
    proposal("sale:kraken", reserve=OPEN, holding=Account.reserve("S")),
    proposal("internal", owner=RESERVE),
    proposal("forfeiture", holding=CUSTODY, reserve=None, owner=RESERVE, the_lot=lot(LotState.FORFEITED)),
    proposal("release", holding=CUSTODY, reserve=None, the_lot=lot(LotState.SEIZED)),
    proposal("restitution", holding=CUSTODY, reserve=None, the_lot=lot(LotState.FORFEITED)),
])
def test_what_the_rules_allow(case):
    check_proposal(case)


def test_a_lot_moves_whole_with_its_fee_and_a_sharing_is_a_whole_basis_point_share():
    whole = proposal("restitution", holding=CUSTODY, reserve=None, the_lot=lot(LotState.FORFEITED))
    check_lot_amount(whole, 49_999_000, 1_000)
    with pytest.raises(PolicyRefusal, match="lot-amount.*use --all"):
        check_lot_amount(whole, 40_000_000, 1_000)
    sharing = proposal("sharing:P", holding=CUSTODY, reserve=None, the_lot=lot(LotState.FORFEITED))
    assert check_lot_amount(sharing, 12_500_000, 500) == 2_500
    with pytest.raises(PolicyRefusal, match="lot-amount"):
        check_lot_amount(sharing, 12_500_001, 500)


def test_change_respects_the_cap_and_never_reuses_an_address():
    check_own_output(NO_SALE, 100_000_000, used=False, what="the change")
    with pytest.raises(PolicyRefusal, match="address-cap"):
        check_own_output(NO_SALE, 100_000_001, used=False, what="the change")
    with pytest.raises(PolicyRefusal, match="address-reuse"):
        check_own_output(NO_SALE, 1, used=True, what="the change")


def _key(name: str) -> tuple[bytes, str]:
    secret = name.encode().ljust(32, b"\x01")
    return secret, coincurve.PrivateKey(secret).public_key.format().hex()


def test_an_approval_is_a_bip322_signature_by_the_named_key_over_the_digest():
    secret, key = _key("alice")
    digest = "cd" * 32
    check_approval("alice", key, digest, bip322.sign_p2wpkh(digest, secret), 1)
    with pytest.raises(PolicyRefusal, match="approval-signature"):
        check_approval("alice", key, digest, bip322.sign_p2wpkh("ef" * 32, secret), 1)
    with pytest.raises(PolicyRefusal, match="approval-signature"):
        check_approval("alice", key, digest, "alice", 1)  # a typed name approves nothing
    with pytest.raises(PolicyRefusal, match="approver-known"):
        check_approval("mallory", None, digest, bip322.sign_p2wpkh(digest, secret), 1)


def test_an_x_only_approver_signs_with_its_taproot_address():
    secret = b"\x07" * 32
    xonly = coincurve.PrivateKey(secret).public_key.format()[1:].hex()
    digest = "12" * 32
    check_approval("tap", xonly, digest, bip322.sign_p2tr(digest, secret), 3)


def test_approvers_are_parsed_exactly():
    _, a = _key("a")
    _, b = _key("b")
    assert parse_approvers(f"alice={a}, bob={b.upper()}") == (("alice", a), ("bob", b))
    for bad in (f"alice={a},alice={b}", f"alice={a},bob={a}", "alice", f"al ice={a}", "alice=02" + "00" * 32):
        with pytest.raises(SpendError):
            parse_approvers(bad)


def test_the_digest_commits_to_every_field():
    base = {"proposal_id": 1, "holding": "reserve:R", "unsigned_txid": "aa" * 32,
            "outputs": [(b"\x00\x14" + bytes(20), 5)], "fee_sat": 100, "purpose": "restitution", "order_ref": "O",
            "counterparty": "external:victims", "lot_id": None}
    digests = {proposal_digest(**base)}
    for field, other in (("proposal_id", 2), ("fee_sat", 101), ("order_ref", "P"), ("lot_id", 1),
                         ("outputs", [(b"\x00\x14" + bytes(20), 6)]), ("purpose", "sharing:P")):
        digests.add(proposal_digest(**{**base, field: other}))
    assert len(digests) == 7


def test_fee_rates_are_exact():
    assert parse_fee_rate("2") == 2_000 and parse_fee_rate("1.5") == 1_500 and parse_fee_rate("0.125") == 125
    for bad in ("0.05", "1.2345", "-1", "1e3", "", "٣"):
        with pytest.raises(SpendError):
            parse_fee_rate(bad)


def test_spend_events_round_trip_through_their_payloads_and_malformed_ones_fail_replay():
    _, key = _key("a")
    events = [
        PolicySet("reserve:R", 1, (("alice", key),)),
        SpendApproved(1, "alice", key, "ab" * 32, "sig"),
        SpendProposed(1, "reserve:R", "cold", "restitution", "O", None, "external:victims", 5, 1, "aa" * 32,
                      "bb" * 32, "cHNidP8=", ("aa" * 32 + ":0",), None),
    ]
    for event in events:
        assert event_from_payload(event.kind.value, event.to_payload()) == event
        check_spend_event(event)
    with pytest.raises(BookError):
        check_spend_event(PolicySet("reserve:R", 2, (("alice", key),)))
    with pytest.raises(BookError):
        event_from_payload("spend.approved", {"proposal_id": 1})
