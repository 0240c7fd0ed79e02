"""Reasons for picks: templates from matched attributes, and a groundedness check for any wording.

Every fact a template states comes from the item's catalog data or from what the shopper said. LLM wording
is shown only when `check_grounded` finds each number, price, brand, attribute value and category it names
true of the item (or of the shopper's own statements and the items they referred to).
"""

from __future__ import annotations

import re
from typing import Iterable

from agent.policy import PERSON_KEYS, Constraints
from agent.state import DialogueState
from retrieval.items import Item
from retrieval.quantities import quantity
from retrieval.vocabulary import Vocabulary, stems

MAX_REASON_CHARS = 300
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_BUDGET_CLAIM = re.compile(r"\b(within|under|below|inside|over|above|beyond|exceeds?)\s+(?:your\s+|the\s+)?"
                           r"\$\s*(\d+(?:[.,]\d+)*)\s*(?:budget|limit|cap|max)", re.I)
_ABSENT = frozenset({"no", "false", "none", "n/a", "0"})
_NEGATED = re.compile(r"\b(not|no|isn't|isnt|without|lacks|never|rather than|instead of)\s+(?:\w+\s+)?$")


def price_text(price: float) -> str:
    """"$79.99"; whole prices without cents ("$49")."""
    return f"${price:.0f}" if float(price).is_integer() else f"${price:.2f}"


def template_reason(item: Item, c: Constraints, similar_to: tuple[str, str] | None = None,
                    explore: bool = False, described: bool = True) -> str:
    """One or two sentences naming what about the item matches; honest about what does not.

    similar_to: (title, how) of the shopper's item this one follows from, if any: "liked" / "bought" (close in
    meaning) or "bought-with" / "liked-with" (the interest model links them: bought or liked together).
    described: False when the shopper has described nothing yet (a returning customer's first picks).
    """
    attrs = {k.lower(): v for k, v in item.attributes.items()}
    matched = [k for k, v in c.must.items() if _meets(attrs, k, v)]
    missed = [(k, v) for k, v in c.must.items() if not _meets(attrs, k, v)]
    first: list[str] = []
    if matched:
        said = sorted((k for k in c.must if k in matched), key=lambda k: k.lower() == "use_case")  # "good for" last
        first.append(" and ".join(f"with {c.must[k]}" if k.lower() in PERSON_KEYS else f"good for {c.must[k]}" if
                                  k.lower() == "use_case" else _phrase(k, c.must[k]) for k in said))
    levels = {lvl.lower(): lvl for lvl in item.category_path}
    cats = [levels[x.lower()] for x in c.categories if x.lower() in levels]
    if cats and not matched:
        first.append(f"in {cats[0]} as you asked")
    if item.brand and any(b.lower() == item.brand.lower() for b in c.brands):
        first.append(f"from {item.brand}, the brand you asked for")
    if item.price is not None:
        if c.relative_price:  # a critique's bound is no budget the shopper said: state the price alone
            first.append(f"priced at {price_text(item.price)}")
        elif c.max_price is not None and item.price <= c.max_price:
            first.append(f"{price_text(item.price)}, within your {price_text(c.max_price)} budget")
        elif c.max_price is not None:
            first.append(f"{price_text(item.price)}, over your {price_text(c.max_price)} budget")
        elif c.min_price is not None and item.price >= c.min_price:
            first.append(f"{price_text(item.price)}, above your {price_text(c.min_price)} floor")
        else:
            first.append(f"priced at {price_text(item.price)}")
    work = _work_line(item, skip_people=bool(matched))
    if work and not explore and (not first or all(f.startswith(("in ", "priced")) for f in first)):
        first = [work] + [f for f in first if f.startswith("priced")]  # a film says what it is, not "in Comedy"
    elif work and not explore and matched:
        first.insert(1, work)  # "With Tom Hanks; Comedy and Romance, 1993"
    if explore:
        head = f"A wild card from {item.top_category}" if item.top_category else "A wild card"
        first.insert(0, head + " to widen the mix")
    elif not first or (len(first) == 1 and first[0].startswith("priced")):
        brand = f" by {item.brand}" if item.brand else ""
        where = f" in {item.top_category}" if item.top_category else ""
        if not described or (similar_to and similar_to[1].endswith("-with") and not c.categories):  # say where
            first.insert(0, f"From {item.top_category or 'the catalog'}{brand}")
        else:
            first.insert(0, f"A close match for what you described{where}{brand}")
    text = _sentence("; ".join(first))
    second = []
    if similar_to:
        title, how = similar_to
        if how == "bought-with":  # the interest model's co-purchase link: why it was picked
            second.append(f"picked for {_the(title)} you bought: other shoppers who bought it also bought this")
        elif how == "liked-with":
            second.append(f"picked for {_the(title)} you liked: people who liked it also liked this")
        else:
            second.append(f"similar to {_the(title)} you {how}")
    for key, value in missed:
        if key.lower() in attrs:
            have, want = _phrase(key, attrs[key.lower()]), _phrase(key, value)
            if have == f"not {want}":
                second.append(f"note it is {have}")
            elif attrs[key.lower()].lower() in ("yes", "no", "true", "false") or value.lower() in ("yes", "no"):
                second.append(f"note it is {have} rather than {want}")
            else:
                second.append(f"note its {key.replace('_', ' ')} is {attrs[key.lower()]}, not {value}")
        else:
            second.append(f"the listing does not say whether it is {_phrase(key, value)}")
    if second:
        text += " " + _sentence(", and ".join(second[:2]))
    return text[:MAX_REASON_CHARS]


