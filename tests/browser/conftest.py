"""Fixtures of the browser tests: one local stack and one Chromium for the session, a fresh
browser context and a fresh shop (tenant) per test, so tests never see each other's data.

Run: scripts/browser-tests.sh (builds the stack), or with a built binary:
    LOCAL_STACK_BIN=target/debug/local-stack .venv/bin/pytest tests/browser
CONSOLE_DIR=console/web serves the console from disk (edit, re-run, no rebuild).
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402

# Playwright's default of 5 s is tight on a loaded 2-core machine; the 5-second promise of new
# messages is checked with its own explicit timeout.
expect.set_options(timeout=10_000)


@pytest.fixture(scope="session")
def stack():
    s = harness.start_stack()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as p:
        b = harness.launch_chromium(p)
        yield b
        b.close()


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, locale="vi-VN")
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context, request):
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    # A screen that throws is broken even when the labels happen to show up.
    if not request.node.get_closest_marker("allow_page_errors"):
        assert not errors, f"uncaught errors in the console: {errors}"


def new_shop(stack) -> "Shop":
    """A fresh shop with its owner, founded by the owner's first authenticated call."""
    tenant = harness.new_tenant()
    email = f"owner@{tenant}.example"
    token = stack.token(email, tenant, "owner")
    stack.api("GET", "/api/members", token)
    return Shop(stack, tenant, email, token)


@pytest.fixture
def shop(stack):
    """A fresh shop (tenant) with its owner, on the session's stack."""
    return new_shop(stack)


class Shop:
    def __init__(self, stack, tenant, owner, token):
        self.stack, self.tenant, self.owner, self.token = stack, tenant, owner, token

    def agent(self, name: str) -> str:
        """Adds an agent to the shop; returns their email."""
        email = f"{name}@{self.tenant}.example"
        self.stack.add_member(self.token, email, "agent")
        return email

    def token_of(self, email: str, role: str = "agent") -> str:
        return self.stack.token(email, self.tenant, role)

    def sign_in_owner(self, page):
        harness.sign_in(page, self.stack, self.owner, self.tenant, "owner")


@pytest.fixture
def sim_stack():
    """A stack of its own with the Meta simulator: the simulator's demo Pages have fixed ids,
    and a Page is held by one shop at a time, so each simulator test gets a fresh world."""
    s = harness.start_stack()
    try:
        if not s.has_simulator():
            pytest.fail("the Meta simulator (/_sim) is off: FB_APP_ID, FB_GRAPH_URL or FB_DIALOG_URL set, "
                        "or a local-stack binary without it")
        yield s
    finally:
        s.stop()


@pytest.fixture
def sim_shop(sim_stack):
    """A fresh shop on the simulator's stack."""
    return new_shop(sim_stack)


def pytest_configure(config):
    config.addinivalue_line("markers", "allow_page_errors: the test provokes errors on purpose")
