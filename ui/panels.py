"""The chat UI's side panels in a shopper's words: the greeting, what convrec knows about you, the wild cards,
and the "about" details. Built from the session itself (what the shopper said, liked, rejected and owns),
never from what was merely shown.
"""

from __future__ import annotations

import html
import re
from typing import Any, Callable, Sequence

from agent import Pick, Session
from ui.cards import display_name

# weights of the interest chart: one sentence under it says them
WEIGHT_ASKED, WEIGHT_LIKED, WEIGHT_OWNED, WEIGHT_REJECTED = 3.0, 2.0, 1.0, -1.0
WEIGHTS_SENTENCE = ("Each department you asked for counts 3, each Like 2, each item you own 1, and each "
                    "“Not for me” takes 1 away; the bars are those points as shares.")

GREETING = ("Hi, I'm convrec, a shopping assistant for this store. Tell me what you're looking for, in your own "
            "words (for example “a cordless drill under $150” or “a gift for a coffee lover”), and I'll "
            "suggest a few products, each with why it fits. Ask me about any pick (“is the second one "
            "dishwasher safe?”), compare picks, or tell me what you like or don't, and I'll adjust.")


def known_items(session: Session) -> dict[str, Any]:
    """Every item shown in the session, by id (picks are the only items a shopper can react to)."""
    return {p.item.item_id: p.item for t in session.turns for p in t.picks}


def department_of(value: str, items: Sequence[Any]) -> str:
    """The top-level department a stated category belongs to, read off the items shown; else the name itself."""
    low = value.lower()
    for item in items:
        levels = [lvl.strip().lower() for lvl in (item.category or "").split(">")]
        if low in levels:
            return item.top_category or value
    return value


def interest_weights(session: Session) -> dict[str, float]:
    """Department -> share of the shopper's own signals (asked, liked, owned, minus rejected); empty without any."""
    items = known_items(session)
    points: dict[str, float] = {}

    def add(dept: str, w: float) -> None:
        points[dept] = points.get(dept, 0.0) + w

    for pref in session.state.preferences:
        if pref.attribute == "category" and pref.wanted:
            add(department_of(pref.value, list(items.values())), WEIGHT_ASKED)
    st = session.state
    for ids, w in ((st.liked, WEIGHT_LIKED), (list(st.owned) + list(st.history), WEIGHT_OWNED),
                   (st.rejected, WEIGHT_REJECTED)):
        for item_id in ids:
            if item_id in items:
                add(items[item_id].top_category or "Other", w)
    positive = {k: v for k, v in points.items() if v > 0}
    total = sum(positive.values())
    return {k: v / total for k, v in sorted(positive.items(), key=lambda kv: -kv[1])} if total else {}


def need_phrase(attribute: str, value: str, wanted: bool) -> str:
    """One stated need in words: "up to $150", "under $239.98", "cordless", "not Acme"."""
    lead = {"max_price": "up to", "min_price": "from", "below_price": "under", "above_price": "over"}.get(attribute)
    if lead:
        text = f"{lead} ${float(value):,.2f}".replace(".00", "") if _number(value) else f"{lead} {value}"
    elif attribute == "price_band":
        text = f"{value} prices"
    else:
        text = value
    return text if wanted else f"not {text}"


def _number(value: str) -> bool:
    try:
        float(value)
        return True
    except ValueError:
        return False


def interests_html(session: Session | None, lookup: Callable[[list[str]], list[Any]] | None = None) -> str:
    """What convrec knows about the shopper: the needs said, likes, rejections, owned items, and the chart.
    `lookup` finds catalog records of items never shown (a movie liked by typing its title)."""
    if session is None:
        return '<p class="panel-note">Nothing yet: tell me what you are looking for.</p>'
    esc = html.escape
    items = known_items(session)
    st = session.state
    unseen = [i for i in [*st.liked, *st.rejected, *st.owned, *st.history] if i not in items]
    if unseen and lookup is not None:
        items.update({it.item_id: it for it in lookup(unseen)})
    said = [need_phrase(p.attribute, p.value, p.wanted) for p in st.preferences]
    lines = [("You asked for", said), ("You liked", _distinct([display_name(items[i]) for i in st.liked if i in items])),
             ("Not for you", _distinct([display_name(items[i]) for i in st.rejected if i in items])),
             ("You own", _distinct([display_name(items[i]) for i in list(st.owned) + list(st.history) if i in items]))]
    facts = "".join(f"<li><strong>{esc(label)}:</strong> {esc(', '.join(values))}</li>"
                    for label, values in lines if values)
    weights = interest_weights(session)
    if not facts and not weights:
        return '<p class="panel-note">Nothing yet: tell me what you are looking for.</p>'
    bars = "".join(f'<div class="bar-row"><span class="bar-label">{esc(dept)}</span>'
                   f'<span class="bar-track"><span class="bar" style="width:{100 * w:.0f}%"></span></span>'
                   f'<span class="bar-value">{100 * w:.0f}%</span></div>' for dept, w in weights.items())
    chart = (f'<div class="bars" role="img" aria-label="{esc(_chart_label(weights), quote=True)}">{bars}</div>'
             f'<p class="panel-note">{esc(WEIGHTS_SENTENCE)}</p>' if weights else "")
    return f'<ul class="facts">{facts}</ul>{chart}'


_YEAR = re.compile(r"\s*\((\d{4})\)$")


def _distinct(names: list[str]) -> list[str]:
    """Names once each; a film the catalog holds with and without its year ("Moana", "Moana (2016)") once, dated."""
    dated = {_YEAR.sub("", n) for n in names if _YEAR.search(n)}
    return list(dict.fromkeys(n for n in names if _YEAR.search(n) or n not in dated))


def _chart_label(weights: dict[str, float]) -> str:
    return "Your interests: " + ", ".join(f"{dept} {100 * w:.0f}%" for dept, w in weights.items())


def exploration_sentence(picks: Sequence[Pick]) -> str:
    """How many picks are wild cards and from where, in plain words; empty without picks."""
    if not picks:
        return ""
    wild = [p for p in picks if p.explore]
    if not wild:
        return f"{'The pick follows' if len(picks) == 1 else f'All {len(picks)} picks follow'} what you told me."
    depts = list(dict.fromkeys(p.item.top_category or "another department" for p in wild))
    where = depts[0] if len(depts) == 1 else ", ".join(depts[:-1]) + " and " + depts[-1]
    if len(wild) == 1:
        return f"1 pick is a wild card from {where} to widen the mix."
    return f"{len(wild)} picks are wild cards from {where} to widen the mix."


def about_markdown(describe: dict) -> str:
    """Catalog, mode and models, for the "About" toggle."""
    return (f"Catalog **{describe.get('catalog')}** ({describe.get('items', 0):,} products) · mode "
            f"**{describe.get('mode')}** · language model **{describe.get('llm')}** · interest model "
            f"**{describe.get('interest', 'n/a')}**. Replies, reasons and specs come from the catalog's own records; "
            "nothing leaves this machine.")