def _work_line(item: Item, skip_people: bool = False) -> str | None:
    """What a titled work is, from its record: "Comedy, Romance, 1998, with Tom Hanks and Meg Ryan, directed by
    Nora Ephron"; None for an item without genres (products say their specs instead)."""
    attrs = {k.lower(): v for k, v in item.attributes.items()}
    genres = [g.strip() for g in attrs.get("genre", "").split(",") if g.strip()][:3]
    if not genres:
        return None
    parts = [", ".join(genres)]  # as the record writes them, so the wording check finds them
    year = attrs.get("year", "").strip() or (re.findall(r"\((\d{4})\)\s*$", item.title) or [""])[0]
    if year:
        parts.append(year)
    stars = [x.strip() for x in attrs.get("stars", "").split(",") if x.strip()][:2]
    if stars and not skip_people:
        parts.append("with " + " and ".join(stars))
    director = attrs.get("director", "").split(",")[0].strip()
    if director and not skip_people:
        parts.append(f"directed by {director}")
    return ", ".join(parts)


STANDOUT_WORDS = {"weight": ("lightest", "heaviest"), "price": ("cheapest", "priciest"),
                  "battery_life": ("shortest battery life", "longest battery life"),
                  "capacity": ("smallest capacity", "largest capacity"), "wattage": ("least power", "most power"),
                  "max_torque": ("least torque", "most torque")}
STANDOUT_ORDER = ("weight", "battery_life", "capacity", "wattage", "max_torque", "price")  # most telling first


def standout(item: Item, others: list[Item], stated: Iterable[str] = ()) -> str | None:
    """The one spec that sets an item apart from the other picks shown with it ("It is the lightest here, at
    1.1 kg."), from values every pick lists; None when nothing does. `stated`: attribute keys the shopper already
    named (their match is said elsewhere)."""
    if len(others) < 2:
        return None
    skip = {k.lower() for k in stated}
    mine = {k.lower(): v for k, v in item.attributes.items()}
    theirs = [{k.lower(): v for k, v in o.attributes.items()} for o in others]
    for key in STANDOUT_ORDER:
        if key in skip:
            continue
        if key == "price":
            values = [o.price for o in others]
            own, shown = item.price, price_text(item.price) if item.price is not None else ""
        else:
            if key not in mine or any(key not in t for t in theirs):
                continue
            own_q, values_q = quantity(mine[key]), [quantity(t[key]) for t in theirs]
            if own_q is None or any(v is None for v in values_q) or {q[1] for q in [own_q, *values_q]} != {own_q[1]}:
                continue
            own, values, shown = own_q[0], [v[0] for v in values_q], mine[key]  # type: ignore[index]
        if own is None or any(v is None for v in values):
            continue
        if own < min(values):  # type: ignore[type-var]
            return f"It is the {STANDOUT_WORDS[key][0]} here, at {shown}."
        if own > max(values):  # type: ignore[type-var]
            return f"It is the {STANDOUT_WORDS[key][1]} here, at {shown}."
    for key, value in mine.items():  # a yes no other pick has: "the only one here that is dishwasher safe"
        if key in skip or key == "model" or value.lower() not in ("yes", "true"):
            continue
        if all(t.get(key, "").lower() in ("no", "false") for t in theirs):
            return f"It is the only one here that is {key.replace('_', ' ')}." if _IS_ADJECTIVE.search(key) else \
                f"It is the only one here with a {key.replace('_', ' ')}."
    return None


