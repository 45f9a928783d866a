"""A real ``bentoml serve`` and Debian's Chromium, headless, driven by Playwright for Python.

The browser is the system's ``/usr/bin/chromium`` (``TECHRISK_CHROMIUM`` overrides it): CI
installs it with apt-get, and nothing is downloaded at run time. A missing browser fails the
tests with the install command; they never skip. Screenshots of every state go under
``tests/browser/screenshots/`` (git-ignored) for a person to look at.

Each tab starts as a loan officer's does: it types a scorer key into the page's key field.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import api_key, bentoml_serve

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
def page_keys(tmp_path_factory) -> dict[str, str]:
    """The served keys file (``TECHRISK_API_KEYS``) and a scorer and an auditor key in it."""
    folder = tmp_path_factory.mktemp("browser-keys")
    env: dict[str, str] = {}
    scorer, auditor = api_key(env, folder), api_key(env, folder, "auditor")
    return {**env, "scorer": scorer, "auditor": auditor}


@pytest.fixture(scope="session")
def page_key(page_keys) -> str:
    return page_keys["scorer"]


@pytest.fixture(scope="session")
def page_server(registry, tmp_path_factory, page_keys) -> Iterator[str]:
    audit_url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'audit.db'}"
    env = {
        **os.environ,
        **registry,
        "TECHRISK_DATABASE_URL": audit_url,
        "TECHRISK_API_KEYS": page_keys["TECHRISK_API_KEYS"],
    }
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
def bare_page(browser, page_server):
    """A fresh tab on the page before any key is entered, with its JavaScript errors failing
    the test."""
    context = browser.new_context(
        viewport={"width": 1400, "height": 1000}, accept_downloads=True, locale="zh-CN"
    )
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.goto(f"{page_server}/ui")
    yield tab
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def enter_key(tab, key: str) -> None:
    """Type the key into the page's key field and submit it, as an officer does."""
    tab.fill("#api-key", key)
    tab.click("#key-form button")


@pytest.fixture
def page(bare_page, page_key):
    """The page with a scorer key entered and the sample firms listed."""
    enter_key(bare_page, page_key)
    bare_page.wait_for_selector("#sample-list li[data-code]", timeout=90_000)
    return bare_page


def shot(page, name: str) -> Path:
    """Save a full-page screenshot of the current state."""
    SHOTS.mkdir(exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
