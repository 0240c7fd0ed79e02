"""Pick cards for the chat UI: the facts a shopper decides from, the buttons that act on a pick, and a comparison.

Plain HTML strings; every catalog string is escaped (titles and descriptions may carry markup or injection).
The buttons carry `data-action` and `data-item`; the page's script turns a click into one Gradio event.
"""

from __future__ import annotations

import html
import re
from typing import Any, Sequence

from agent import Pick, Session

Item = Any  # a catalog item (Pick.item); ui reaches the catalog's types only through the agent

SPECS_PER_CARD = 4  # the specs a card shows: those asked about first, then the catalog's own order
LATE_KEYS = ("model", "color", "colour", "use_case", "skill_level", "warranty", "finish", "style")  # shown last
FEEDBACK = (("like", "Like", "Like the {name}"), ("reject", "Not for me", "Not for me: the {name}"),
            ("owned", "Already own", "I already own the {name}"))  # action, visible text, accessible name
WORD = re.compile(r"[a-z0-9]+")


def display_name(item: Item) -> str:
    """How the transcript names an item: brand and model number when both are known, else the title."""
    model = item.attributes.get("model") if item.attributes else None
    return f"{item.brand} {model}" if item.brand and model else item.title


def spec_label(key: str) -> str:
    """An attribute key as a label: "max_torque" -> "Max torque"."""
    text = key.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def asked_keys(session: Session) -> list[str]:
    """Attribute keys the shopper stated a need for ("attr:power_source" -> "power_source")."""
    return [p.attribute.split(":", 1)[1] for p in session.state.preferences if p.attribute.startswith("attr:")]


def said_text(session: Session) -> str:
    """Everything the shopper typed in this session, lower case, one line."""
    return " ".join(t.text.lower() for t in session.turns if t.role == "user")


def key_specs(item: Item, asked: Sequence[str] = (), said: str = "", n: int = SPECS_PER_CARD) -> list[tuple[str, str]]:
    """The item's n specs that matter most for what was asked: keys the shopper stated a need for, then specs the
    shopper's words name (a word of the key, "weight" in "max weight", or the whole value, "dishwasher safe"), then
    the catalog's own order; model number, colour and the like come last and are never promoted."""
    words = set(WORD.findall(said.lower()))
    keys = [k for k, v in (item.attributes or {}).items() if str(v).strip()]

    def named(key: str) -> bool:
        key_words = {w for w in WORD.findall(key.lower().replace("_", " ")) if len(w) > 2}
        value = str(item.attributes[key]).lower().strip()
        stems = any(k.startswith(w) for k in key_words for w in words if len(w) > 3)  # "weigh" names "weight"
        return stems or (len(value) > 2 and f" {value} " in f" {said.lower()} ")

    def rank(pos_key: tuple[int, str]) -> tuple[int, int]:
        pos, key = pos_key
        if key.lower() in LATE_KEYS:
            return 3, pos
        return (0 if key in asked else 1 if named(key) else 2), pos

    ordered = [k for _, k in sorted(enumerate(keys), key=rank)]
    return [(spec_label(k), str(item.attributes[k])) for k in ordered[:n]]


def price_text(item: Item) -> str:
    """"$1,299.00"-style price, or a plain note when the catalog has none."""
    return f"${item.price:,.2f}" if item.price is not None else "Price not listed"


def wild_card_why(item: Item) -> str:
    """Why a wild card is on screen, in a shopper's words."""
    department = item.top_category or "another department"
    return f"From {department}, outside what you have looked at so far, to widen the mix."


