"""Gradio chat UI (`convrec chat`, `convrec demo`): a conversation, pick cards beside it (under it on a phone),
what convrec knows about you, and the details behind an "About" toggle.

The page opens at once and says it is getting ready while the agent and its language model load (ui/chat_app.py);
typing is possible from then on. Sessions belong to the browser: a random HttpOnly cookie set here names its
owner. Fully offline: analytics off, system fonts, no CDN.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: no telemetry calls
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import secrets
from pathlib import Path
from typing import Any

import gradio as gr
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent import Settings
from ui.cards import cards_html
from ui.chat_app import COOKIE, ChatApp, Parts
from ui.panels import interests_html
from ui.service import is_loopback
from ui.sessions import SessionStore

CSS = (Path(__file__).parent / "static" / "chat.css").read_text(encoding="utf-8")
COOKIE_MAX_AGE_S = 180 * 24 * 3600  # the browser keeps its conversations this long

# One delegated listener on the cards' container: a click becomes one Gradio event {action, item}. Feedback
# buttons are disabled at once, so a double click is one turn; the next render enables them again.
CARDS_JS = """
element.addEventListener('click', (ev) => {
  const b = ev.target.closest('button[data-action]');
  if (!b || b.disabled) return;
  const action = b.dataset.action;
  if (['like', 'reject', 'owned'].includes(action)) {
    element.querySelectorAll('.fb-like, .fb-reject, .fb-owned').forEach(x => { x.disabled = true; });
    const card = b.closest('.pick-card'); if (card) card.setAttribute('aria-busy', 'true');
  }
  trigger('click', {action: action, item: b.dataset.item});
  if (action === 'ask') {
    setTimeout(() => { const t = document.querySelector('#msg textarea'); if (t) { t.focus();
      t.setSelectionRange(t.value.length, t.value.length); } }, 400);
  }
});
"""

# The transcript's scrolling box must be reachable by keyboard (axe: scrollable-region-focusable) and read as a log.
HEAD = """<script>
(() => {
  const fix = () => document.querySelectorAll('#chat .bubble-wrap:not([tabindex])').forEach(el => {
    el.tabIndex = 0; el.setAttribute('role', 'log'); el.setAttribute('aria-label', 'Conversation'); });
  new MutationObserver(fix).observe(document.documentElement, {childList: true, subtree: true});
})();
</script>"""


class BrowserCookie:
    """ASGI middleware: gives every browser a random HttpOnly cookie naming the owner of its chat sessions."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _has_cookie(scope):
            await self.app(scope, receive, send)
            return
        value = secrets.token_urlsafe(32)

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie = (f"{COOKIE}={value}; Path=/; Max-Age={COOKIE_MAX_AGE_S}; HttpOnly; SameSite=Lax")
                message.setdefault("headers", []).append((b"set-cookie", cookie.encode()))
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _has_cookie(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"cookie" and f"{COOKIE}=".encode() in value:
            return True
    return False


def build_ui(settings: Settings, agent=None, store: SessionStore | None = None,
             app: ChatApp | None = None) -> gr.Blocks:
    """The Gradio app (not launched); agent None: agent.build_agent(settings) in the background."""
    app = app or ChatApp(settings, agent, store)
    with gr.Blocks(title="convrec: shopping assistant", analytics_enabled=False) as demo:
        sid = gr.State(None)
        selection = gr.State([])
        saved = gr.BrowserState(None, storage_key="convrec_session_id", secret="convrec-session-id")
        timer = gr.Timer(1.0, active=False)
        with gr.Row(elem_id="top-bar"):
            gr.HTML('<header><h1>convrec</h1><p class="tagline">your shopping assistant</p></header>',
                    elem_id="convrec-header", padding=False)
            new = gr.Button("New conversation", size="sm", elem_id="new-conversation", scale=0, min_width=150)
        status = gr.HTML(app.status_html(), elem_id="status", padding=False)
        with gr.Row(elem_id="main-row", equal_height=False):
            with gr.Column(scale=5, min_width=340, elem_id="chat-col"):
                chat = gr.Chatbot(label="Conversation", elem_id="chat", height=520, min_height=160,
                                  feedback_options=None, buttons=[], autoscroll=True, layout="bubble")
                with gr.Row(elem_id="input-row", equal_height=True):
                    box = gr.Textbox(placeholder="What are you looking for?", label="Your message",
                                     show_label=False, scale=5, elem_id="msg", interactive=False,
                                     max_length=settings.max_message_chars, lines=1, max_lines=4, submit_btn=False)
                    send = gr.Button("Send", variant="primary", scale=1, min_width=80, elem_id="send",
                                     interactive=False)
            with gr.Column(scale=7, min_width=340, elem_id="picks-col"):
                gr.HTML('<h2 class="section-title" id="picks-heading">Picks for you</h2>', padding=False)
                explore = gr.HTML("", elem_id="explore", padding=False)
                cards = gr.HTML(cards_html([]), elem_id="picks", js_on_load=CARDS_JS, padding=False)
                compare = gr.HTML("", elem_id="compare", padding=False)
                with gr.Accordion("What I know about you", open=True, elem_id="interests-box"):
                    interests = gr.HTML(interests_html(None), elem_id="interests", padding=False)
                with gr.Accordion("About convrec", open=False, elem_id="about-box"):
                    about = gr.Markdown("", elem_id="about")
        app.parts = Parts(sid=sid, saved=saved, chat=chat, cards=cards, explore=explore, compare=compare,
                          interests=interests, status=status, timer=timer, box=box, send=send, about=about,
                          selection=selection)
        everything = [sid, saved, chat, cards, explore, compare, interests, status, timer, box, send, about,
                      selection]

        for trigger in (send.click, box.submit):
            trigger(app.submit, inputs=[box, sid], outputs=everything, queue=False, show_progress="hidden") \
                .then(app.wait, inputs=[sid, selection], outputs=everything, show_progress="hidden")
        cards.click(app.card_action, inputs=[sid, selection], outputs=everything, show_progress="hidden",
                    trigger_mode="multiple") \
            .then(app.wait, inputs=[sid, selection], outputs=everything, show_progress="hidden")
        new.click(app.new_conversation, outputs=everything, show_progress="hidden")
        chat.clear(app.new_conversation, outputs=everything, show_progress="hidden")  # the bin icon starts over too
        timer.tick(app.poll, inputs=[sid, saved, selection], outputs=everything, show_progress="hidden")
        demo.load(app.restore, inputs=[saved], outputs=everything, show_progress="hidden")
    demo.queue(default_concurrency_limit=16)  # handlers mostly wait; the service bounds the CPU-bound turns
    app.start()
    return demo


def launch_kwargs(settings: Settings) -> dict[str, Any]:
    """Launch options that keep the page offline and local, and give each browser its owner cookie."""
    return dict(server_name=settings.host, server_port=settings.port, css=CSS, head=HEAD, ssr_mode=False, pwa=False,
                footer_links=[], show_error=True, mcp_server=False,
                app_kwargs={"middleware": [Middleware(BrowserCookie)]},
                theme=gr.themes.Default(primary_hue="indigo", font=["system-ui", "sans-serif"],
                                        font_mono=["ui-monospace", "monospace"]))


def launch(settings: Settings) -> int:
    """Open the chat UI and serve until interrupted (`convrec chat`, `convrec demo`).

    Off loopback it needs the same opt-in as `convrec serve`, API keys (CONVREC_API_KEYS): the chat then asks
    for one of them at login."""
    kwargs = launch_kwargs(settings)
    if not is_loopback(settings.host):
        if not settings.api_keys:
            raise ValueError(f"refusing to serve the chat on {settings.host} without API keys: set "
                             "CONVREC_API_KEYS=key1,key2 (the chat then asks for one at login) or bind to 127.0.0.1 "
                             "(--host 127.0.0.1)")
        keys = set(settings.api_keys)
        kwargs["auth"] = lambda _user, password: password in keys
        kwargs["auth_message"] = "Sign in with one of this shop's API keys as the password (any user name)."
    demo = build_ui(settings)
    print(f"convrec chat on http://{settings.host}:{settings.port} (getting ready in the background)", flush=True)
    demo.launch(**kwargs)
    return 0
