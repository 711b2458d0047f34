"""A headless Chromium for tests that use the app as a person would.

Debian's `chromium` package provides the browser (Playwright's own browser downloads are
not used); without it, or without the playwright package, these tests skip.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connections

# CI sets this, so that a missing browser fails the run instead of skipping its tests.
REQUIRED = os.environ.get("BROWSER_TESTS_REQUIRED") == "1"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser(django_db_setup, monkeypatch) -> Iterator:
    """A fresh headless Chromium per test; it skips the test when none is installed.

    Playwright's sync API keeps an asyncio loop running on this thread while the browser
    is open; Django's async-safety guard sees that loop and would refuse the ORM calls the
    test makes around the browser, which are in fact plain synchronous calls on this
    thread. The test database is set up (`django_db_setup`) before the loop starts, and
    the connections opened while it runs are closed before it stops: Django keeps them per
    async context, so the test database's teardown would not find them.
    """
    missing = pytest.fail if REQUIRED else pytest.skip
    try:
        from playwright import sync_api
    except ImportError:
        missing("playwright is not installed (pip install -r requirements-dev.txt)")
    if not CHROMIUM.exists():
        missing(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = chromium.new_context()
        context.set_default_timeout(15_000)
        yield context
        chromium.close()
        connections.close_all()
