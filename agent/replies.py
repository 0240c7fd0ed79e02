"""What both kinds of turn share: feedback on picks, references to earlier picks, and the fixed sentences."""

from __future__ import annotations

from agent.context import Context
from agent.policy import Question, constraints_of
from agent.references import last_picks
from agent.reasons import price_text
from agent.rerank import update_bandit
from agent.state import DialogueState, FeedbackKind, Pick, Session, Turn
from agent.tools import NO_PRICES
from agent.understand import Update
from retrieval.store import UnknownItem


def record_feedback(ctx: Context, session: Session, item_id: str, kind: FeedbackKind) -> None:
    """Record "like" | "reject" | "owned" for an item; raises UnknownItem for an id not in the catalog."""
    if item_id not in ctx.index.position:
        raise UnknownItem(item_id)
    if kind not in ("like", "reject", "owned"):
        raise ValueError(f"feedback kind must be like, reject or owned, not {kind!r}")
    st = session.state
    for name in ("liked", "rejected", "owned"):
        lst = getattr(st, name)
        if item_id in lst:
            lst.remove(item_id)
    {"like": st.liked, "reject": st.rejected, "owned": st.owned}[kind].append(item_id)
    if kind == "like":  # a rejection is about the item, not its category: the category keeps its share
        cat = ctx.index.items[ctx.index.position[item_id]].top_category or "other"
        update_bandit(st.bandit, cat, True)


def apply_reference(ctx: Context, session: Session, update: Update) -> str | None:
    """Feedback or "more like" aimed at a numbered pick of the last answer; returns the "more like" id."""
    if update.ordinal is None:
        return None
    last = last_picks(session)
    if not last or not -len(last) <= update.ordinal < len(last):
        return None
    item_id = last[update.ordinal].item.item_id
    if update.feedback:
        record_feedback(ctx, session, item_id, update.feedback)  # type: ignore[arg-type]
    if "more_like" in update.intents:
        return item_id
    return None


def ask(st: DialogueState, question: Question, prefix: str = "") -> Turn:
    """A turn asking one question, remembered so the answer ("the second one") can be read."""
    st.pending_question, st.pending_options = question.attribute, list(question.options)
    return Turn("assistant", prefix + question.text, question=question.text, act="ask")


def intro(ctx: Context, st: DialogueState, picks: list[Pick], notes: list[str], topic_change: bool) -> str:
    """The sentence above the picks: what they are, honest notes, and how to go on."""
    if not picks:
        return ("I couldn't find anything that fits yet. Could you describe it differently, "
                "or drop a constraint?")
    c = constraints_of(st)
    parts = []
    if c.categories:
        parts.append("in " + " or ".join(c.categories))
    if c.brands:
        parts.append("from " + " or ".join(c.brands))
    if c.max_price is not None and ctx.vocab.has_prices:
        # a critique's bound sits a cent past the price it came from: "cheaper than $38.99", not "below $38.98"
        parts.append(f"cheaper than {price_text(round(c.max_price + 0.01, 2))}" if c.relative_price else
                     "up to " + price_text(c.max_price))
    elif c.min_price is not None and c.relative_price and ctx.vocab.has_prices:
        parts.append(f"pricier than {price_text(round(c.min_price - 0.01, 2))}")
    what = (" " + ", ".join(parts)) if parts else ""
    start = "New search: h" if topic_change else "H"
    text = f"{start}ere {'is' if len(picks) == 1 else 'are'} {len(picks)} pick{'s' if len(picks) > 1 else ''}{what}."
    fresh = [n for n in dict.fromkeys(notes) if not (n == NO_PRICES and n in st.notes)]  # say "no prices" once
    if fresh:
        text += " " + " ".join(fresh)
        st.notes += [n for n in fresh if n not in st.notes]
    if any(p.explore for p in picks):
        text += " One is a wild card to widen the mix."
    return text + " Tell me what you like or don't, or ask for something different."


def redirect(ctx: Context) -> str:
    """The answer to an off-topic message: what convrec can help with instead."""
    cats = sorted({i.top_category for i in ctx.index.items[:2000] if i.top_category})[:4]
    examples = f" (for example {', '.join(cats)})" if cats else ""
    return f"I can only help with shopping in this catalog{examples}. What are you looking for?"
