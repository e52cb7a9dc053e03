"""Debian's headless Chromium for the browser tests: where it is, and the rule that CI must have it."""

from __future__ import annotations

import os

import pytest

CHROMIUM = os.environ.get("BOVEDA_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("BOVEDA_CHROMEDRIVER", "/usr/bin/chromedriver")


def require_browser() -> None:
    """Skips without Chromium, chromedriver or selenium — unless CI=true, where browser tests must run."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(path)]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package")
    if not missing:
        return
    message = f"headless Chromium is unavailable: missing {', '.join(missing)}"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI=true: browser tests must run)")
    pytest.skip(message)
