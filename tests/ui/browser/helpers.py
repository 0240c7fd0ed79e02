"""Driving the chat UI in Debian's Chromium through Playwright: launch options, shopper actions, measurements.

Screenshots go to test-artifacts/ (CI keeps them).
"""

from __future__ import annotations

from pathlib import Path

from tests.support import ROOT

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-quic", "--disable-sync"]
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
CARD_IDS = "els => els.map(e => e.dataset.itemId)"
LONG = 120_000  # ms: a turn on a busy 2-core machine


def shot(page, name: str) -> None:
    """A full-page screenshot under test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def open_ready(browser, url: str, viewport: dict) -> object:
    """A new page (its own browser context, so its own cookie) once the chat accepts messages."""
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("#msg textarea:not([disabled])", timeout=LONG)
    return page


def user_count(page) -> int:
    return page.locator("#chat [data-testid=user]").count()


def send(page, text: str | None, wait: bool = True) -> None:
    """Type (None: what the box holds) and send a message; wait: until it is answered (no reply in progress)."""
    before = user_count(page)
    if text is not None:
        page.fill("#msg textarea", text)
    page.press("#msg textarea", "Enter")
    page.wait_for_function("n => document.querySelectorAll('#chat [data-testid=user]').length > n", arg=before,
                           timeout=LONG)
    if wait:
        wait_idle(page)


def wait_idle(page) -> None:
    """Until no reply is in progress and the cards are clickable."""
    page.wait_for_function("() => !(document.querySelector('#chat')?.innerText || '').includes('One moment') && "
                           "!document.querySelector('.pick-card[aria-busy=true]')", timeout=LONG)


def shop(page, texts: list[str]) -> list[str]:
    """Send messages until picks show (the agent may ask a question first); returns the cards' item ids."""
    for text in texts:
        send(page, text)
        if page.locator(".pick-card").count():
            return card_ids(page)
    raise AssertionError(f"no picks after {len(texts)} messages: {page.inner_text('#chat')}")


def card_ids(page) -> list[str]:
    return page.eval_on_selector_all(".pick-card", CARD_IDS)


def last_reply(page) -> str:
    return page.locator("#chat [data-testid=bot]").last.inner_text()


def mobile_pick_offset(page) -> float:
    """Pixels from the latest reply's bottom to the first pick card's top."""
    return page.evaluate("() => { const bots = document.querySelectorAll('#chat [data-testid=bot]');"
                         " const card = document.querySelector('.pick-card');"
                         " const reply = bots[bots.length - 1].getBoundingClientRect();"
                         " return card.getBoundingClientRect().top - reply.bottom; }")


def overflow_px(page) -> int:
    """How far the page is wider than the viewport (0: nothing sticks out)."""
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


def axe_serious(page) -> list[dict]:
    """axe-core violations of impact serious or critical on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [{"id": v["id"], "impact": v["impact"], "nodes": [n.get("target") for n in v["nodes"]][:5]}
            for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
