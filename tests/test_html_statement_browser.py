"""The HTML statement in a real browser: headless Chromium opens the file with no console
error, draws both charts at a visible size, and prints it on A4.

Needs ``chromium`` and ``chromium-driver`` (Debian) and the ``selenium`` package; skips
without them — unless ``CI=true``, where it fails. Selenium is pointed at the system
chromedriver so that it never downloads one.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from _browser import CHROMEDRIVER, CHROMIUM, require_browser
from test_statement import sample_statement

from boveda.report import SeriesBasis, render_html

pytestmark = pytest.mark.browser


@pytest.fixture
def browser(tmp_path: Path):
    require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'chromium-profile'}",
                     "--window-size=1100,1200", "--hide-scrollbars"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.mark.parametrize("basis", [SeriesBasis.WALLET, SeriesBasis.SOURCE])
def test_the_html_statement_opens_without_errors_and_draws_both_charts(browser, tmp_path: Path, basis):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.print_page_options import PrintOptions

    page = tmp_path / f"statement-{basis.value}.html"
    page.write_text(render_html(sample_statement(basis=basis)), encoding="utf-8")
    browser.get(page.as_uri())

    assert browser.title.startswith("Reserve statement · SV — El Salvador")
    errors = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]
    assert errors == []
    for chart_id, shape in (("holdings-chart", "path.layer"), ("kinds-chart", "rect.bar")):
        chart = browser.find_element(By.ID, chart_id)
        assert chart.tag_name == "svg"
        assert chart.size["width"] > 300 and chart.size["height"] > 100, chart.size
        drawn = chart.find_elements(By.CSS_SELECTOR, shape)
        assert drawn and all(d.size["width"] > 0 and d.size["height"] > 0 for d in drawn)
    # Nothing was fetched: the page is one file.
    fetched = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert fetched == []

    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1100, min(height + 40, 8000))
    screenshot = tmp_path / f"statement-{basis.value}.png"
    assert browser.save_screenshot(str(screenshot))
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    a4 = PrintOptions()
    a4.page_width, a4.page_height = 21.0, 29.7  # centimetres
    pdf = base64.b64decode(browser.print_page(a4))
    (tmp_path / f"statement-{basis.value}.pdf").write_bytes(pdf)
    assert pdf[:5] == b"%PDF-"
    pages = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
    assert 1 <= pages <= 6, pages
