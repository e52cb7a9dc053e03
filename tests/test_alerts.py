"""The follower's alerts in the book's database: raised once per finding, listed, acknowledged by a named person
as an audited event (refused for an unknown or acknowledged alert, nothing written), delivered to webhooks
with retries and a log."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from _following import WebhookReceiver, invoke, one_line_error
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from boveda.book import Book
from boveda.book.events import AlertAcknowledged, event_from_payload
from boveda.book.state import apply
from boveda.book.store import Store
from boveda.errors import BovedaError
from boveda.follower import alerts as alerting
from boveda.follower.alerts_store import AlertKind, NewAlert, Resolution
from boveda.follower.tables import alert_deliveries, alerts
from boveda.follower.webhook import WebhookSender, check_webhook_url, shown_url
from boveda.reconcile.model import DiscrepancyKind, Severity

TXID = "ab" * 32


@pytest.fixture
def book_location(tmp_path) -> str:
    location = str(tmp_path / "book.db")
    Book.init(location)
    with Book.open(location) as book:
        book.add_reserve("SV", name="El Salvador")
    return location


def an_alert(kind: AlertKind = AlertKind.UNRECORDED_OUTFLOW, txid: str = TXID, holding: str = "reserve:SV"):
    return NewAlert(kind, holding, txid, 150_000_000, f"{kind.value} in {holding}: 1.5 BTC left", 870_001)


def head(location: str):
    with Book.open(location) as book:
        return book.audit_head()


def test_every_critical_finding_has_an_alert_kind_and_no_other_does():
    critical = {k for k in DiscrepancyKind if k.severity is Severity.CRITICAL}
    assert {AlertKind.of_finding(k).value for k in critical} == {k.value for k in critical}
    assert {k.value for k in AlertKind} == {k.value for k in critical} | {"pending_outflow"}
    with pytest.raises(ValueError, match="raises no alert"):
        AlertKind.of_finding(DiscrepancyKind.UNRECORDED_INFLOW)


def test_the_migration_builds_the_tables_the_follower_declares(book_location):
    names = {alerts.name, alert_deliveries.name}
    with Store(book_location) as store, store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": lambda obj, name,
                                                         type_, *_: (obj if type_ == "table" else obj.table).name
                                                         in names})
        assert compare_metadata(context, alerts.metadata) == []


def test_a_finding_is_raised_once_whatever_is_asked_again(book_location):
    with Book.open(book_location) as book:
        (first,) = alerting.raise_new(book, [an_alert()])
        assert alerting.raise_new(book, [an_alert(), an_alert()]) == []
        (other,) = alerting.raise_new(book, [an_alert(), an_alert(AlertKind.PENDING_OUTFLOW)])
        assert (first.alert_id, other.alert_id) == (1, 2) and first.severity is Severity.CRITICAL
        assert [a.alert_id for a in alerting.list_alerts(book)] == [1, 2]
        resolved = alerting.resolve(book, other, Resolution.CONFIRMED)
        assert resolved.resolution is Resolution.CONFIRMED and resolved.resolved_at
        assert alerting.unresolved_pending(book) == []


def test_acknowledging_is_an_audited_event_and_refused_twice_or_for_an_unknown_id(book_location, tmp_path):
    with Book.open(book_location) as book:
        alerting.raise_new(book, [an_alert(), an_alert(txid="cd" * 32)])
    before = head(book_location)
    done = invoke("--book", book_location, "alerts", "ack", "1", "--by", "M. Ortiz, treasury")
    assert done.returncode == 0, done.stderr
    assert "acknowledged by M. Ortiz, treasury" in done.stdout
    after = head(book_location)
    assert after.seq == before.seq + 1
    with Book.open(book_location) as book:
        assert book.verify().ok
        (event,) = [e for e in book.iter_audit_events() if e.kind == "alert.acknowledged"]
        assert json.loads(event.payload_json) == {"alert_id": 1, "by": "M. Ortiz, treasury",
                                                  "alert_kind": "unrecorded_outflow", "holding": "reserve:SV",
                                                  "txid": TXID}
        (acknowledged,) = [a for a in alerting.list_alerts(book, include_acknowledged=True) if a.alert_id == 1]
        assert acknowledged.acknowledged_by == "M. Ortiz, treasury"
        assert abs(datetime.fromisoformat(acknowledged.acknowledged_at) - datetime.fromisoformat(event.recorded_at)
                   ) < timedelta(seconds=1)  # when the audited event was recorded
    twice = invoke("--book", book_location, "alerts", "ack", "1", "--by", "someone else")
    assert "alert 1 was already acknowledged by M. Ortiz, treasury" in one_line_error(twice)
    unknown = invoke("--book", book_location, "alerts", "ack", "9", "--by", "someone")
    assert "no alert 9" in one_line_error(unknown)
    blank = invoke("--book", book_location, "alerts", "ack", "2", "--by", "  ")
    one_line_error(blank)
    assert head(book_location) == after  # nothing written by the refusals
    with Book.open(book_location) as book:
        assert [a.alert_id for a in alerting.list_alerts(book)] == [2]  # still open


def test_the_alerts_command_lists_open_ones_and_all_as_json(book_location):
    with Book.open(book_location) as book:
        alerting.raise_new(book, [an_alert(), an_alert(AlertKind.PENDING_OUTFLOW, txid="ef" * 32)])
        alerting.acknowledge(book, 1, "auditor")
    table = invoke("--book", book_location, "alerts")
    assert table.returncode == 0 and "pending_outflow" in table.stdout and TXID not in table.stdout
    document = json.loads(invoke("--book", book_location, "alerts", "--all", "--json").stdout)
    assert [(a["id"], a["kind"], a["acknowledged_by"]) for a in document["alerts"]] == [
        (1, "unrecorded_outflow", "auditor"), (2, "pending_outflow", None)]
    assert document["alerts"][0]["amount_sat"] == 150_000_000 and document["alerts"][0]["severity"] == "critical"


def test_an_acknowledgement_survives_export_and_import(book_location, tmp_path):
    with Book.open(book_location) as book:
        alerting.raise_new(book, [an_alert()])
        alerting.acknowledge(book, 1, "auditor")
        book.export(tmp_path / "book.json")
        expected = book.audit_head()
    copy = str(tmp_path / "copy.db")
    Book.init(copy)
    with Book.open(copy) as book:
        book.import_file(tmp_path / "book.json")
        assert book.audit_head() == expected and book.verify().ok


def test_an_acknowledgement_event_round_trips_and_a_blank_name_breaks_the_rules():
    event = AlertAcknowledged(3, "M. Ortiz", "pending_outflow", "custody:13-cr-1", TXID)
    assert event_from_payload(event.kind.value, event.to_payload()) == event
    assert apply(None, event).added == ()  # changes no table of the book
    with pytest.raises(BovedaError):
        apply(None, AlertAcknowledged(3, " M. Ortiz", "pending_outflow", "custody:13-cr-1", TXID))
    with pytest.raises(BovedaError):
        apply(None, AlertAcknowledged(0, "M. Ortiz", "pending_outflow", "custody:13-cr-1", TXID))


def test_webhook_deliveries_are_retried_and_logged_and_never_show_the_url_s_secret(book_location):
    receiver = WebhookReceiver(fail_first=2)
    results = []
    with Book.open(book_location) as book:
        (alert,) = alerting.raise_new(book, [an_alert()])
        sender = WebhookSender(book, [receiver.url], delays_s=(0.05, 0.05, 0.05),
                               on_result=lambda *args: results.append(args))
        sender.send([alert])
        sender.close()
        logged = alerting.deliveries(book, alert.alert_id)
    receiver.close()
    assert [b["alert"]["id"] for b in receiver.bodies] == [1]
    assert [(d.attempt, d.status_code, d.delivered) for d in logged] == [(1, 500, False), (2, 500, False),
                                                                        (3, 204, True)]
    assert results[0][2] is True and all("secret-token" not in d.url for d in logged)
    assert shown_url("https://user:pw@hooks.example.org:8443/T0/B1/XYZ?k=1").startswith("https://hooks.example.org:8443/… #")
    assert shown_url("http://127.0.0.1:9000") == "http://127.0.0.1:9000"
    with pytest.raises(BovedaError, match="not a webhook URL: ftp://host/…") as caught:
        check_webhook_url("ftp://user:hunter2@host/secret-path")
    assert "hunter2" not in str(caught.value) and "secret-path" not in str(caught.value)


def test_an_alert_no_attempt_could_deliver_is_delivered_at_the_next_start(book_location):
    receiver = WebhookReceiver(fail_first=2)
    with Book.open(book_location) as book:
        (alert,) = alerting.raise_new(book, [an_alert()])
        failing = WebhookSender(book, [receiver.url], delays_s=(0.01,))
        failing.send([alert])
        failing.close()
        assert [d.delivered for d in alerting.deliveries(book)] == [False, False] and receiver.bodies == []
        next_start = WebhookSender(book, [receiver.url], delays_s=())
        assert next_start.retry_undelivered() == 1
        next_start.close()
        assert [d.delivered for d in alerting.deliveries(book)] == [False, False, True]
        idle = WebhookSender(book, [receiver.url])
        assert idle.retry_undelivered() == 0
        idle.close()
    receiver.close()
    assert [b["alert"]["id"] for b in receiver.bodies] == [alert.alert_id]


def test_alerts_of_a_book_without_the_follower_s_tables_are_refused_with_one_line(tmp_path):
    location = str(tmp_path / "old.db")
    Book.init(location)
    with Store(location) as store, store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0002'"))
    result = invoke("--book", location, "alerts")
    assert "run boveda init to migrate it" in one_line_error(result)
