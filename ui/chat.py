"""Gradio chat UI (`convrec chat`, `convrec demo`): streaming replies, pick cards with feedback, an interests panel.

One session per browser tab: its id sits in gr.State and in the browser's localStorage, the session itself
in the SQLite store (through ui/service.py, owned by CHAT_OWNER), so a page reload (or a server restart)
continues the conversation; an id the chat did not create (an API key's session) starts a fresh one instead.
Fully offline: analytics off, local fonts, no CDN.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: no telemetry calls
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import html
from typing import Any, Iterator

import gradio as gr

from agent import Pick, Session, Settings, Turn, build_agent
from ui.service import HeldLock, NotFound, ServiceError, SessionService
from ui.sessions import SessionStore

CHAT_OWNER = "chat"  # owner of the sessions the chat creates; it restores no one else's (API keys' sessions)

FEEDBACK_LABEL = {"like": "Like", "reject": "Not for me", "owned": "Already own"}  # plain text: no emoji font needed

CSS = """
.pick-card {border:1px solid var(--border-color-primary);border-radius:10px;padding:10px 12px;margin:0}
.pick-card h4 {margin:0 0 4px 0;font-size:1rem}
.pick-meta {color:var(--body-text-color-subdued);font-size:.85rem}
.pick-price {font-weight:600}
.pick-reason {margin-top:6px;font-size:.9rem}
.pick-badge {display:inline-block;font-size:.72rem;padding:1px 6px;border-radius:8px;background:#fde68a;color:#713f12}
.bar-row {display:flex;align-items:center;gap:6px;font-size:.85rem;margin:2px 0}
.bar-label {width:38%;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.bar {height:12px;background:#6366f1;border-radius:3px}
.split {display:flex;height:14px;border-radius:4px;overflow:hidden;margin:4px 0}
.split .exploit {background:#6366f1} .split .explore {background:#f59e0b}
"""


def pick_card(pick: Pick, number: int) -> str:
    """A pick as an HTML card; every catalog string is escaped (descriptions may carry HTML or injection)."""
    item = pick.item
    price = f"${item.price:,.2f}" if item.price is not None else "price n/a"
    badge = '<span class="pick-badge">exploring</span> ' if pick.explore else ""
    esc = html.escape
    return (f'<div class="pick-card" data-item-id="{esc(item.item_id, quote=True)}">'
            f"<h4>{number}. {esc(item.title)}</h4>"
            f'<div class="pick-meta">{badge}<span class="pick-price">{esc(price)}</span> · '
            f"{esc(item.category or 'uncategorised')}{' · ' + esc(item.brand) if item.brand else ''}</div>"
            f'<div class="pick-reason">{esc(pick.reason)}</div></div>')


def interests_html(profile: dict[str, float], top: int = 8) -> str:
    """The inferred interest profile as horizontal bars (plain HTML: no chart library, nothing to fetch)."""
    if not profile:
        return "<p class='pick-meta'>No interests inferred yet: tell me what you are looking for.</p>"
    rows = sorted(profile.items(), key=lambda kv: -kv[1])[:top]
    peak = max(w for _, w in rows) or 1.0
    return "".join(f'<div class="bar-row"><span class="bar-label" title="{html.escape(c, quote=True)}">'
                   f'{html.escape(c or "other")}</span><span class="bar" style="width:{55 * w / peak:.1f}%"></span>'
                   f"<span>{100 * w:.0f}%</span></div>" for c, w in rows)


def split_html(picks: list[Pick]) -> str:
    """The explore/exploit split of the current picks as a stacked bar with counts."""
    if not picks:
        return "<p class='pick-meta'>No picks yet.</p>"
    explore = sum(p.explore for p in picks)
    exploit = len(picks) - explore
    return (f'<div class="split"><div class="exploit" style="flex:{exploit}"></div>'
            f'<div class="explore" style="flex:{explore}"></div></div>'
            f'<div class="pick-meta">{exploit} from known interests · {explore} exploring</div>')


def messages_of(session: Session) -> list[dict[str, str]]:
    """The session's turns as Gradio chat messages."""
    return [{"role": t.role, "content": t.text} for t in session.turns]


def last_picks(session: Session) -> list[Pick]:
    """The picks on screen: those of the latest assistant turn that showed any (an answer keeps them), without
    the ones the shopper has since rejected or owns."""
    gone = set(session.state.rejected) | set(session.state.owned)
    for turn in reversed(session.turns):
        if turn.role == "assistant" and turn.picks:
            return [p for p in turn.picks if p.item.item_id not in gone]
    return []


class ChatApp:
    """The Gradio event handlers over the session service (agent, store, locks)."""

    def __init__(self, settings: Settings, agent=None, store: SessionStore | None = None):
        if agent is None:
            agent = build_agent(settings)
        self.settings, self.agent = settings, agent
        self.service = SessionService(settings, agent, store or SessionStore(settings.sessions_db))

    def header(self) -> str:
        """Catalog, mode and language model, from agent.describe()."""
        d = self.agent.describe()
        return (f"### convrec: shopping assistant\nCatalog **{html.escape(str(d.get('catalog')))}** "
                f"({d.get('items', 0):,} items) · mode **{d.get('mode')}** · language model **{d.get('llm')}**")

    def session(self, session_id: str | None) -> Session:
        """The tab's session, or a fresh stored one when the id is unknown or not the chat's."""
        if session_id:
            try:
                return self.service.load(session_id, CHAT_OWNER)
            except NotFound:
                pass
        return self.service.new_session(CHAT_OWNER)

    def view(self, session: Session) -> tuple:
        """Every output the UI shows for a session."""
        picks = last_picks(session)
        return (session.session_id, session.session_id, messages_of(session), [p for p in picks],
                interests_html(self.agent.interest_profile(session)), split_html(picks))

    def restore(self, stored_id: str | None) -> tuple:
        """Page load: continue the tab's stored session or start one."""
        return self.view(self.session(stored_id))

    def new_conversation(self) -> tuple:
        """Start over with an empty session."""
        return self.view(self.service.new_session(CHAT_OWNER)) + ("",)

    def send(self, text: str, session_id: str | None) -> Iterator[tuple]:
        """Stream the reply to a typed message, then show the picks."""
        if not (text or "").strip():
            gr.Warning("Type what you are looking for first.")
            return
        yield from self._turn(session_id, text, clear_box=True)

    def feedback(self, session_id: str | None, item_id: str, kind: str) -> Iterator[tuple]:
        """Record like / reject / owned, then ask for fresh picks so the change is visible."""
        lock = self._locked(session_id)
        if lock is None:
            return
        with lock:
            session = self.session(session_id)
            try:
                self.service.react(session, item_id, kind, CHAT_OWNER)
            except NotFound as e:
                gr.Warning(f"{e.message}: the catalog changed; start a new conversation.")
                return
            except ServiceError as e:
                gr.Warning(str(e))
                return
        yield self.view(session) + (gr.update(),)

    def feedback_handler(self, item_id: str, kind: str):
        """A generator handler for one pick's button (Gradio streams only from generator functions)."""
        def handler(session_id: str | None) -> Iterator[tuple]:
            yield from self.feedback(session_id, item_id, kind)
        return handler

    def _locked(self, session_id: str | None) -> HeldLock | None:
        """The tab's session lock, or None (with a warning shown) when another turn keeps it busy."""
        try:
            return self.service.locked(session_id or "")
        except ServiceError as e:
            gr.Warning(str(e))
            return None

    def _turn(self, session_id: str | None, text: str, clear_box: bool) -> Iterator[tuple]:
        lock = self._locked(session_id)
        if lock is None:
            return
        with lock:
            session = self.session(session_id)
            shown = messages_of(session) + [{"role": "user", "content": text}, {"role": "assistant", "content": ""}]
            box = "" if clear_box else gr.update()
            try:
                for part in self.service.reply_stream(session, text, CHAT_OWNER):  # stored before the Turn comes
                    if not isinstance(part, Turn):
                        shown[-1]["content"] += part
                        yield (gr.update(), gr.update(), shown, gr.update(), gr.update(), gr.update(), box)
            except ServiceError as e:
                gr.Warning(str(e))
                return
        yield self.view(session) + (box,)


def build_ui(settings: Settings, agent=None, store: SessionStore | None = None) -> gr.Blocks:
    """The Gradio app (not launched); agent None: agent.build_agent(settings)."""
    app = ChatApp(settings, agent, store)
    with gr.Blocks(title="convrec", analytics_enabled=False) as demo:
        sid = gr.State(None)
        saved = gr.BrowserState(None, storage_key="convrec_session_id", secret="convrec-session-id")
        picks = gr.State([])
        gr.Markdown(app.header(), elem_id="convrec-header")
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(height=420, label="Conversation", elem_id="chat", feedback_options=None,
                                     buttons=[])
                with gr.Row():
                    box = gr.Textbox(placeholder="e.g. a quiet cordless drill under $100", show_label=False,
                                     scale=5, elem_id="msg", max_length=settings.max_message_chars)
                    send = gr.Button("Send", variant="primary", scale=1, elem_id="send")
                new = gr.Button("New conversation", size="sm", elem_id="new-conversation")
            with gr.Column(scale=2):
                gr.Markdown("#### Your interests")
                interests = gr.HTML(interests_html({}), elem_id="interests")
                gr.Markdown("#### Current picks: explore / exploit")
                split = gr.HTML(split_html([]), elem_id="split")

        gr.Markdown("#### Picks")

        outputs = [sid, saved, chatbot, picks, interests, split]

        @gr.render(inputs=[picks, sid])
        def _cards(current: list[Pick], session_id: str | None) -> None:
            if not current:
                gr.Markdown("Picks appear here once I know a little about what you want.", elem_id="no-picks")
                return
            with gr.Row(equal_height=True):
                for n, pick in enumerate(current, 1):
                    with gr.Column(min_width=200, elem_classes=["pick-column"]):
                        gr.HTML(pick_card(pick, n))
                        for kind, label in FEEDBACK_LABEL.items():
                            btn = gr.Button(label, size="sm", elem_classes=[f"fb-{kind}"])
                            btn.click(app.feedback_handler(pick.item.item_id, kind),
                                      inputs=[sid], outputs=outputs + [box])

        send.click(app.send, inputs=[box, sid], outputs=outputs + [box])
        box.submit(app.send, inputs=[box, sid], outputs=outputs + [box])
        new.click(app.new_conversation, outputs=outputs + [box])
        chatbot.clear(app.new_conversation, outputs=outputs + [box])  # the chat's bin icon also starts over
        demo.load(app.restore, inputs=[saved], outputs=outputs)
    demo.queue(default_concurrency_limit=max(2, os.cpu_count() or 2))
    return demo


def launch_kwargs(settings: Settings) -> dict[str, Any]:
    """Launch options that keep the page offline and local."""
    return dict(server_name=settings.host, server_port=settings.port, css=CSS, ssr_mode=False, pwa=False,
                footer_links=[], show_error=True, mcp_server=False,
                theme=gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"]))


def launch(settings: Settings) -> int:
    """Open the chat UI and serve until interrupted (`convrec chat`, `convrec demo`)."""
    demo = build_ui(settings)
    print(f"convrec chat on http://{settings.host}:{settings.port}", flush=True)
    demo.launch(**launch_kwargs(settings))
    return 0