_IS_ADJECTIVE = re.compile(r"(safe|compatible|proof|cancelling|reflective|adjustable|foldable|rechargeable|"
                           r"wireless|cordless|dimmable|programmable|washable|able|ible|ive)$")


def check_grounded(reason: str, item: Item, state: DialogueState, vocab: Vocabulary | None = None,
                   context: Iterable[Item] = ()) -> bool:
    """True when every number, price, brand, attribute value and category the reason names is true of the item.

    Numbers may also come from the shopper's stated budget; names and numbers may also come from `context`,
    the shopper's own liked or bought items that the reason refers to.
    """
    if not reason or not reason.strip() or len(reason) > MAX_REASON_CHARS:
        return False
    context = list(context)
    reason = _drop_true_negations(reason, item, state)
    sources = [_item_text(item)] + [_item_text(i) for i in context]
    allowed = {n for text in sources for n in _numbers(text)}
    allowed |= {n for p in state.preferences if p.attribute in ("max_price", "min_price") for n in _numbers(p.value)}
    if any(n not in allowed for n in _numbers(reason)):
        return False
    prices = {round(float(p.replace(",", "")), 2) for p in re.findall(r"\$\s*(\d+(?:[.,]\d+)*)", reason)}
    ok_prices = {round(i.price, 2) for i in [item, *context] if i.price is not None} | {
        round(float(p.value), 2) for p in state.preferences if p.attribute in ("max_price", "min_price")}
    if prices - ok_prices:
        return False  # "$3" is a price claim: the number appearing elsewhere in the listing is not enough
    for word, amount in _BUDGET_CLAIM.findall(reason):  # "over your $57 budget" must be true of the price
        if item.price is None:
            return False
        over = item.price > float(amount.replace(",", ""))
        if over != (word.lower() in ("over", "above", "beyond", "exceeds", "exceed")):
            return False
    low = reason.lower()
    for known in context:  # "picked for the <title> you bought": naming the shopper's own item claims nothing
        for name in sorted({known.title, _short(known.title).removesuffix("...")}, key=len, reverse=True):
            if len(name) > 3:
                low = low.replace(name.lower(), " | ")
    if vocab is not None:
        ok_brands = {(i.brand or "").lower() for i in [item, *context]} | {
            p.value.lower() for p in state.preferences if p.attribute == "brand"}
        # A true brand is no claim to check word by word: "3M Littmann" must not read as the brand "3M".
        for brand in sorted((b for b in ok_brands if b), key=len, reverse=True):
            low = low.replace(brand, " | ")
        toks = stems(low)
        for n in range(1, vocab.max_n + 1):
            for i in range(len(toks) - n + 1):
                key = toks[i:i + n]
                if key in vocab.brands and vocab.brands[key].lower() not in ok_brands:
                    return False
                if key in vocab.values and not _value_ok(key, vocab, item, context, low):
                    return False
        paths = " > ".join(i.category for i in [item, *context]).lower()
        values = {v.lower() for i in [item, *context] for v in i.attributes.values()}
        for value in sorted((v for v in values if len(v) > 2), key=len, reverse=True):
            low = low.replace(value, " | ")  # a true value names no category: "small dogs" is no claim of Dogs
        for level in vocab.levels:
            # Amazon-style leaves join several levels ("Adhesive Tapes Duct Tape"): a part of one is true too;
            # a level that is also one of the item's values ("pour-over" use case) is that value.
            if level.lower() in low and level.lower() not in paths and level.lower() not in values:
                return False
    return True


