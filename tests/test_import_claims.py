"""Import is all or nothing against the file's own claims (issue 10, class 3): a file cut short or extended
past its stated head, a date that is not exactly YYYY-MM-DD (ISO week and ordinal dates, compact
forms, other digits), a `recorded_at` that is not a timestamp, a NUL or another control character in
any text, and every value the rules check on the command line are refused, the book left as it was —
on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import re
import uuid
from datetime import date
from pathlib import Path

import pytest
from _book_fixtures import (  # noqa: F401  (fixtures)
    StepClock,
    backend,
    book_location,
    populate,
    postgres_url,
    require_postgres,
)
from _exports import purchase, reserve_added, sealed, wallet_added, write_export
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boveda.book import Book, BookError
from boveda.book.checks import parse_date, parse_recorded_at

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
_STRICT_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, int]:
    """An export of a book touching every kind of event, and its number of events."""
    folder = tmp_path_factory.mktemp("exported")
    Book.init(str(folder / "book.db"))
    with Book.open(str(folder / "book.db"), clock=StepClock()) as book:
        populate(book)
        head = book.export(folder / "book.json")
    return folder / "book.json", head.seq


def _fresh(tmp_path: Path) -> str:
    return str(tmp_path / f"{uuid.uuid4().hex[:8]}.db")


def _refused(location: str, path: Path, match: str) -> None:
    with Book.open(location, create=True) as book:
        before = book.audit_head()
        with pytest.raises(BookError, match=match):
            book.import_file(path)
        assert book.audit_head() == before and book.journal() == () and book.reserves() == ()


@given(st.data())
@SETTINGS
def test_a_file_cut_short_under_its_stated_head_is_refused(exported, tmp_path, data):
    path, count = exported
    lines = path.read_text().splitlines()
    kept = data.draw(st.integers(min_value=0, max_value=count - 1))
    body = [line.rstrip(",") for line in lines[1:1 + kept]]
    streamed = data.draw(st.booleans())
    if streamed:  # the export's own layout, one event per line, cut
        cut = lines[0] + "\n" + ",\n".join(body) + ("\n" if body else "") + lines[-1] + "\n"
    else:  # the same events as one JSON document
        document = json.loads(path.read_text())
        cut = json.dumps({**document, "events": document["events"][:kept]})
    target = tmp_path / f"cut-{kept}-{streamed}.json"
    target.write_text(cut)
    _refused(_fresh(tmp_path), target, f"states its log ends at event {count}")


@given(st.data())
@SETTINGS
def test_a_head_that_names_an_earlier_event_or_another_hash_is_refused(exported, tmp_path, data):
    path, count = exported
    document = json.loads(path.read_text())
    stated = data.draw(st.integers(min_value=0, max_value=count - 1))
    if data.draw(st.booleans()):
        head = {"seq": stated, "hash": document["events"][stated - 1]["hash"] if stated else "0" * 64}
    else:
        head = {"seq": count, "hash": data.draw(st.from_regex(r"[0-9a-f]{64}", fullmatch=True))}
    if head == document["head"]:
        return
    target = tmp_path / f"head-{stated}.json"
    target.write_text(json.dumps({**document, "head": head}))
    _refused(_fresh(tmp_path), target, "states its log ends at event|head is malformed")


def test_the_untouched_file_imports(exported, tmp_path):
    path, count = exported
    with Book.open(_fresh(tmp_path), create=True) as book:
        assert book.import_file(path).events_applied == count


# -- dates and timestamps -----------------------------------------------------------------------------

DATE_LIKE = st.one_of(
    st.from_regex(r"[0-9]{4}-W[0-9]{2}-[1-7]", fullmatch=True),  # ISO week dates
    st.from_regex(r"[0-9]{4}W[0-9]{2}[1-7]", fullmatch=True),
    st.from_regex(r"[0-9]{4}-[0-9]{3}", fullmatch=True),  # ordinal dates
    st.from_regex(r"[0-9]{8}", fullmatch=True),  # compact
    st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9:]{2,8}", fullmatch=True),
    st.builds(lambda d, digits: d.isoformat().translate({ord(c): digits[int(c)] for c in "0123456789"}),
              st.dates(), st.sampled_from(["٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹", "०१२३४५६७८९", "０１２３４５６７８９"])),
    st.text(max_size=12),
)


@given(DATE_LIKE)
@settings(max_examples=300)
def test_only_yyyy_mm_dd_in_ascii_digits_is_a_date(text):
    if _STRICT_DATE.fullmatch(text):
        try:
            assert parse_date(text) == date.fromisoformat(text)
        except BookError:
            with pytest.raises(ValueError):
                date.fromisoformat(text)
        return
    with pytest.raises(BookError):
        parse_date(text)


@given(DATE_LIKE.filter(lambda t: not _STRICT_DATE.fullmatch(t)))
@SETTINGS
def test_import_refuses_an_entry_dated_in_any_other_form(tmp_path, text):
    path = write_export(tmp_path / "dated.json", sealed([reserve_added(), purchase(1, date=text)]))
    _refused(_fresh(tmp_path), path, "date")


@given(st.dates(max_value=date(2009, 1, 2)) | st.dates(min_value=date(2026, 3, 7)))
@SETTINGS
def test_import_refuses_a_date_before_bitcoin_or_more_than_a_year_after_it_was_recorded(tmp_path, day):
    # recorded 2025-03-06: the latest date it may carry is 2026-03-06
    path = write_export(tmp_path / "far.json", sealed([reserve_added(), purchase(1, date=day.isoformat())]))
    _refused(_fresh(tmp_path), path, "before 2009-01-03|more than a year after")


TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z")


@given(st.one_of(st.text(max_size=40), st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}"
                                                      r"(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:?[0-9]{2})?", fullmatch=True)))
@settings(max_examples=300)
def test_recorded_at_is_a_utc_timestamp_or_refused(text):
    if not TIMESTAMP.fullmatch(text):
        with pytest.raises(BookError):
            parse_recorded_at(text)


@given(st.text(max_size=30).filter(lambda t: not TIMESTAMP.fullmatch(t)))
@SETTINGS
def test_import_refuses_a_recorded_at_that_is_not_a_timestamp(tmp_path, text):
    events = sealed([reserve_added(), purchase(1)], recorded_at=["2025-03-06T12:00:01.000000Z", text])
    _refused(_fresh(tmp_path), write_export(tmp_path / "when.json", events), "recorded_at|malformed|wrong type")


# -- text and values the command line would refuse ---------------------------------------------------

CONTROL = st.sampled_from(["\x00", "\x1b", "\n", "\r", "\t", "\x7f", "\x85", "\u2028", "\u2029", "\u202e", "\u2066",
                           "\u200f", "\x9b"])


@given(st.text(max_size=8), CONTROL, st.text(max_size=8))
@SETTINGS
def test_import_refuses_a_control_or_bidi_character_in_any_text(tmp_path, before, bad, after):
    text = f"x{before}{bad}{after}x"
    for events in ([reserve_added(name=text)], [reserve_added(), purchase(1, memo=text)]):
        path = write_export(tmp_path / "text.json", sealed(events))
        _refused(_fresh(tmp_path), path, "printable text|one line")


def test_a_nul_byte_is_refused_on_every_database(backend, book_location, tmp_path):  # noqa: F811
    path = write_export(tmp_path / "nul.json", sealed([reserve_added(name="El\x00Salvador")]))
    if backend == "postgresql":
        require_postgres()
    _refused(book_location, path, "printable text")


@pytest.mark.parametrize("payload_change, match", [
    (lambda p: p.update(price_usd_cents=10**15), "USD price .* too large"),
    (lambda p: p.update(price_usd_cents=0), "USD price"),
    (lambda p: p.update(id=10**30), "out of sequence"),
    (lambda p: p["postings"].__setitem__(0, ["external:exchange:unspecified", -(10**30)]), "exceeds"),
    (lambda p: p.update(memo="m" * 501), "at most 500"),
    (lambda p: p.update(txids=["AB" * 32]), "canonical"),
    (lambda p: p.update(date="2025-02-30"), "date"),
])
def test_import_refuses_every_value_the_command_line_refuses(tmp_path, payload_change, match):
    kind, payload = purchase(1)
    payload_change(payload)
    _refused(_fresh(tmp_path), write_export(tmp_path / "v.json", sealed([reserve_added(), (kind, payload)])), match)


@pytest.mark.parametrize("birth_height", [-1, 2**31, 10**30, True, "1"])
def test_import_refuses_a_birth_height_no_block_has(tmp_path, birth_height):
    kind, payload = wallet_added("raw(deadbeef)#89f8spxm")
    payload["birth_height"] = birth_height
    _refused(_fresh(tmp_path), write_export(tmp_path / "w.json", sealed([reserve_added(), (kind, payload)])),
             "birth height")


@pytest.mark.parametrize("text, match", [
    ('{"events":[],"events":[],"format":"boveda-book","head":{"seq":0,"hash":"' + "0" * 64 + '"},"version":1}',
     "appears twice"),
    ("[" * 100_000 + "]" * 100_000, "nested|not a boveda-book"),
    ('{"events":[{"seq":' + "9" * 5000 + "}]}", "digits|not JSON"),
    ('{"events":[\n{"seq":1.5}', "floating-point|not JSON"),
])
def test_import_refuses_json_no_export_is_written_as(tmp_path, text, match):
    path = tmp_path / "odd.json"
    path.write_text(text)
    _refused(_fresh(tmp_path), path, match)


def _with_checksum(body: str) -> str:
    from embit.descriptor.checksum import checksum

    return f"{body}#{checksum(body)}"


@pytest.mark.parametrize("body, match", [
    ("wpkh(02" + "00" * 32 + ")", "not a valid public key"),  # the book cannot tell: the wallets layer can
    ("wpkh(" + "03" + "ab" * 32 + "/0)", "takes no derivation steps"),
    ("combo(02" + "11" * 32 + ")", "not supported"),
])
def test_import_on_the_command_line_parses_each_descriptor_as_wallet_add_does(tmp_path, body, match):
    from boveda.service.wallets import import_book

    path = write_export(tmp_path / "w.json", sealed([reserve_added(), wallet_added(_with_checksum(body))]))
    location = _fresh(tmp_path)
    with Book.open(location, create=True) as book:
        book.import_file(path)  # the book's own rules cannot see it ...
    with Book.open(_fresh(tmp_path), create=True) as book:
        with pytest.raises(BookError, match=match):  # ... the command line's import does
            import_book(book, path)
        assert book.audit_head().seq == 0 and book.wallets() == ()
