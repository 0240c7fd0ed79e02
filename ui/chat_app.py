"""The chat UI's handlers: warm start, turns in the background, cards and panels, sessions owned by the browser.

Every handler returns a dict {component: value} of only what changes, so an empty send or a click that does
nothing leaves the screen as it is. Sessions belong to the browser's cookie (ui/chat.py sets it): the owner
stored with a session is "chat:" + a hash of the cookie, so neither another browser nor an API key reads it.
"""

from __future__ import annotations

import hashlib
import html
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import gradio as gr
import torch

from agent import Pick, Session, Settings, build_agent
from ui.cards import cards_html, compare_table, display_name
from ui.panels import GREETING, about_markdown, exploration_sentence, interests_html
from ui.service import NotFound, ServiceError, SessionService, open_store
from ui.sessions import SqlSessionStore
from ui.turns import TurnQueue

COOKIE = "convrec_browser"  # the browser's random id; sessions the chat creates belong to its hash
WARM_MESSAGES = ("show me something useful under $100", "just show me some")  # a throwaway turn before ready
TURN_THREADS = 1  # torch threads per turn: the service runs up to cpu_count turns at once, and on a busy 2-core
# machine two intra-op threads wait on each other (5 kettle reasons by the local model: 11-17 s with 2, 1.8 s with 1)
WAIT_S = 300.0  # the longest a handler waits for a turn (the first local-model turn on a slow machine)
THINKING = "One moment…"
CLICK_TEXT = {"like": "More like the {n}, please.", "reject": "The {n} is not for me.",
              "owned": "I already own the {n}."}  # shown until the agent's own wording of the click is stored


@dataclass
class Parts:
    """The components the handlers update."""

    sid: Any
    saved: Any
    chat: Any
    cards: Any
    explore: Any
    compare: Any
    interests: Any
    status: Any
    timer: Any
    box: Any
    send: Any
    about: Any
    selection: Any


def owner_of(request: gr.Request | None) -> str:
    """The session owner for the browser that sent the request: a hash of its cookie, else a one-off owner."""
    raw = getattr(request, "request", None) if request is not None else None
    cookie = raw.cookies.get(COOKIE) if raw is not None else None
    if not cookie:
        return f"chat:anonymous:{uuid.uuid4().hex}"  # reads nothing stored, ever
    return "chat:" + hashlib.sha256(cookie.encode()).hexdigest()[:32]


def last_picks(session: Session) -> list[Pick]:
    """The picks on screen: those of the latest assistant turn that showed any (an answer keeps them), without
    the ones the shopper has since rejected or owns."""
    gone = set(session.state.rejected) | set(session.state.owned)
    for turn in reversed(session.turns):
        if turn.role == "assistant" and turn.picks:
            return [p for p in turn.picks if p.item.item_id not in gone]
    return []


def messages_of(session: Session, pending: list[str] = ()) -> list[dict[str, str]]:
    """The greeting, the session's turns, and messages still being answered (with a placeholder reply)."""
    shown = [{"role": "assistant", "content": GREETING}]
    shown += [{"role": t.role, "content": _plain(t.text)} for t in session.turns]
    for text in pending:
        shown += [{"role": "user", "content": _plain(text)}, {"role": "assistant", "content": THINKING}]
    return shown


def _plain(text: str) -> str:
    """Text shown as typed: markup a shopper (or a catalog title) holds is displayed, never rendered."""
    return html.escape(text, quote=False)