def pick_card(pick: Pick, number: int, specs: Sequence[tuple[str, str]] = (), busy: bool = False,
              selected: bool = False, priced: bool = True) -> str:
    """A pick as an HTML card: title, brand, price, key specs, the reason, a wild-card note, and its buttons."""
    item, esc = pick.item, html.escape
    name = display_name(item)
    item_id = esc(item.item_id, quote=True)
    wild = (f'<p class="wild-card"><span class="wild-badge">Wild card</span> {esc(wild_card_why(item))}</p>'
            if pick.explore else "")
    rows = "".join(f"<div><dt>{esc(k)}</dt><dd>{esc(v)}</dd></div>" for k, v in specs)
    spec_list = f'<dl class="pick-specs">{rows}</dl>' if rows else ""
    disabled = " disabled" if busy else ""

    def button(action: str, text: str, label: str, cls: str = "") -> str:
        pressed = f' aria-pressed="{"true" if selected else "false"}"' if action == "compare" else ""
        return (f'<button type="button" class="card-btn fb-{action} {cls}" data-action="{action}" '
                f'data-item="{item_id}" aria-label="{esc(label.format(name=name), quote=True)}"{pressed}{disabled}>'
                f"{esc(text)}</button>")

    feedback = "".join(button(a, t, label) for a, t, label in FEEDBACK)
    # A catalog without any prices (movies) shows no "Price not listed" on every card.
    price = f'<span class="pick-price">{esc(price_text(item))}</span>' if priced or item.price is not None else ""
    brand = esc(item.brand) if item.brand else ""
    meta = f'<p class="pick-meta">{price}{" · " if price and brand else ""}{brand}</p>' if price or brand else ""
    compare_text = "Comparing" if selected else "Compare"
    more = (button("ask", "Ask about this", "Ask about the {name}")
            + button("compare", compare_text, "Compare the {name}"))
    return (f'<article class="pick-card{" selected" if selected else ""}" data-item-id="{item_id}" '
            f'aria-label="Pick {number}: {esc(item.title, quote=True)}"{" aria-busy=true" if busy else ""}>'
            f'<h3 class="pick-title"><span class="pick-number">{number}.</span> {esc(item.title)}</h3>'
            f"{meta}"
            f"{wild}{spec_list}"
            f'<p class="pick-reason">{esc(pick.reason)}</p>'
            f'<div class="card-actions"><div class="feedback-row">{feedback}</div>'
            f'<div class="more-row">{more}</div></div></article>')


def cards_html(picks: Sequence[Pick], session: Session | None = None, busy: bool = False,
               selected: Sequence[str] = (), priced: bool = True) -> str:
    """Every pick on screen as a grid of cards (equal heights per row, buttons aligned at the bottom)."""
    if not picks:
        return ('<p class="no-picks" id="no-picks">Picks appear here once I know a little about what you '
                "want.</p>")
    asked = asked_keys(session) if session is not None else []
    said = said_text(session) if session is not None else ""
    cards = "".join(pick_card(p, n, key_specs(p.item, asked, said), busy, p.item.item_id in selected, priced)
                    for n, p in enumerate(picks, 1))
    return f'<div class="pick-grid">{cards}</div>'


def compare_table(items: Sequence[Item], session: Session | None = None, max_specs: int = 6) -> str:
    """The items side by side: price, brand and the specs that matter, one column per item."""
    if len(items) < 2:
        return ""
    esc = html.escape
    asked = asked_keys(session) if session is not None else []
    said = said_text(session) if session is not None else ""
    labels: list[str] = []
    per_item = [[label for label, _ in key_specs(item, asked, said, n=max_specs) if label != "Model"] for item in items]
    for rank in range(max_specs):  # each item's most telling specs in turn, so unlike items both show theirs
        for specs in per_item:
            if rank < len(specs) and specs[rank] not in labels:
                labels.append(specs[rank])
    values = [{spec_label(k): str(v) for k, v in (item.attributes or {}).items()} for item in items]
    head = "".join(f'<th scope="col">{esc(display_name(i))}</th>' for i in items)
    rows = [("Price", [price_text(i) for i in items]), ("Brand", [i.brand or "—" for i in items])]
    rows += [(label, [v.get(label, "—") for v in values]) for label in labels[:max_specs]]
    body = "".join(f'<tr><th scope="row">{esc(label)}</th>{"".join(f"<td>{esc(c)}</td>" for c in cells)}</tr>'
                   for label, cells in rows)
    return (f'<div class="compare-wrap"><table class="compare-table"><caption>Side by side</caption>'
            f'<thead><tr><td></td>{head}</tr></thead><tbody>{body}</tbody></table></div>')
