"""The chat UI as a shopper meets it: `convrec demo` launched as a process, driven in headless Chromium.

    python -m evals.bench_ui [--llm local|none] [--command demo|chat]

Measures, with the local model already converted (its first conversion is not part of any figure):
- ready_seconds: from launching the process until the page accepts messages (the model loaded, one turn warmed);
- first_reply_seconds_after_ready: the first shopper message, from Enter until the reply is on screen (it asks a
  question); first_picks_turn_seconds: the first turn that shows picks, reasons worded by the model;
- p95_turn_seconds_local_llm (nearest rank; and p50): typed messages and card clicks of a few conversations, Enter
  or click until the answer is on screen (every pick's reason is worded by the local model on these turns);
- axe_serious_violations: axe-core violations of impact serious or critical, empty page and with picks, at
  1366x900 and 390x844;
- mobile_first_pick_offset_px: at 390x844, the latest reply's bottom to the first pick card's top.
Needs Debian's /usr/bin/chromium and the test extra (playwright, axe-playwright-python). The last stdout line is one
JSON object.
"""

from __future__ import annotations

import argparse
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from evals.lib.record import emit

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run"]
CONVERSATIONS = [  # what shoppers typed in the browser sessions (typos and mind changes included)
    ["a cordless dril under $150", "weekend DIY", "just show me some", "@like 1", "something cheaper",
     "is the second one lighter than the first?"],
    ["an electric kettle", "around 60 bucks", "just show me", "@reject 1", "actually I'd rather have a coffee grinder"],
    ["a tent for two people", "for weekend camping", "show me", "@owned 2", "how much does the first one weigh?"],
    ["wireles headphones", "noise cancelling, under 200", "just show me", "@like 2", "what about the battery life?",
     "hmm, cheaper ones", "@reject 1"],
]
TIMEOUT_MS = 300_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _done(page) -> None:
    page.wait_for_function("() => { const c = document.querySelector('#chat');"
                           " return c && !c.innerText.includes('One moment') &&"
                           " !document.querySelector('.pick-card[aria-busy=true]'); }", timeout=TIMEOUT_MS)


def _users(page) -> int:
    return page.locator("#chat [data-testid=user]").count()


def _turn(page, step: str) -> float:
    """One shopper step (a message, or "@like N" / "@reject N" / "@owned N" on a card); seconds until answered."""
    before = _users(page)
    started = time.perf_counter()
    if step.startswith("@"):
        kind, n = step[1:].split()
        page.locator(".pick-card").nth(int(n) - 1).locator(f".fb-{kind}").click()
    else:
        page.fill("#msg textarea", step)
        started = time.perf_counter()
        page.press("#msg textarea", "Enter")
    page.wait_for_function("n => document.querySelectorAll('#chat [data-testid=user]').length > n", arg=before,
                           timeout=TIMEOUT_MS)
    _done(page)
    return time.perf_counter() - started


def _axe_serious(page, seen: set[str]) -> int:
    """Elements with a serious or critical axe-core violation; the rules broken are added to `seen`."""
    from axe_playwright_python.sync_playwright import Axe

    bad = [v for v in Axe().run(page).response["violations"] if v.get("impact") in ("serious", "critical")]
    seen.update(v["id"] for v in bad)
    for v in bad:
        targets = [n.get("target") for n in v["nodes"]][:6]
        print(f"axe {v['id']}: {targets} {v['nodes'][0].get('failureSummary', '')[:300]}", file=sys.stderr, flush=True)
    return sum(len(v["nodes"]) for v in bad)


def _mobile_offset(page) -> float:
    page.wait_for_timeout(300)
    return page.evaluate("() => { const bots = document.querySelectorAll('#chat [data-testid=bot]');"
                         " const card = document.querySelector('.pick-card');"
                         " const reply = bots[bots.length - 1].getBoundingClientRect();"
                         " return card.getBoundingClientRect().top - reply.bottom; }")


def run(llm: str, command: str) -> dict:
    """Launch the chat, drive it, and return the figures."""
    from playwright.sync_api import sync_playwright

    port = _free_port()
    tmp = Path(tempfile.mkdtemp(prefix="bench_ui_"))
    env = {**os.environ, "CONVREC_SESSIONS_DB": str(tmp / "sessions.sqlite3"), "CONVREC_LLM_BACKEND": llm}
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "ui.cli", command, "--port", str(port), "--llm", llm],
                              env=env, stdout=subprocess.DEVNULL, stderr=open(tmp / "server.log", "w"))
    url = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            while True:
                try:
                    page.goto(url, timeout=5_000)
                    break
                except Exception:  # the server is not listening yet
                    if server.poll() is not None:
                        raise RuntimeError(f"the chat exited: {(tmp / 'server.log').read_text()[-2000:]}")
                    time.sleep(0.25)
            page.wait_for_selector("#msg textarea:not([disabled])", timeout=TIMEOUT_MS)
            ready = time.perf_counter() - started
            rules: set[str] = set()
            axe = _axe_serious(page, rules)
            times = []
            first = first_picks = None
            for steps in CONVERSATIONS:
                page.click("#new-conversation")
                page.wait_for_selector("#no-picks", timeout=TIMEOUT_MS)
                for step in steps:
                    seconds = _turn(page, step)
                    first = seconds if first is None else first
                    if first_picks is None and page.locator(".pick-card").count():
                        first_picks = seconds
                    times.append(seconds)
                    print(f"{seconds:6.2f}s  {step}", file=sys.stderr, flush=True)
            axe += _axe_serious(page, rules)
            phone = browser.new_page(viewport={"width": 390, "height": 844})
            phone.goto(url)
            phone.wait_for_selector("#msg textarea:not([disabled])", timeout=TIMEOUT_MS)
            axe += _axe_serious(phone, rules)
            for step in ("a cordless drill under $150", "weekend DIY", "just show me some"):
                _turn(phone, step)
            offset = _mobile_offset(phone)
            axe += _axe_serious(phone, rules)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    times.sort()
    return {"ready_seconds": round(ready, 2), "first_reply_seconds_after_ready": round(first, 2),
            "first_picks_turn_seconds": round(first_picks, 2),
            "p95_turn_seconds_local_llm": round(times[math.ceil(0.95 * len(times)) - 1], 2) if llm == "local" else None,
            "p50_turn_seconds": round(statistics.median(times), 2), "turns": len(times),
            "axe_serious_violations": axe, "axe_rules_broken": sorted(rules),
            "mobile_first_pick_offset_px": round(offset, 1), "llm": llm}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--llm", default="local", choices=["local", "none"], help="the chat's language model")
    ap.add_argument("--command", default="demo", choices=["demo", "chat"], help="how the chat is launched")
    args = ap.parse_args(argv)
    result = run(args.llm, args.command)
    result["bars"] = {"axe_serious_violations": 0, "mobile_first_pick_offset_px": 200,
                      "first_reply_seconds_after_ready": 5, "p95_turn_seconds_local_llm": 3}
    emit(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
