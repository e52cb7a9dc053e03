"""`boveda serve`'s JSON API against the CLI on the same demo book: the same documents for the same
height, one-line 400s for bad parameters, an OpenAPI document that validates, and a site that is safe
to put on the internet (escaped text, security headers, a database handle that cannot write)."""

from __future__ import annotations

import ast
import csv
import io
import json
import re
import shutil
import time
import tomllib
from pathlib import Path

import httpx
import pytest
from _book_fixtures import _create_schema, _drop_schema, _schema_url, require_postgres
from _site import cli_outputs, demo_folder, serving

from boveda.book import Book
from boveda.service.wallets import sync_book
from boveda.web import SiteConfig
from boveda.web.readonly import open_readonly

WEB = Path(__file__).resolve().parents[1] / "src" / "boveda" / "web"
SV_PAST_HEIGHT = 400


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return demo_folder(tmp_path_factory.mktemp("site-api"))


@pytest.fixture(scope="module")
def book(demo: Path) -> str:
    return str(demo / "boveda.db")


def _pairs(book: str) -> dict[tuple[str, ...], str]:
    """CLI commands and the API route that must answer the same document."""
    with Book.open(book) as opened:
        wallets = [w.name for w in opened.wallets()]
    return {
        ("reconcile", "--reserve", "SV", "--json"): "/api/v1/reserves/SV/reconciliation",
        ("reconcile", "--reserve", "US-SBR", "--json"): "/api/v1/reserves/US-SBR/reconciliation",
        ("reconcile", "--reserve", "SV", "--at", str(SV_PAST_HEIGHT), "--json"):
            f"/api/v1/reserves/SV/reconciliation?at={SV_PAST_HEIGHT}",
        ("statement", "--reserve", "SV", "--format", "json"): "/api/v1/reserves/SV/statement",
        ("statement", "--reserve", "SV", "--from", "2025-08-05", "--to", "2025-08-20", "--format", "json"):
            "/api/v1/reserves/SV/statement?from=2025-08-05&to=2025-08-20",
        ("exposure", "--reserve", "SV", "--json"): "/api/v1/reserves/SV/exposure",
        ("exposure", "--reserve", "US-SBR", "--json"): "/api/v1/reserves/US-SBR/exposure",
        ("balances", "--json"): "/api/v1/balances",
        ("audit", "head", "--json"): "/api/v1/audit/head",
        ("alerts", "--all", "--json"): "/api/v1/alerts",
        **{("wallet", "show", name, "--json"): f"/api/v1/wallets/{name}" for name in wallets},
        ("wallet", "show", "sv-hot", "--at", str(SV_PAST_HEIGHT), "--json"):
            f"/api/v1/wallets/sv-hot?at={SV_PAST_HEIGHT}",
    }


LOTS = ("lots", "--json")
CSV = ("statement", "--reserve", "SV", "--from", "2025-08-01", "--format", "csv")
ADDRESSES = tuple(("wallet", "addresses", name, "--json") for name in ("sv-hot", "sv-cold", "sv-vault"))


@pytest.fixture(scope="module")
def cli(book: str, demo: Path) -> dict[tuple[str, ...], str]:
    """Every CLI document the tests compare with, printed by the CLI once."""
    verify = ("verify", str(demo / "proof-SV.json"), "--datadir", str(demo / "bitcoin"), "--network", "regtest",
              "--json")
    outputs = cli_outputs(book, [*_pairs(book), LOTS, CSV, *ADDRESSES, verify])
    outputs["verify"] = outputs[verify]
    return outputs


def _json(cli: dict, *command: str) -> dict:
    return json.loads(cli[command])


@pytest.fixture(scope="module")
def site(demo: Path, book: str):
    with serving(SiteConfig(book=book, proofs_dir=demo, alerts=_alerts)) as base, \
            httpx.Client(base_url=base, timeout=30) as client:
        _wait_for_proofs(client)
        yield client


def _alerts(book: Book) -> list[dict]:
    from boveda.cli.web_commands import operator_alerts

    return operator_alerts(book)


def _wait_for_proofs(client: httpx.Client) -> None:
    for _ in range(200):
        if any(p["proof"] for p in client.get("/api/v1/proofs/latest").json()["proofs"]):
            return
        time.sleep(0.05)
    raise AssertionError("the published proofs were never checked")


