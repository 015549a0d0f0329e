"""Browser fixtures: Debian's Chromium driven by Playwright (never a downloaded browser)."""
import os

import pytest

from tests.live import LiveServer

CHROMIUM = "/usr/bin/chromium"
BASE_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-first-run", "--disable-quic", "--autoplay-policy=no-user-gesture-required"]


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def playwright_instance():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


def launch(playwright_instance, tmp_path_factory, extra_args=()):
    home = tmp_path_factory.mktemp("chromium-home")
    env = dict(os.environ, XDG_CONFIG_HOME=str(home / "config"), XDG_CACHE_HOME=str(home / "cache"), HOME=str(home))
    return playwright_instance.chromium.launch(executable_path=CHROMIUM, headless=True, args=BASE_ARGS + list(extra_args),
                                              env=env)


@pytest.fixture(scope="session")
def browser(playwright_instance, tmp_path_factory):
    b = launch(playwright_instance, tmp_path_factory)
    yield b
    b.close()


@pytest.fixture(autouse=True)
def no_csp_violations(monkeypatch):
    """Every page the browser tests open reports no Content Security Policy violation in its console."""
    from playwright.sync_api import Browser

    violations = []

    def watch(target):
        target.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
        return target

    new_context, new_page = Browser.new_context, Browser.new_page
    monkeypatch.setattr(Browser, "new_context", lambda self, *a, **kw: watch(new_context(self, *a, **kw)))
    monkeypatch.setattr(Browser, "new_page", lambda self, *a, **kw: watch(new_page(self, *a, **kw)))
    yield violations
    assert violations == []


@pytest.fixture(scope="module")
def live(tmp_path_factory, demo_videos):
    # The player's crediting without photo checks; tests/e2e/test_photo_checks.py covers them.
    srv = LiveServer(tmp_path_factory.mktemp("live-e2e"), demo_videos, photo_checks=False, TRACKER_HEARTBEAT_INTERVAL=5,
                     TRACKER_ATTENTION_MEAN=0)
    yield srv
    srv.stop()


def login(page, base, username, password="Demo1234"):
    page.goto(base + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
