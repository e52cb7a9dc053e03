"""Fixtures for the book's tests: every book test runs on SQLite and on PostgreSQL.

Import the fixtures into a test module (``from _book_fixtures import backend, book_location, book``).
Each PostgreSQL test gets a fresh database, dropped afterwards. When the server cannot be
reached the PostgreSQL tests skip — unless ``CI=true``, where they fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from boveda.book import Book

TESTS_DIR = Path(__file__).resolve().parent
PG_ADMIN_URL = os.environ.get("BOVEDA_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")

TXID_A = "a1" * 32
TXID_B = "b2" * 32
TXID_C = "c3" * 32
DESCRIPTOR = "raw(deadbeef)#89f8spxm"  # BIP-380 test vector


def txid(n: int) -> str:
    return f"{n:064x}"


_pg_state: dict[str, str | None] = {}


def _postgres_unreachable() -> str | None:
    """``None`` when the test server answers, else why not (cached per process)."""
    if "why" not in _pg_state:
        import psycopg

        try:
            psycopg.connect(PG_ADMIN_URL, connect_timeout=3).close()
            _pg_state["why"] = None
        except psycopg.Error as exc:
            _pg_state["why"] = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return _pg_state["why"]


def require_postgres() -> None:
    why = _postgres_unreachable()
    if why is None:
        return
    message = f"PostgreSQL at {PG_ADMIN_URL} is unreachable: {why}"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI=true: PostgreSQL tests must run)")
    pytest.skip(message)


def _admin(statement: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(statement)


def _create_schema() -> str:
    name = f"boveda_test_{uuid.uuid4().hex[:16]}"
    _admin(f'CREATE SCHEMA "{name}"')
    return name


def _drop_schema(name: str) -> None:
    _admin(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def _schema_url(name: str) -> str:
    """A book URL whose tables live in schema ``name`` of the test database."""
    separator = "&" if "?" in PG_ADMIN_URL else "?"
    return f"{PG_ADMIN_URL}{separator}options=-csearch_path%3D{name}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A book URL on the PostgreSQL test server whose schema is fresh and empty; dropped afterwards.

    Each test gets its own schema (cheaper than a database, and as independent).
    """
    require_postgres()
    name = _create_schema()
    try:
        yield _schema_url(name)
    finally:
        _drop_schema(name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    """The database a book test runs on: every book test runs on both."""
    if request.param == "postgresql":
        require_postgres()
    return request.param


@pytest.fixture
def book_location(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where an (uninitialised) book lives: a SQLite file, or a fresh PostgreSQL database."""
    if backend == "sqlite":
        return str(tmp_path / "book.db")
    return request.getfixturevalue("postgres_url")


class BookTemplates:
    """Books built once per session and copied for each test, so a test gets its own database
    without rebuilding the book: SQLite copies the file; PostgreSQL imports the template's
    export into a fresh schema."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.templates: dict[tuple[str, str], Path] = {}
        self.schemas: list[str] = []

    def clone(self, backend: str, name: str, build: Callable[[Book], None], tmp_path: Path) -> str:
        key = (backend, name)
        if key not in self.templates:
            location = str(self.directory / f"{name}.db")
            if not (self.directory / f"{name}.db").exists():
                Book.init(location)
                with Book.open(location, clock=StepClock()) as book:
                    build(book)
            if backend == "sqlite":
                self.templates[key] = Path(location)
            else:
                export = self.directory / f"{name}.json"
                with Book.open(location) as book:
                    book.export(export)
                self.templates[key] = export
        template = self.templates[key]
        if backend == "sqlite":
            target = tmp_path / f"{name}-copy.db"
            shutil.copyfile(template, target)
            return str(target)
        schema = _create_schema()
        self.schemas.append(schema)
        location = _schema_url(schema)
        with Book.open(location, create=True) as book:
            book.import_file(template)
        return location

    def drop_clones(self) -> None:
        while self.schemas:
            _drop_schema(self.schemas.pop())


@pytest.fixture(scope="session")
def _book_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BookTemplates]:
    templates = BookTemplates(tmp_path_factory.mktemp("book-templates"))
    yield templates
    templates.drop_clones()


@pytest.fixture
def book_templates(_book_templates: BookTemplates) -> Iterator[BookTemplates]:
    """Clone a prepared book: ``book_templates.clone(backend, "name", build, tmp_path)``."""
    yield _book_templates
    _book_templates.drop_clones()


class StepClock:
    """A clock that advances one second per reading, so tests are deterministic."""

    def __init__(self, start: datetime = datetime(2025, 3, 6, 12, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def book(book_location: str) -> Iterator[Book]:
    """An initialised, empty book on each database, with a deterministic clock."""
    Book.init(book_location)
    with Book.open(book_location, clock=StepClock()) as opened:
        yield opened


def populate(book: Book) -> None:
    """A small book touching every kind of record: reserves, partner, cases, lots, entries, wallet."""
    book.add_reserve("SV", name="El Salvador", address_cap_sat=500 * 100_000_000)
    book.add_reserve("US-SBR", name="US Strategic Bitcoin Reserve", no_sale=True)
    book.add_partner("DE", name="Germany")
    book.add_case("1:21-cr-00399", agency="FBI", court="D.D.C.")
    book.add_purchase(reserve="SV", amount_sat=150_000_000, txid=TXID_A, price_usd_cents=8_500_000,
                      date="2025-03-01")
    lot = book.seize_lot(case="1:21-cr-00399", amount_sat=1_000_000_000, txid=TXID_B,
                         outpoints=(f"{TXID_B}:0",), date="2022-02-01")
    book.mark_forfeiture_pending(lot.lot_id, order="Complaint 22-cv-1")
    book.forfeit_lot(lot.lot_id, order="Final order ECF 212")
    book.allocate_lot(lot.lot_id, to="sharing:DE", order="MLAT 2023-17", percent_bp=2500, txid=TXID_C)
    book.allocate_lot(2, to="reserve:US-SBR", order="EO 14233")
    book.add_transfer(from_account="reserve:SV", to_account="expense:fees", amount_sat=1_000, txid=txid(9),
                      reason="consolidation fee")
    book.add_wallet("sv-cold", descriptor=DESCRIPTOR, reserve="SV", birth_height=800_000)


def snapshot(book: Book) -> tuple[object, ...]:
    """Everything a refused operation must leave unchanged."""
    return (book.audit_head(), book.balances(), book.lots(), book.journal(), book.lot_transitions(),
            book.reserves(), book.partners(), book.cases(), book.wallets())


# -- the CLI ------------------------------------------------------------------------------------


def _standin_cli() -> click.Group:
    """The root group's contract (``--book``, BovedaError -> exit 2), for when main.py is not wired yet."""
    from boveda.errors import BovedaError

    class Group(click.Group):
        def invoke(self, ctx: click.Context):  # type: ignore[no-untyped-def]
            try:
                return super().invoke(ctx)
            except BovedaError as exc:
                click.echo(f"error: {exc}", err=True)
                ctx.exit(2)

    @click.group(cls=Group)
    @click.option("--book", envvar="BOVEDA_BOOK", default="boveda.db", show_default=True)
    @click.pass_context
    def cli(ctx: click.Context, book: str) -> None:
        ctx.ensure_object(dict)
        ctx.obj["book"] = book

    return cli


_cli_cache: list[click.Group] = []


def boveda_cli() -> click.Group:
    """The real ``boveda`` group; until main.py registers the book's commands, a copy of it that does.

    The copy leaves the real group untouched, so other tests (tests/test_docs.py) see it as it is.
    """
    if _cli_cache:
        return _cli_cache[0]
    from boveda.cli import book_commands

    try:
        from boveda.cli.main import cli as real
    except ImportError:
        real = _standin_cli()
    if "lots" in real.commands:
        group = real
    else:
        group = type(real)(name=real.name, callback=real.callback, params=list(real.params),
                           commands=dict(real.commands), help=real.help, context_settings=real.context_settings)
        book_commands.register(group)
    _cli_cache.append(group)
    return group


def run_cli(location: str, *args: str, input: str | None = None) -> Result:
    """Run ``boveda --book LOCATION ARGS`` in-process."""
    # A PostgreSQL book refuses a change without an operator (BOVEDA_OPERATOR / --by).
    env = {"BOVEDA_OPERATOR": os.environ.get("BOVEDA_OPERATOR", "test-operator")}
    return CliRunner(env=env).invoke(boveda_cli(), ["--book", location, *args], input=input, catch_exceptions=False)


def cli_command(*args: str) -> list[str]:
    """argv running ``boveda ARGS`` in a new Python process."""
    code = f"import sys; sys.path.insert(0, {str(TESTS_DIR)!r}); import _book_fixtures as f; f.main()"
    return [sys.executable, "-c", code, *args]


def run_cli_process(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli_command(*args), capture_output=True, text=True, timeout=timeout)


def main() -> None:
    boveda_cli()(prog_name="boveda")
