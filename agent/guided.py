"""Guided mode: an explicit dialogue policy drives the tools; a language model, if any, only words things.

One turn: read the message (agent/understand.py) -> update the state (agent/policy.py) -> decide: answer a
social or off-topic message, ask the most informative question, or recommend (agent/tools.py) -> reasons
(agent/reasons.py, worded by agent/wording.py) -> reply.
"""

from __future__ import annotations

import re

from agent.context import Context
from agent.policy import apply_update, should_ask
from agent.prompts import REFUSAL
from agent.replies import apply_reference, ask, intro, redirect
from agent.state import Session, Turn
from agent.understand import parse_message
from agent.wording import model_preferences, reword

_YES = re.compile(r"^\s*(yes|yeah|yep|sure|ok(ay)?|please|go ahead|fine|do it|why not)\b", re.I)


def guided_turn(ctx: Context, session: Session, text: str) -> Turn:
    """Answer one message with the dialogue policy; the caller appends the user turn and records the picks."""
    st = session.state
    update = parse_message(text, ctx.vocab, st.pending_options, st.pending_question)
    if not update.intents & {"off_topic", "injection", "greeting"}:
        update.preferences = model_preferences(ctx, text, update)
    pending = st.pending_question
    if pending and not pending.startswith("relax:") and pending not in st.asked:
        st.asked.append(pending)
    st.pending_question, st.pending_options = "", []
    prefix = REFUSAL + " " if "injection" in update.intents else ""
    if "off_topic" in update.intents and not update.preferences:
        return Turn("assistant", prefix + redirect(ctx))
    if update.intents & {"thanks"} and not (update.preferences or update.query):
        return Turn("assistant", "You're welcome! Tell me if you'd like to see anything else.")
    if pending.startswith("relax:") and (_YES.search(text) or update.intents & {"show_now"}):
        kind = pending[6:]  # the shopper agreed to drop the constraint that left nothing
        gone = ("max_price", "min_price") if kind == "price" else (kind,)
        st.preferences = [p for p in st.preferences if not (p.attribute in gone and p.wanted)]
        update.intents.add("show_now")
    like = apply_reference(ctx, session, update)
    topic_change = apply_update(st, update, ctx.vocab)
    box = ctx.toolbox(session)
    if "injection" in update.intents and not (update.preferences or update.query) and not st.query:
        question = box.ask()
        return ask(st, question, prefix) if question else Turn("assistant", prefix + redirect(ctx))
    if not update.intents & {"show_now", "different", "see_again", "more_like"} and not update.feedback:
        candidates = box.ranked(60)
        question = box.ask(candidates)
        if should_ask(st, update, question, ctx.settings):
            hello = "Hi! " if "greeting" in update.intents else ""
            return ask(st, question, prefix + hello)
    picks = box.recommend(include_shown="see_again" in update.intents, like=like,
                          different="different" in update.intents)
    picks = reword(ctx, picks, st)
    if not picks and box.blocked:
        kind, message = box.blocked
        if kind:
            st.pending_question, st.pending_options = f"relax:{kind}", ["yes"]
        return Turn("assistant", prefix + message, question=message if kind else None)
    return Turn("assistant", prefix + intro(ctx, st, picks, box.notes, topic_change), picks)
