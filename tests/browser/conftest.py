"""A real ``bentoml serve`` and Debian's Chromium, headless, driven by Playwright for Python.

The browser is the system's ``/usr/bin/chromium`` (``TECHRISK_CHROMIUM`` overrides it): CI
installs it with apt-get, and nothing is downloaded at run time. A missing browser fails the
tests with the install command; they never skip. Screenshots of every state go under
``tests/browser/screenshots/`` (git-ignored) for a person to look at.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import bentoml_serve

REPO = Path(__file__).resolve().parents[2]
SHOTS = Path(__file__).with_name("screenshots")
CHROMIUM = Path(os.environ.get("TECHRISK_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def page_server(registry, tmp_path_factory) -> Iterator[str]:
    audit_url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'audit.db'}"
    env = {**os.environ, **registry, "TECHRISK_DATABASE_URL": audit_url}
    env.pop("TECHRISK_MODEL_URI", None)
    with bentoml_serve("serving.service:TechRiskService", env, REPO) as base:
        yield base


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) "
            "or point TECHRISK_CHROMIUM at a Chromium binary",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser, page_server):
    """A fresh tab on the page, with its JavaScript errors failing the test."""
    context = browser.new_context(
        viewport={"width": 1400, "height": 1000}, accept_downloads=True, locale="zh-CN"
    )
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.goto(f"{page_server}/ui")
    tab.wait_for_selector("#sample-list li[data-code]", timeout=90_000)
    yield tab
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def shot(page, name: str) -> Path:
    """Save a full-page screenshot of the current state."""
    SHOTS.mkdir(exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
