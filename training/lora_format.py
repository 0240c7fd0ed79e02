"""The local model's prompt/answer contract, shared by its training data and by the agent at run time.

Both jobs use one rigid, short prompt format:

    Shopper: <message>\nJSON:  -> {"brand":["Voltmark"],"max_price":100}
    Item: <record>\nFits: <needs met>\nMisses: <one need missed>\nReason:  -> one or two sentences from the prompt

The agent builds its prompts with `extraction_prompt` / `reason_prompt` and reads answers with
`parse_extraction`; training/lora_data.py writes its examples with the same functions, so changing a format
here changes both sides at once (and calls for retraining the adapter).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Callable, Iterable, Protocol, Sequence

from retrieval.items import Item
from retrieval.vocabulary import Preference, Vocabulary, category_of_phrase, stems

EXTRACT_PROMPT = "Shopper: {text}\nJSON:"
REASON_PROMPT = "Item: {item}\nFits: {fits}\nMisses: {misses}\nReason:"
REASON_MAX_TOKENS = 48  # a reason's token budget: 99.5 % of the training targets fit (the 95th percentile is 38)
JSON_KEYS = ("category", "brand", "must_have", "min_price", "max_price", "price_band", "avoid_category",
             "avoid_brand", "avoid", "feedback", "pick")  # fixed order: the model learns one layout


class Reading(Protocol):
    """What a message reader returns (the agent's parser gives an `agent.understand.Update`)."""

    preferences: list[Preference]
    feedback: str | None
    ordinal: int | None
    query: str


Reader = Callable[[str, Vocabulary], Reading]  # (message, catalog vocabulary) -> its reading


@dataclass(frozen=True)
class Labels:
    """The structured preference update of one message (what `parse_extraction` returns)."""

    preferences: tuple[Preference, ...] = ()
    feedback: str | None = None  # "like" | "reject" | "owned" about pick number `pick`
    pick: int | None = None  # 1-based

    def pairs(self) -> set[tuple[str, str]]:
        """(field, value) pairs for per-field precision/recall."""
        out = {_field_value(p) for p in self.preferences}
        if self.feedback:
            out.add(("feedback", f"{self.feedback}:{self.pick}"))
        return out


def extraction_prompt(text: str) -> str:
    """The extraction prompt for one shopper message (whitespace collapsed, cut to 400 characters)."""
    return EXTRACT_PROMPT.format(text=" ".join(text.split())[:400])


def _field_value(p: Preference) -> tuple[str, str]:
    if p.attribute.startswith("attr:"):  # waterproof=yes is said "waterproof"; the parser reads it back
        return ("must_have" if p.wanted else "avoid", _value_text(p.attribute[5:], p.value))
    if p.attribute in ("category", "brand"):
        return (p.attribute if p.wanted else f"avoid_{p.attribute}", p.value)
    return (p.attribute, p.value)


def labels_to_json(labels: Labels) -> str:
    """Compact JSON in the fixed key order; empty update -> "{}"."""
    data: dict[str, object] = {}
    for name, value in sorted((_field_value(p) for p in labels.preferences), key=lambda fv: JSON_KEYS.index(fv[0])):
        if name in ("min_price", "max_price"):
            data[name] = float(value) if "." in value else int(value)
        elif name == "price_band":
            data[name] = value
        else:
            data.setdefault(name, []).append(value)  # type: ignore[union-attr]
    if labels.feedback:
        data["feedback"], data["pick"] = labels.feedback, labels.pick
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def parse_extraction(raw: str, vocab: Vocabulary, read: Reader) -> Labels:
    """A model's JSON answer as Labels, keeping only values the catalog vocabulary knows (never raises).

    `read` is the message reader (the agent's parser) that says what a phrase outside the vocabulary names.
    """
    match = re.search(r"\{.*?\}", raw or "", re.S)
    try:
        data = json.loads(match.group(0)) if match else {}
    except json.JSONDecodeError:
        data = {}
    if not isinstance(data, dict):
        return Labels()
    prefs: list[Preference] = []
    levels = {lvl.lower(): lvl for lvl in vocab.levels}
    for name, wanted in (("category", True), ("avoid_category", False), ("brand", True), ("avoid_brand", False),
                         ("must_have", True), ("avoid", False)):
        values = data.get(name)
        for value in values if isinstance(values, list) else [values] if isinstance(values, str) else []:
            if not isinstance(value, str):
                continue
            if "category" in name and value.strip().lower() in levels:
                prefs.append(Preference("category", levels[value.strip().lower()], wanted))
            elif "brand" in name and stems(value) in vocab.brands:
                prefs.append(Preference("brand", vocab.brands[stems(value)], wanted))
            elif name in ("must_have", "avoid") and stems(value) in vocab.values:
                attr, canonical = vocab.values[stems(value)][0]
                prefs.append(Preference(f"attr:{attr}", canonical, wanted))
            else:
                # Not the catalog's word for its field: the model marked a phrase and whether it is wanted; the
                # catalog vocabulary says what the phrase names, read as the parser reads shopper text. So
                # "Noise Cancelling Headphones" is the level Headphones plus the value noise cancelling, "Drill"
                # is Drills, a brand put under category is the brand (free-form test set).
                have = {(q.attribute, q.value) for q in prefs}
                kinds = ("category", "brand", "attr:") if "category" in name else ("brand", "attr:")  # "coffee" is
                found = [Preference(p.attribute, p.value, wanted)  # no category when it was said as a value
                         for p in read(value[:80], vocab).preferences
                         if p.attribute.startswith(kinds) and p.wanted and (p.attribute, p.value) not in have]
                if "category" in name and not found:
                    # a product noun the catalog files under another name: "garden hose" -> Watering
                    level = category_of_phrase(value[:80], vocab)
                    found += [Preference("category", level, wanted)] if level else []
                prefs += found
    for name in ("min_price", "max_price"):
        value = data.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1e7:
            prefs.append(Preference(name, f"{value:.2f}".rstrip("0").rstrip(".")))
    if data.get("price_band") in ("low", "high"):
        prefs.append(Preference("price_band", data["price_band"]))
    feedback, pick = data.get("feedback"), data.get("pick")
    ok = feedback in ("like", "reject", "owned") and isinstance(pick, int) and 1 <= pick <= 10
    return Labels(tuple(prefs), feedback if ok else None, pick if ok else None)


def labels_of(reading: Reading) -> Labels:
    """A message reader's result (the agent's parser) as Labels: feedback only when it names a pick by number."""
    pick = None if reading.ordinal is None else (reading.ordinal + 1 if reading.ordinal >= 0 else None)
    feedback = reading.feedback if pick else None
    return Labels(tuple(reading.preferences), feedback, pick if feedback else None)


def _value_text(key: str, value: str) -> str:
    return key.replace("_", " ") if value.lower() in ("yes", "true") else value


def _flag_text(key: str, value: str) -> str:
    """Words for one attribute value: "temperature control" for yes, "no temperature control" for no."""
    if value.lower() in ("no", "false"):
        return "no " + key.replace("_", " ")
    return _value_text(key, value)


def shown_attributes(item: Item, prefs: Iterable[Preference] = (), max_attrs: int = 4) -> dict[str, str]:
    """The attributes the reason prompt shows: those the shopper asked about first, then the listing's order.

    A reason never needs an attribute the model cannot see, and a short record keeps the prompt (CPU prefill) small.
    """
    keep = {k: v for k, v in item.attributes.items() if k not in ("model", "warranty", "imdb_id") and len(v) <= 40}
    asked = [p.attribute[5:].lower() for p in prefs if p.attribute.startswith("attr:")]
    first = [k for k in keep if k.lower() in asked]
    return {k: keep[k] for k in (first + [k for k in keep if k not in first])[:max_attrs]}


def item_line(item: Item, prefs: Iterable[Preference] = ()) -> str:
    """The catalog record as one short line: title | brand | price | category | key attributes."""
    title = " ".join(item.title.split()[:10])
    price = _money(item.price) if item.price is not None else "no price"
    leaf = item.category_path[-1] if item.category_path else "uncategorised"
    attrs = [f"{k.replace('_', ' ')}: {v}" for k, v in shown_attributes(item, prefs).items()]
    return " | ".join([title, item.brand or "no brand", price, leaf, ", ".join(attrs) or "no attributes"])


@dataclass(frozen=True)
class Fit:
    """One stated need checked against the record: met or missed."""

    kind: str  # "attr" | "flag" (a yes/no attribute) | "brand" | "category" | "budget"
    met: bool
    want: str  # the need in words: "plastic", "temperature control", "$215" (a budget)
    have: str = ""  # what the item has: "stainless steel", "$219"
    key: str = ""  # the attribute's name, for "attr": "material"

    def note(self) -> str:
        """How the prompt states it: the model restates these, it never compares anything itself."""
        if self.kind == "budget":
            return f"{self.have} {'within' if self.met else 'over'} your {self.want} budget"
        if self.kind == "brand":
            return f"by {self.want}"
        if self.kind == "category":
            return f"in {self.want}"
        want = f"{self.key}: {self.want}" if self.kind == "attr" else self.want
        return want if self.met else f"{want} (it is {self.have})"


def fit_notes(prefs: Iterable[Preference], item: Item) -> list[Fit]:
    """Each stated need the record can confirm or deny, in the shopper's order.

    Comparisons are made here, exactly, never by the model: a 270M model copies facts well but judges "is $219
    under $175?" or "is stainless steel plastic?" badly (an earlier prompt left that to it: 4 % of its reasons
    claimed a missed need as met). A need the listing says nothing about is left out: the tuned model turned
    "connectivity: Bluetooth and RCA (not listed)" into "its connectivity is Bluetooth and RCA" (2 of 300
    held-out reasons); the agent's template states such gaps, and wins whenever it names more needs.
    """
    attrs = {k.lower(): (k, v) for k, v in shown_attributes(item, prefs).items()}
    out: list[Fit] = []
    for p in prefs:
        if p.attribute.startswith("attr:") and p.wanted:
            key = p.attribute[5:].lower()
            want = _flag_text(key, p.value)
            kind = "flag" if p.value.lower() in ("yes", "no", "true", "false") else "attr"
            if key in attrs:
                have = attrs[key][1]
                out.append(Fit(kind, have.lower() == p.value.lower(), want, _flag_text(key, have),
                               key.replace("_", " ")))
        elif p.attribute == "brand" and p.wanted and item.brand and item.brand.lower() == p.value.lower():
            out.append(Fit("brand", True, item.brand))
        elif p.attribute == "max_price" and item.price is not None:
            out.append(Fit("budget", item.price <= float(p.value), _money(float(p.value)), _money(item.price)))
        elif p.attribute == "category" and p.wanted:
            level = next((c for c in item.category_path if c.lower() == p.value.lower()), None)
            if level:
                out.append(Fit("category", True, level))
    return out


def _met(notes: Sequence[Fit]) -> list[Fit]:
    """The met needs a reason states: the category only when no attribute matched (then every pick of a turn
    is in the category asked for, and saying so tells the shopper nothing; the template does the same)."""
    met = [f for f in notes if f.met]
    if any(f.kind in ("attr", "flag") for f in met):
        return [f for f in met if f.kind != "category"]
    return met


def _first_miss(notes: Sequence[Fit]) -> list[Fit]:
    """The one missed need a reason states: the budget if it is missed, else the first. A reason stays short
    (the 5 picks of a turn are written in one batch that lasts as long as its longest reason, ~30 ms a token
    here); the template names every miss, and the agent shows it whenever it names more of the shopper's needs."""
    missed = [f for f in notes if not f.met]
    return sorted(missed, key=lambda f: f.kind != "budget")[:1]


def reason_prompt(prefs: Iterable[Preference], item: Item) -> str:
    """The reason prompt for one pick: the record, then which stated needs it meets and which it misses."""
    prefs = list(prefs)
    notes = fit_notes(prefs, item)
    fits = "; ".join(f.note() for f in _met(notes)) or "nothing named"
    misses = "; ".join(f.note() for f in _first_miss(notes)) or "none"
    return REASON_PROMPT.format(item=item_line(item, prefs), fits=fits, misses=misses)


def _money(value: float) -> str:
    return f"${value:.0f}" if float(value).is_integer() else f"${value:.2f}"


