"""The HTML statement as a reader sees it: the period named in words (never a bare "start"), labels
in words (no snake_case to wrap), every txid whole (shown short on screen, full on hover, on copy
and on paper), daily purchases visible beside a holding a thousand times larger, one count and one
word for the discrepancies, the period's roll-forward, and Spanish from its catalogue.

The text-level tests run everywhere; the one in Chromium skips without it unless CI=true."""

from __future__ import annotations

import re
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from _browser import CHROMEDRIVER, CHROMIUM, require_browser
from test_statement import SV, sample_book, sample_reconciliation, sample_statement

from boveda.report import build_statement, holdings_by_wallet, i18n, render_html
from boveda.report.charts import KIND_COLOURS, DayFlow, flows_chart
from boveda.report.i18n import StatementLanguageError, words
from boveda.report.render_pdf import pdf_html
from boveda.report.rollforward import RollForward, book_side, chain_side

BTC = 100_000_000


class _Visible(HTMLParser):
    """The text a reader sees: element text outside <style> and <title>, no attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "title"):
            self.hidden += 1

    def handle_endtag(self, tag):
        if tag in ("style", "title"):
            self.hidden -= 1

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    return " ".join(parser.parts)


def open_statement(**changes):
    """The sample month with no --from (or other changes to build_statement's arguments)."""
    chain, _ = sample_book()
    by_wallet = holdings_by_wallet(SV, chain)
    arguments = dict(holdings_sat=by_wallet[-1][1], series=by_wallet, period_from=None, period_to=date(2025, 8, 31),
                     block_date=date(2025, 8, 31), reserve_name="El Salvador")
    arguments.update(changes)
    return build_statement(sample_reconciliation(), **arguments)


def with_rollforward():
    chain, entries = sample_book()
    s = sample_statement()
    rf = RollForward(s.period_from, s.period_to, None, s.height,
                     chain_side(s.movements, opening_sat=0, closing_sat=s.chain_balance_sat),
                     book_side(SV, entries, s.period_from, s.period_to))
    return open_statement(period_from=s.period_from, rollforward=rf), rf


def test_a_statement_without_from_says_from_the_first_record_and_its_date():
    html = render_html(open_statement())
    text = visible_text(html)
    assert "period from the first record (2025-08-01) to 2025-08-31" in text
    assert not re.search(r"\bstart\b", text), "the literal 'start' is back in the period"
    assert "from 2025-08-01 to 2025-08-31" in visible_text(render_html(sample_statement()))


def test_kinds_and_findings_are_shown_as_words_never_as_snake_case():
    text = visible_text(render_html(sample_statement()))
    assert re.findall(r"\b[a-z]+_[a-z_]+\b", text) == []
    assert "purchase that was an internal move" in text and "unrecorded outflow" in text


def test_every_txid_is_whole_in_the_page_with_its_full_value_in_the_title():
    s = sample_statement()
    html = render_html(s)
    txids = {m.txid_hex for m in s.movements} | {d.txid_hex for d in s.discrepancies if d.txid_hex}
    for txid in txids:
        assert f'<span class="txid" title="{txid}">{txid}</span>' in html
    # On screen the cell is cut to its start with an ellipsis (the value stays whole for copy); on paper
    # it wraps in full.
    screen = re.search(r"\n\.txid \{[^}]*\}", html).group(0)
    assert "text-overflow: ellipsis" in screen and "max-width: 14ch" in screen
    assert ".txid { user-select: all; }" in html
    assert re.search(r"@media print \{.*\.txid \{ max-width: none;[^}]*word-break: break-all", html, re.S)


def _bar_heights(svg: str, fill: str = "") -> list[float]:
    return [float(h) for h in re.findall(rf'<rect class="bar" [^>]*height="([0-9.]+)" fill="{fill}[^"]*"', svg)]


def test_a_daily_one_btc_purchase_stays_visible_beside_a_6000_btc_day():
    first = date(2025, 7, 29)
    flows = [DayFlow(first, inflow_sat=6_100 * BTC)] + [DayFlow(first + timedelta(days=d), inflow_sat=BTC)
                                                        for d in range(1, 29)]
    svg = flows_chart(flows, first=first, last=first + timedelta(days=30), title="t",
                      legend=("in", "out", "moved", "flag"), empty="none")
    heights = _bar_heights(svg)
    assert len(heights) == 29
    assert min(heights[1:]) >= 0.4 * max(heights), heights  # not a sliver: the big day is clipped ...
    assert "6100 BTC" in svg  # ... and labelled with its true value


def test_the_statement_draws_each_days_flows_with_critical_days_flagged():
    s = sample_statement()
    html = render_html(s)
    svg = html[html.index('<svg id="flows-chart"'):]
    svg = svg[:svg.index("</svg>")]
    days = {m.block_date for m in s.movements}
    assert svg.count('<g class="day">') == len(days)
    received = _bar_heights(svg, KIND_COLOURS["inflow"])
    assert received and min(received) >= 20  # the daily purchases of one BTC beside the 20-BTC opening day
    critical_txids = {d.txid_hex for d in s.discrepancies if d.severity.value == "critical" and d.txid_hex}
    critical_days = {m.block_date for m in s.movements if m.txid_hex in critical_txids}
    assert svg.count('<circle class="flag"') == len(critical_days) > 0


def test_one_count_and_one_word_for_the_discrepancies():
    s = sample_statement()
    text = visible_text(render_html(s))
    n = len(s.discrepancies)
    assert n > len([e for e in s.explanations if e.severity])  # grouped sentences: the old two counts
    assert re.search(rf"DISCREPANCIES|Discrepancies\s+{n}\b", text)
    assert f"{n} discrepancies at this height" in text
    assert "rregularit" not in text


def test_the_period_roll_forward_is_a_small_table_that_adds_up():
    s, rf = with_rollforward()
    text = visible_text(render_html(s))
    assert "Roll-forward" in text and "Chain BTC" in text and "Book BTC" in text
    assert re.search(r"Opening balance\s+0\.00000000\s+0\.00000000", text)
    assert re.search(rf"Closing balance\s+{rf.chain.closing_sat / BTC:.8f}\s+{rf.book.closing_sat / BTC:.8f}", text)
    assert "adds up" in text
    assert "Roll-forward" not in visible_text(render_html(sample_statement()))  # none given, none shown


def test_spanish_has_every_text_of_the_statement_and_the_pdf_in_its_catalogue(monkeypatch):
    catalogue = i18n._spanish()
    missing: set[str] = set()

    class Recording(dict):
        def get(self, key, default=None):
            if key not in catalogue:
                missing.add(key)
            return catalogue.get(key, default)

    monkeypatch.setattr(i18n, "_spanish", lambda: Recording(catalogue))
    s, _ = with_rollforward()
    html = pdf_html(s, lang="es") + render_html(open_statement(), lang="es")
    assert missing == set()
    assert '<html lang="es">' in html
    text = visible_text(html)
    assert "Saldo final" in text and "Elaborado por" in text and "del primer registro (2025-08-01)" in text
    assert "5 críticas" in text or "críticas" in text


def test_a_language_the_statement_is_not_written_in_is_refused():
    with pytest.raises(StatementLanguageError, match="en or es"):
        words("fr")


@pytest.mark.browser
def test_in_chromium_a_txid_shows_short_and_copies_whole_and_the_flows_are_drawn(tmp_path: Path):
    require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1100,1200"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        s = sample_statement()
        page = tmp_path / "statement.html"
        page.write_text(render_html(s), encoding="utf-8")
        driver.get(page.as_uri())
        cell = driver.find_elements(By.CSS_SELECTOR, "span.txid")[0]
        assert 40 < cell.size["width"] < 160, cell.size  # about 14 characters, not 64
        assert len(cell.get_attribute("textContent")) == 64 == len(cell.get_attribute("title"))
        assert driver.execute_script("return getComputedStyle(arguments[0]).userSelect", cell) == "all"
        received = driver.find_elements(By.CSS_SELECTOR, f'#flows-chart rect.bar[fill="{KIND_COLOURS["inflow"]}"]')
        assert received and min(b.size["height"] for b in received) >= 10  # each day's 1 BTC, drawn
        header = driver.find_element(By.CSS_SELECTOR, "header").text
        assert "from 2025-08-01 to 2025-08-31" in header
    finally:
        driver.quit()