class ChatApp:
    """Handlers over one SessionService; the agent is built (and its model loaded) in the background by start()."""

    def __init__(self, settings: Settings, agent=None, store: SqlSessionStore | None = None):
        self.settings, self._agent = settings, agent
        self.store = store or open_store(settings.sessions_url, settings.sessions_db)  # PostgreSQL when configured
        self.service: SessionService | None = None
        self.turns = TurnQueue(expected=(ServiceError,))
        self.ready = threading.Event()
        self.failed = ""
        self.started = time.perf_counter()
        self.ready_seconds: float | None = None
        self.parts: Parts | None = None

    # ------------------------------------------------------------------ warm start

    def start(self) -> None:
        """Build the agent, load the language model and answer a throwaway turn, in a background thread."""
        threading.Thread(target=self._warm, daemon=True, name="convrec-warm-up").start()

    def _warm(self) -> None:
        try:
            torch.set_num_threads(TURN_THREADS)
            agent = self._agent if self._agent is not None else build_agent(self.settings)
            warm_up = getattr(agent.llm, "warm_up", None)
            if warm_up is not None:
                warm_up()  # converts the GGUF on first use, then loads the weights
            scratch = agent.new_session()
            for text in WARM_MESSAGES:  # first-turn costs (encoder, search, reasons) are paid here, not by a shopper
                agent.reply(scratch, text)
            self.service = SessionService(self.settings, agent, self.store)
            self.ready_seconds = time.perf_counter() - self.started
        except Exception as e:
            self.failed = f"{type(e).__name__}: {e}"
            raise
        finally:
            self.ready.set()

    def status_html(self) -> str:
        if not self.ready.is_set():
            return ('<div class="status getting-ready" role="status">Getting ready: loading the catalog and the '
                    "language model (the very first start also converts the model, 1–2 minutes). You can type once "
                    "this message is gone.</div>")
        if self.failed:
            return f'<div class="status failed" role="alert">convrec could not start: {self.failed}</div>'
        return '<div class="status" role="status"></div>'

    # ------------------------------------------------------------------ views

    def session(self, session_id: str | None, owner: str) -> Session:
        """The browser's session, or a fresh stored one when the id is unknown or another owner's."""
        assert self.service is not None
        if session_id:
            try:
                return self.service.load(session_id, owner)
            except NotFound:
                pass
        return self.service.new_session(owner)

    def view(self, session: Session, selection: list[str] = (), compare: str | None = None,
             poll: bool = False) -> dict:
        """Everything on screen for a session, with its pending turns shown as in progress; poll: tick the timer
        until they are answered (a reloaded page; a page that sent them waits for them itself)."""
        p = self.parts
        pending = self.turns.pending(session.session_id)
        picks = last_picks(session)
        out = {p.sid: session.session_id, p.saved: session.session_id,
               p.chat: messages_of(session, [j.text for j in pending]),
               p.cards: cards_html(picks, session, busy=bool(pending), selected=selection,
                                   priced=self.service.agent.priced),
               p.explore: exploration_sentence(picks),
               p.interests: interests_html(session, self.service.agent.items),
               p.status: self.status_html(), p.selection: list(selection),
               p.timer: gr.Timer(active=poll and bool(pending)),
               p.box: gr.Textbox(interactive=True), p.send: gr.Button(interactive=True)}
        if compare is not None:
            out[p.compare] = compare
        return out

    def nothing(self) -> dict:
        """No change on screen (Gradio wants at least one output named)."""
        return {self.parts.sid: gr.skip()}

    def waiting_view(self) -> dict:
        p = self.parts
        return {p.status: self.status_html(), p.timer: gr.Timer(active=True),
                p.box: gr.Textbox(interactive=False), p.send: gr.Button(interactive=False)}

    def about(self) -> str:
        return about_markdown(self.service.agent.describe()) if self.service is not None else ""

    # ------------------------------------------------------------------ handlers

    def restore(self, saved_id: str | None, request: gr.Request) -> dict:
        """Page load: continue the browser's stored session (with any turn still being answered), or start one."""
        if not self.ready.is_set() or self.service is None:
            return self.waiting_view()
        out = self.view(self.session(saved_id, owner_of(request)), compare="", poll=True)
        out[self.parts.about] = self.about()
        return out

    def poll(self, session_id: str | None, saved_id: str | None, selection: list[str] | None,
             request: gr.Request) -> dict:
        """Timer tick while getting ready or while a turn runs: the ready page, or the answered turn."""
        if not self.ready.is_set() or self.service is None:
            return self.nothing() if not self.failed else {self.parts.status: self.status_html()}
        if not session_id:
            return self.restore(saved_id, request)
        session = self.session(session_id, owner_of(request))
        if self.turns.pending(session.session_id):
            return self.nothing()
        return self.view(session, selection or [])  # answered: the timer stops

    def submit(self, text: str, session_id: str | None, request: gr.Request) -> dict:
        """A typed message: shown at once and answered in the background; an empty one changes nothing."""
        if not (text or "").strip() or self.service is None or not session_id:
            return self.nothing()
        owner = owner_of(request)
        session = self.session(session_id, owner)
        sid = session.session_id
        if len(text) > self.settings.max_message_chars:
            gr.Warning(f"That message has {len(text)} characters; please keep it under "
                       f"{self.settings.max_message_chars}.")
            return self.nothing()
        job = self.turns.submit(sid, text.strip(), lambda: self._reply(sid, text, owner))
        out = self.view(session)
        if job is not None and job.done.is_set():  # answered while this view was drawn (a loaded box): show the
            out = self.view(self.session(sid, owner))  # answer, not the conversation as it was before the message
        out[self.parts.box] = gr.Textbox(value="", interactive=True)
        return out

    def card_action(self, session_id: str | None, selection: list[str] | None, evt: gr.EventData,
                    request: gr.Request) -> dict:
        """A button on a card: feedback (a turn of its own), "Ask about this", or "Compare"."""
        action, item_id = getattr(evt, "action", ""), getattr(evt, "item", "")
        if self.service is None or not session_id or not item_id:
            return self.nothing()
        owner = owner_of(request)
        session = self.session(session_id, owner)
        sid = session.session_id
        on_screen = {p.item.item_id: p.item for p in last_picks(session)}
        item = on_screen.get(item_id)
        if item is None:
            return self.nothing()
        if action in CLICK_TEXT:
            text = CLICK_TEXT[action].format(n=display_name(item))
            self.turns.submit(sid, text, lambda: self._react(sid, item_id, action, owner), key=f"{action}:{item_id}")
            return self.view(session, selection or [])
        if action == "ask":
            return {self.parts.box: gr.Textbox(value=f"About the {display_name(item)}: ", interactive=True)}
        if action == "compare":
            return self._compare(session, list(selection or []), item_id, owner)
        return self.nothing()

    def _compare(self, session: Session, selection: list[str], item_id: str, owner: str) -> dict:
        by_id = {p.item.item_id: p.item for p in last_picks(session)}
        selection = [i for i in selection if i in by_id]  # cards chosen earlier may have left the screen
        if item_id in selection:
            selection.remove(item_id)
            return self.view(session, selection)
        selection.append(item_id)
        if len(selection) < 2:
            out = self.view(session, selection)
            out[self.parts.explore] = "Comparing: pick another card's Compare to see them side by side."
            return out
        items = [by_id[i] for i in selection]
        names = " and the ".join(display_name(i) for i in items)
        sid = session.session_id
        text = f"Compare the {names}."
        self.turns.submit(sid, text, lambda: self._reply(sid, text, owner))
        return self.view(session, [], compare=compare_table(items, session))

    def wait(self, session_id: str | None, selection: list[str] | None, request: gr.Request) -> dict:
        """After a submit: wait for the session's turns and show the answer (cards chosen to compare stay so)."""
        if self.service is None or not session_id:
            return self.nothing()
        for error in self.turns.wait(session_id, WAIT_S):
            gr.Warning(error)
        session = self.session(session_id, owner_of(request))
        out = self.view(session, selection or [])
        latest = next((t for t in reversed(session.turns) if t.role == "assistant"), None)
        if latest is not None and latest.picks:
            out[self.parts.compare] = ""  # new picks: a comparison of the old ones would mislead
        return out

    def new_conversation(self, request: gr.Request) -> dict:
        """Start over with an empty session."""
        if self.service is None:
            return self.nothing()
        out = self.view(self.service.new_session(owner_of(request)), compare="")
        out[self.parts.box] = gr.Textbox(value="", interactive=True)
        return out

    # ------------------------------------------------------------------ background work

    def _reply(self, session_id: str, text: str, owner: str) -> None:
        with self.service.locked(session_id):
            self.service.reply(self.service.load(session_id, owner), text, owner)

    def _react(self, session_id: str, item_id: str, kind: str, owner: str) -> None:
        with self.service.locked(session_id):
            self.service.react(self.service.load(session_id, owner), item_id, kind, owner)
