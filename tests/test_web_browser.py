"""The transparency site in a real browser: headless Chromium opens every page of the demo book with no
console error and no request outside the site, draws the charts at a visible size, speaks Spanish when
asked, and shows a newly synced block within 2 s without a reload.

Needs ``chromium`` and ``chromium-driver`` (Debian) and the ``selenium`` package; skips without them —
unless ``CI=true``, where it fails. Screenshots go to the test's folder, and to ``$BOVEDA_SCREENSHOTS``
when set (``BOVEDA_SCREENSHOTS=docs/screenshots`` refreshes the README's).
"""

from __future__ import annotations

import datetime
import json
import os
import time
from pathlib import Path

import httpx
import pytest
from _browser import CHROMEDRIVER, CHROMIUM, require_browser
from _site import demo_folder, serving

from boveda.bitcoin.network import Network
from boveda.book import Book
from boveda.chain.regtest.builder import COINBASE_MATURITY
from boveda.chain.regtest.simulation import Simulation
from boveda.keys.software_wallet import WalletKind
from boveda.service.wallets import sync_book
from boveda.wallets.registry import register_wallet
from boveda.web import SiteConfig

COIN = 100_000_000
LIVE_WITHIN_S = 2.0

pytestmark = pytest.mark.browser


def _chromium(profile: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                     "--disable-default-apps", "--disable-extensions", "--hide-scrollbars",
                     f"--user-data-dir={profile}", "--window-size=1280,1000"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    require_browser()
    driver = _chromium(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return demo_folder(tmp_path_factory.mktemp("site-browser"))


@pytest.fixture(scope="module")
def site(demo: Path):
    with serving(SiteConfig(book=str(demo / "boveda.db"), proofs_dir=demo, public=True)) as base:
        with httpx.Client(base_url=base) as client:
            for _ in range(200):  # the published proofs are checked in the background at start-up
                if any(p["proof"] for p in client.get("/api/v1/proofs/latest").json()["proofs"]):
                    break
                time.sleep(0.05)
            movements = client.get("/api/v1/reserves/US-SBR/movements").json()["movements"]
        yield base, movements[0]["txid"]


def _open(browser, url: str) -> None:
    browser.get(url)
    for _ in range(100):
        if browser.execute_script("return document.readyState") == "complete":
            return
        time.sleep(0.02)


def _requests(browser) -> list[str]:
    """Every URL the browser asked for since the last call (Chromium's performance log)."""
    urls = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def _forget(browser) -> None:
    """A blank page, and the logs of what came before it dropped (another test's site may be gone, and its
    last page's poll with it)."""
    browser.get("about:blank")
    browser.get_log("browser")
    _requests(browser)


def _screenshot(browser, name: str, folder: Path) -> None:
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, min(height + 20, 2400))  # the top of a long page: what a reader sees first
    targets = [folder] + ([Path(os.environ["BOVEDA_SCREENSHOTS"])] if os.environ.get("BOVEDA_SCREENSHOTS") else [])
    for target in targets:
        target.mkdir(parents=True, exist_ok=True)
        assert browser.save_screenshot(str(target / f"{name}.png"))
    browser.set_window_size(1280, 1000)


def _pages(txid: str) -> dict[str, str]:
    return {
        "home": "/",
        "reserve-sv": "/reserves/SV",
        "reserve-us-sbr": "/reserves/US-SBR",
        "custody": "/custody",
        "transaction": f"/tx/{txid}",
        "reserve-sv-at-height": "/reserves/SV?at=400",
        "reserve-sv-period": "/reserves/SV?from=2025-08-09&to=2025-08-17",
        "home-es": "/?lang=es",
        "reserve-sv-es": "/reserves/SV?lang=es-SV",
    }


def test_every_page_renders_with_no_console_error_and_no_request_outside_the_site(browser, site, tmp_path):
    base, txid = site
    _forget(browser)
    for name, path in _pages(txid).items():
        _open(browser, base + path)
        time.sleep(0.2)  # let the live script make its first poll on the slowest pages
        problems = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
        assert problems == [], f"{path}: {problems}"
        # data: URLs are the browser's own (a date field's calendar icon), not requests to anyone
        outside = [url for url in _requests(browser) if not url.startswith((base + "/", "data:"))]
        assert outside == [], f"{path} asked for {outside}"
        assert browser.find_element("css selector", "h1").text
        _screenshot(browser, name, tmp_path)


def test_an_unknown_page_is_a_readable_404_and_nothing_else_fails(browser, site):
    base, _ = site
    _forget(browser)
    _open(browser, base + "/reserves/NOWHERE")
    assert "Not found" in browser.find_element("css selector", "h1").text
    problems = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert len(problems) == 1 and "404" in problems[0] and "/reserves/NOWHERE" in problems[0], problems


def test_the_charts_have_size_and_draw_the_daily_purchases(browser, site):
    base, _ = site
    for path in ("/", "/reserves/SV"):
        _open(browser, base + path)
        charts = browser.find_elements("css selector", "svg.chart")
        assert len(charts) >= 2
        for chart in charts:
            assert chart.size["width"] > 300 and chart.size["height"] > 100, (path, chart.size)
    flows = browser.find_element("id", "flows-SV")
    bars = flows.find_elements("css selector", "rect.bar")
    one_btc = [bar for bar in bars if bar.size["height"] > 8]  # a 1-BTC day is seen beside a 6,100-BTC day
    assert len(one_btc) >= 20 and all(bar.size["width"] >= 2 for bar in bars)
    assert "6,100" in flows.text and flows.find_elements("css selector", "path.mark")  # clipped, and internal moves
    holdings = browser.find_element("id", "holdings-SV").find_elements("css selector", "path.layer")
    assert len(holdings) == 2 and holdings[0].size["height"] > 100  # the area on chain; the book is a line


def test_the_spanish_home_page_shows_spanish_labels(browser, site):
    base, _ = site
    _open(browser, base + "/?lang=es")
    assert browser.execute_script("return document.documentElement.lang") == "es"
    text = browser.find_element("tag name", "body").text.casefold()  # figure labels are set in capitals
    for label in ("En la cadena", "Según el libro", "Verificado por una prueba de control",
                  "Monedas incautadas en custodia", "Sincronizado hasta el bloque", "Últimos 7 días"):
        assert label.casefold() in text, label
    for english in ("On chain", "Claimed by the book", "Seized coins in custody"):
        assert english.casefold() not in text, english
    assert "6.126,49985990" in text  # Spain's Spanish groups with dots; ?lang=es-SV would not


# -- live ---------------------------------------------------------------------------------------


def _live_book(folder: Path) -> tuple[Simulation, str]:
    """A reserve with one wallet on a fresh regtest chain, synced; the simulation stays able to mine."""
    sim = Simulation(folder / "bitcoin", seed_label="web live test")
    sim.add_wallet("hot", WalletKind.WPKH)
    sim.mine_blocks(COINBASE_MATURITY + 1)
    birth = sim.height
    funding = sim.pay("miner", [(sim.receive_script("hot"), 5 * COIN)])
    sim.mine()
    day = datetime.datetime.fromtimestamp(sim.tip_time, datetime.UTC).date().isoformat()
    sim.close()
    location = str(folder / "book.db")
    Book.init(location)
    with Book.open(location) as book:
        book.add_reserve("LIVE", name="Live reserve")
        register_wallet(book, "hot", sim.wallet("hot").multipath_descriptor(), network=Network.REGTEST,
                        reserve="LIVE", birth_height=birth, gap_limit=20)
        book.add_purchase(reserve="LIVE", amount_sat=5 * COIN, txid=funding.txid_hex, date=day)
        sync_book(book, sim.datadir, "regtest")
    return sim, location


def _text(browser, element_id: str) -> str:
    """The element's text, read in one step (the live script may swap the element between two steps)."""
    return browser.execute_script(f"return document.getElementById('{element_id}').textContent").strip()


def test_a_newly_synced_block_appears_within_two_seconds_without_a_reload(browser, tmp_path):
    sim, location = _live_book(tmp_path)
    _forget(browser)
    with serving(SiteConfig(book=location, public=True)) as base:
        for rounds, path in enumerate(("/reserves/LIVE", "/"), start=1):
            _open(browser, base + path)
            browser.execute_script("window.bovedaNoReload = true;")
            height = int(_text(browser, "tip-height").replace(",", ""))
            sim.reopen()
            sim.pay("miner", [(sim.receive_script("hot"), 2 * COIN)])
            sim.mine()
            sim.close()
            with Book.open(location) as book:
                sync_book(book, sim.datadir, "regtest")
            synced = time.monotonic()
            while _text(browser, "tip-height").replace(",", "") != str(height + 1):
                assert time.monotonic() - synced < LIVE_WITHIN_S, f"{path}: block {height + 1} not shown in time"
                time.sleep(0.05)
            shown = time.monotonic() - synced
            print(f"{path}: block {height + 1} shown {shown:.2f} s after its sync")
            assert browser.execute_script("return window.bovedaNoReload === true"), "the page was reloaded"
            assert f"{5 + 2 * rounds}.00000000" in _text(browser, "main")  # the figures, too
            assert shown < LIVE_WITHIN_S
            assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
        _forget(browser)  # before the site stops: its page would poll a closed port