def _drop_true_negations(reason: str, item: Item, state: DialogueState) -> str:
    """The reason without "rather than 150 W" / "not the 5.2 you wanted" where 150 W is what the shopper asked for
    and the item indeed lacks: those words report the wish, not a claim about the item, so they are not checked.
    A negation of something the item has ("not waterproof" of a waterproof item) stays, and fails later."""
    for p in state.preferences:
        if not (p.wanted and p.attribute.startswith("attr:") and p.value):
            continue
        if _has_value(item, p.attribute[5:], p.value):
            continue
        for value in {p.value, _phrase(p.attribute[5:], p.value)}:
            pattern = (rf"\b(rather than|instead of|not|isn't|no|does not say whether it (?:is|has))\s+"
                       rf"(the\s+|a\s+)?{re.escape(value)}\b")
            reason = re.sub(pattern, " ", reason, flags=re.I)
    return reason


def _value_ok(key: tuple[str, ...], vocab: Vocabulary, item: Item, context: list[Item], low: str) -> bool:
    """An attribute value named in a reason is the item's (or, after "not", is not the item's)."""
    values = vocab.values[key]
    has = [any(_has_value(i, attr, value) for attr, value in values) for i in [item, *context]]
    phrase = " ".join(key)
    at = low.find(values[0][1].lower())
    if values[0][1].lower() in ("yes", "no", "true", "false") or at < 0:  # a flag is named by its words
        at = low.find(key[0])
    negated = at >= 0 and bool(_NEGATED.search(low[:at]))
    if negated:
        return not has[0]
    # The phrase in the item's own words counts, and in the name of an attribute it has; not in the name of one
    # it lacks ("noise_cancelling: no" makes no "noise cancelling" true).
    held = " ".join(f"{k} {v}" for k, v in item.attributes.items() if v.strip().lower() not in _ABSENT)
    return any(has) or phrase in " ".join(stems(f"{item.title} {item.brand or ''} {item.category} {held} "
                                                 f"{item.description[:3000]}"))


def _has_value(item: Item, attr: str, value: str) -> bool:
    return any(k.lower() == attr.lower() and v.lower() == value.lower() for k, v in item.attributes.items())


def _item_text(item: Item) -> str:
    price = f"{item.price:.2f} {item.price:g}" if item.price is not None else ""
    attrs = " ".join(f"{k} {v}" for k, v in item.attributes.items())
    return f"{item.title} {item.brand or ''} {item.category} {attrs} {price} {item.description[:3000]}"


def _numbers(text: str) -> set[float]:
    out = set()
    for raw in _NUMBER.findall(text):
        try:
            out.add(round(float(raw.replace(",", "")), 2))
        except ValueError:
            continue
    return out


def _meets(attrs: dict[str, str], key: str, value: str) -> bool:
    """Whether the item has the value; a person asked for ("Tom Hanks") may be in any of its people lists."""
    want = value.lower().strip()
    if key.lower() in PERSON_KEYS:
        return any(want in [p.strip().lower() for p in attrs.get(k, "").split(",")] for k in PERSON_KEYS)
    return attrs.get(key.lower(), "").lower() == want


def _phrase(key: str, value: str) -> str:
    """"waterproof" for waterproof=yes, else the value itself ("cordless", "18V")."""
    if value.lower() in ("yes", "true"):
        return key.replace("_", " ")
    if value.lower() in ("no", "false"):
        return f"not {key.replace('_', ' ')}"
    if value.strip().isdigit():  # a bare count says nothing alone: "sleeps 2", "speeds 3"
        return f"{key.replace('_', ' ')} {value}"
    return value


def _short(title: str, words: int = 8) -> str:
    parts = title.split()
    return " ".join(parts[:words]) + ("..." if len(parts) > words else "")


def _the(title: str) -> str:
    """A title after "picked for": "the Sonavik SV-751B ...", but "The Matrix (1999)" and "Coco (2017)" as they are
    (a work's name takes no extra article)."""
    short = _short(title)
    if re.match(r"(?i)(the|a|an)\s", short) or re.search(r"\(\d{4}\)\s*$", title):
        return short
    return f"the {short}"


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[0].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")) if text else ""


FRIENDLY = frozenset(
    "nice great good solid perfect choice option pick fits fit match matches ideal excellent handy worth "
    "consider considering look check strong suits suit well option options really quite very also this that "
    "with from your you it's its which while offers offering".split())


def adds_no_claims(wording: str, template: str, item: Item) -> bool:
    """True when every content word of an LLM rewording is in the template, the listing, or a few friendly words."""
    known = set(stems(template)) | set(stems(_item_text(item))) | {stems(w)[0] for w in FRIENDLY if stems(w)}
    return all(len(w) < 4 or w in known for w in stems(wording))