# -- the same documents as the CLI -------------------------------------------------------------


def test_every_api_document_equals_the_cli_json_for_the_same_height(site, book, cli):
    for command, url in _pairs(book).items():
        response = site.get(url)
        assert response.status_code == 200, (url, response.text)
        assert cli[command], f"boveda {' '.join(command)} printed nothing"
        assert response.json() == json.loads(cli[command]), f"{url} differs from boveda {' '.join(command)}"
    assert site.get("/api/v1/custody").json()["lots"] == _json(cli, *LOTS)["lots"]
    published = {p["file"]: p for p in site.get("/api/v1/proofs").json()["proofs"]}
    assert published["proof-SV.json"]["report"] == json.loads(cli["verify"])
    assert site.get("/api/v1/reserves").json()["height"] == site.get("/api/v1/status").json()["tip"]["height"]


def test_movements_come_in_pages_that_cover_the_cli_movements_exactly_once(site, cli):
    expected = _json(cli, "reconcile", "--reserve", "SV", "--json")["movements"]
    seen, cursor = [], None
    while True:
        page = site.get("/api/v1/reserves/SV/movements", params={"limit": 7, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200
        document = page.json()
        assert document["total"] == len(expected) and len(document["movements"]) <= 7
        seen += document["movements"]
        cursor = document["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    august = site.get("/api/v1/reserves/SV/movements?from=2025-08-09&to=2025-08-11&kind=internal").json()
    assert august["movements"] == [m for m in expected if "2025-08-09" <= m["date"] <= "2025-08-11"
                                   and m["kind"] == "internal"] != []


def test_the_csv_download_is_the_statements_csv(site, cli):
    response = site.get("/api/v1/reserves/SV/movements.csv?from=2025-08-01")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.text == cli[CSV]
    assert len(list(csv.reader(io.StringIO(response.text)))) > 10


def test_a_reserve_shows_on_chain_claimed_and_verified_side_by_side(site, cli):
    reconciled = _json(cli, "reconcile", "--reserve", "SV", "--json")
    summary = site.get("/api/v1/reserves/SV").json()
    assert summary["chain_balance_sat"] == reconciled["chain_balance_sat"]
    assert summary["book_balance_sat"] == reconciled["book_balance_sat"]
    assert summary["verified"]["verified_sat"] == reconciled["chain_balance_sat"]  # proved at the tip
    assert summary["verified"]["file"] == "proof-SV.json" and "at least" in summary["verified"]["note"]
    history = site.get("/api/v1/reserves/SV/history").json()
    assert history["days"][-1]["chain_balance_sat"] == reconciled["chain_balance_sat"]
    assert history["days"][-1]["book_balance_sat"] == reconciled["book_balance_sat"]
    assert summary["change_30d_sat"] == reconciled["chain_balance_sat"]  # the demo's month began empty
    past = site.get(f"/api/v1/reserves/SV?at={SV_PAST_HEIGHT}").json()
    assert past["height"] == SV_PAST_HEIGHT and past["verified"] is None  # no proof is from before that block


def test_the_period_rolls_forward_from_opening_to_closing(site):
    whole = site.get("/api/v1/reserves/SV/period").json()
    assert whole["opening_balance_sat"] == 0
    assert whole["closing_balance_sat"] == site.get("/api/v1/reserves/SV").json()["chain_balance_sat"]
    part = site.get("/api/v1/reserves/SV/period?from=2025-08-10&to=2025-08-20").json()
    assert part["closing_balance_sat"] == (part["opening_balance_sat"] + part["inflow_sat"] - part["outflow_sat"]
                                           - part["fees_sat"] + part["mixed_net_sat"])
    assert part["outflow_sat"] == 50_000_000  # the planted unrecorded outflow of 2025-08-17


def test_addresses_agree_with_the_wallets_addresses(site, cli):
    rows = site.get("/api/v1/reserves/SV/addresses?limit=500").json()["addresses"]
    for command in ADDRESSES:
        name = command[2]
        listed = {a["address"]: a for a in _json(cli, *command)["addresses"]}
        for row in (r for r in rows if r["wallet"] == name):
            assert (row["received_count"], row["balance_sat"]) == (listed[row["address"]]["received_count"],
                                                                   listed[row["address"]]["balance_sat"])
            assert row["first_used_height"] <= row["last_used_height"]
    assert sum(r["balance_sat"] for r in rows) == site.get("/api/v1/reserves/SV").json()["chain_balance_sat"]


def test_a_transaction_shows_each_holding_it_touched_and_the_entry_it_matched(site, cli):
    reconciled = _json(cli, "reconcile", "--reserve", "US-SBR", "--json")
    inflow = reconciled["movements"][0]
    view = site.get(f"/api/v1/tx/{inflow['txid']}").json()
    sides = {h["account"]: h["movement"] for h in view["holdings"]}
    assert sides["reserve:US-SBR"] == inflow
    assert sides["custody:1:13-cr-00950"]["kind"] == "outflow"  # the forfeited lot leaving custody
    assert inflow["entry_id"] in {e["entry_id"] for e in view["entries"]}
    assert view["block_hash"] and view["height"] == inflow["height"]


# -- refusals ---------------------------------------------------------------------------------


BAD = [
    "/api/v1/reserves/SV/reconciliation?at=abc",
    "/api/v1/reserves/SV/reconciliation?at=99999999",
    "/api/v1/reserves/SV/reconciliation?at=1999-01-01",
    "/api/v1/reserves/SV/reconciliation?at=2025-02-30",
    "/api/v1/reserves/SV/reconciliation?at=-1",
    "/api/v1/reserves/SV/statement?from=yesterday",
    "/api/v1/reserves/SV/statement?from=2025-08-20&to=2025-08-01",
    "/api/v1/reserves/SV/movements?cursor=zz",
    "/api/v1/reserves/SV/movements?cursor=1-2-3",
    "/api/v1/reserves/SV/movements?limit=0",
    "/api/v1/reserves/SV/movements?limit=501",
    "/api/v1/reserves/SV/movements?limit=1e3",
    "/api/v1/reserves/SV/movements?kind=purchase",
    "/api/v1/reserves/SV/movements?color=red",
    "/api/v1/reserves/SV/movements?limit=5&limit=6",
    "/api/v1/reserves/SV/addresses?page=0",
    "/api/v1/tx/not-a-txid",
    "/api/v1/reserves?at=" + "9" * 200,
]


@pytest.mark.parametrize("url", BAD)
def test_a_bad_parameter_is_a_400_with_a_one_line_json_reason(site, url):
    response = site.get(url)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    reason = response.json()["error"]
    assert reason and "\n" not in reason and len(reason) < 300
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("url", ["/reserves/SV?at=abc", "/reserves/SV?from=2025-13-01", "/?lang=klingon",
                                 "/reserves/SV?page=x"])
def test_a_bad_parameter_on_a_page_is_a_400_page(site, url):
    response = site.get(url)
    assert response.status_code == 400 and response.headers["content-type"].startswith("text/html")
    assert "<h1>" in response.text


@pytest.mark.parametrize("url", ["/api/v1/reserves/XX", "/api/v1/reserves/xx/movements", "/api/v1/tx/" + "0" * 64,
                                 "/api/v1/wallets/nobody", "/api/v1/nothing", "/reserves/NOPE", "/proofs/../boveda.db",
                                 "/proofs/boveda.db"])
def test_what_does_not_exist_is_a_404(site, url):
    assert site.get(url).status_code == 404


def test_the_site_refuses_every_method_but_get(site):
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        assert site.request(method, "/api/v1/reserves").status_code == 405


# -- the OpenAPI document ---------------------------------------------------------------------


def test_the_openapi_document_validates_and_names_every_route(site):
    from openapi_spec_validator import validate

    document = site.get("/api/v1/openapi.json").json()
    validate(document)
    from boveda.web.api import ROUTES

    documented = set(document["paths"])
    assert {r.path for r in ROUTES} - {"/api/v1/openapi.json"} == documented


# -- caching ----------------------------------------------------------------------------------


def test_the_api_gives_an_etag_and_answers_304_until_the_next_block(site):
    first = site.get("/api/v1/reserves/SV/reconciliation")
    assert first.headers["etag"] and "no-cache" in first.headers["cache-control"]
    again = site.get("/api/v1/reserves/SV/reconciliation", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    other = site.get("/api/v1/reserves/US-SBR/reconciliation")
    assert other.headers["etag"] != first.headers["etag"]


# -- safe on the internet -----------------------------------------------------------------------


HEADERS = {"content-security-policy", "x-content-type-options", "referrer-policy", "x-frame-options"}


@pytest.mark.parametrize("url", ["/", "/reserves/SV", "/api/v1/reserves", "/static/site.css", "/nope",
                                 "/api/v1/reserves/SV/movements?limit=0", "/proofs/proof-SV.json"])
def test_every_response_carries_the_security_headers(site, url):
    response = site.get(url)
    assert HEADERS <= set(response.headers), url
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"


def test_pages_hold_no_inline_script_or_style(site):
    for url in ("/", "/reserves/SV", "/custody", "/reserves/US-SBR?lang=es"):
        html = site.get(url).text
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), url
        assert " style=" not in html and "<style" not in html, url
        assert not re.search(r"""(?:src|href)=["']https?://""", html), f"{url} refers to another site"


HOSTILE = "<script>alert('boveda')</script>"


@pytest.fixture(scope="module")
def hostile_book(tmp_path_factory, book: str, cli) -> str:
    """The demo book with hostile text where the book allows free text, and an entry citing a transaction
    the chain never confirmed."""
    copy = tmp_path_factory.mktemp("hostile") / "boveda.db"
    shutil.copyfile(book, copy)
    with Book.open(str(copy)) as hostile:
        hostile.add_reserve("XSS", name=f"Reserve {HOSTILE}")
        hostile.add_case("9:99-cr-00001", agency=f"Agency {HOSTILE}", court='Court "><img src=x onerror=alert(1)>')
        txid = _json(cli, "reconcile", "--reserve", "SV", "--json")["movements"][1]["txid"]
        hostile.add_purchase(reserve="XSS", amount_sat=100_000_000, txid=txid, memo=f"memo {HOSTILE}",
                             date="2025-08-01")
        hostile.add_purchase(reserve="XSS", amount_sat=200_000_000, txid="ab" * 32, memo="announced, not mined",
                             date="2025-08-02")
    return str(copy)


def test_hostile_text_in_the_book_is_shown_escaped(hostile_book, cli):
    txid = _json(cli, "reconcile", "--reserve", "SV", "--json")["movements"][1]["txid"]
    with serving(SiteConfig(book=hostile_book)) as base, httpx.Client(base_url=base) as client:
        pages = [client.get(url).text for url in ("/", "/reserves/XSS", "/custody", f"/tx/{txid}")]
        assert client.get("/api/v1/reserves/XSS").json()["name"] == f"Reserve {HOSTILE}"
    for html in pages:
        assert HOSTILE not in html and "<img src=x" not in html
    assert "Reserve &lt;script&gt;alert(&#39;boveda&#39;)&lt;/script&gt;" in pages[0]
    assert "Agency &lt;script&gt;" in pages[2] and "&#34;&gt;&lt;img src=x" in pages[2]
    assert "memo &lt;script&gt;" in pages[3]


def test_public_hides_the_operators_alerts_and_unconfirmed_entries(hostile_book):
    unconfirmed = "ab" * 32
    with serving(SiteConfig(book=hostile_book, alerts=_alerts)) as base, httpx.Client(base_url=base) as client:
        operator = client.get("/api/v1/reserves/XSS/reconciliation").json()
        assert client.get("/api/v1/alerts").status_code == 200
        assert client.get(f"/api/v1/tx/{unconfirmed}").status_code == 200
    with serving(SiteConfig(book=hostile_book, public=True, alerts=_alerts)) as base, \
            httpx.Client(base_url=base) as client:
        public = client.get("/api/v1/reserves/XSS/reconciliation").json()
        assert client.get("/api/v1/alerts").status_code == 404
        assert client.get(f"/api/v1/tx/{unconfirmed}").status_code == 404
        assert "/api/v1/alerts" not in client.get("/api/v1/openapi.json").json()["paths"]
        assert "Operator view" not in client.get("/").text
    kinds = lambda document: [d["kind"] for d in document["discrepancies"]]
    assert "unconfirmed_entry" in kinds(operator) and "unconfirmed_entry" not in kinds(public)
    assert public["book_balance_sat"] == operator["book_balance_sat"]  # hidden, not rewritten


def test_a_write_through_the_sites_handle_fails_on_sqlite(book):
    site_book = open_readonly(book)
    try:
        with pytest.raises(Exception, match="readonly|read-only"):
            site_book.add_partner("ZZ", name="never written")
        with pytest.raises(Exception, match="readonly|read-only"), site_book.store.read() as conn:
            conn.exec_driver_sql("UPDATE reserves SET name = 'changed'")
    finally:
        site_book.close()


@pytest.mark.postgres
def test_the_site_serves_a_postgresql_book_read_only_with_the_same_figures(site, demo, tmp_path):
    require_postgres()
    schema = _create_schema()
    try:
        location = _schema_url(schema)
        export = tmp_path / "book.json"
        with Book.open(str(demo / "boveda.db")) as original:
            original.export(export)
        with Book.open(location, create=True) as copy:
            copy.import_file(export)
            sync_book(copy, demo / "bitcoin", "regtest")
        site_book = open_readonly(location)
        try:
            with pytest.raises(Exception, match="read-only"):
                site_book.add_partner("ZZ", name="never written")
            with pytest.raises(Exception, match="read-only"), site_book.store.read() as conn:
                conn.exec_driver_sql("UPDATE reserves SET name = 'changed'")
        finally:
            site_book.close()
        with serving(SiteConfig(book=location)) as base, httpx.Client(base_url=base) as client:
            for url in ("/api/v1/reserves/SV/reconciliation", "/api/v1/custody", "/api/v1/reserves/SV/history"):
                assert client.get(url).json() == site.get(url).json(), url
            assert client.get("/reserves/SV").status_code == 200
    finally:
        _drop_schema(schema)


# -- languages --------------------------------------------------------------------------------


def test_the_language_follows_lang_or_accept_language_and_numbers_follow_the_locale(site):
    english = site.get("/").text
    spain = site.get("/?lang=es").text
    salvador = site.get("/", headers={"Accept-Language": "es-SV,es;q=0.9,en;q=0.5"}).text
    assert '<html lang="en">' in english and "On chain" in english and "6,126.49985990" in english
    assert '<html lang="es">' in spain and "En la cadena" in spain and "6.126,49985990" in spain
    assert '<html lang="es-SV">' in salvador and "En la cadena" in salvador and "6,126.49985990" in salvador
    assert "<html lang=\"en\">" in site.get("/", headers={"Accept-Language": "fr, de;q=0.8"}).text


def _site_texts() -> set[str]:
    texts = set()
    for path in WEB.rglob("*.html"):
        texts |= {m.group(2) for m in re.finditer(r"""_\(\s*(["'])(.+?)\1\s*\)""", path.read_text())}
    for path in WEB.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "_" \
                    and node.args and isinstance(node.args[0], ast.Constant):
                texts.add(node.args[0].value)
            if path.name == "words.py" and isinstance(node, ast.Dict):
                texts |= {v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)}
    return texts


def test_every_english_text_of_the_site_has_its_spanish():
    with open(WEB / "messages_es.toml", "rb") as handle:
        spanish = tomllib.load(handle)
    missing = sorted(_site_texts() - set(spanish))
    assert not missing, f"texts with no Spanish in messages_es.toml: {missing}"
    assert all(text.strip() for text in spanish.values())


# -- the command ------------------------------------------------------------------------------


def test_boveda_serve_refuses_a_missing_book_in_one_line(tmp_path):
    from _site import run_cli

    done = run_cli(str(tmp_path / "nothing.db"), "serve", "--port", "1")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "no book at" in done.stderr


def test_boveda_serve_runs_the_site_with_two_workers(book, demo):
    import os
    import signal
    import subprocess
    import sys

    from _site import free_port

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "boveda.cli.main", "--book", book, "serve", "--port", str(port),
                               "--workers", "2", "--public", "--proofs", str(demo)],
                              stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            for _ in range(300):
                try:
                    if client.get("/api/v1/status").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.05)
            assert client.get("/").status_code == 200
            assert client.get("/api/v1/reserves/SV").json()["code"] == "SV"
            assert client.get("/api/v1/alerts").status_code == 404  # --public
    finally:
        os.killpg(server.pid, signal.SIGINT)
        server.wait(20)
    assert "read-only" in server.stderr.read()
