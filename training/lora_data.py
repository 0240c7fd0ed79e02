"""Training data for the local model's two language jobs: preference extraction and grounded reasons.

The prompt formats themselves are training/lora_format.py (shared with the agent at run time); this module only
makes examples in them.

Extraction examples come from generated shopper messages whose labels are known by construction (slots filled
from real catalog vocabulary: demo catalog, Amazon Scientific) and from real ReDial seeker utterances labelled
by the deterministic parser where it is reliable (no preference at all: thanks, chit-chat). Reasons are written by
`reference_reason` from `fit_notes` alone (the stated needs compared with the item record in code). The held-out
split shares no items, phrasings or dialogues with training: demo top categories Coffee and Audio, Amazon items with crc32(id) % 10 == 0, the 24-item test catalog,
held-out phrasing templates, and INSPIRED dev seeker utterances.
"""

from __future__ import annotations

import json
import random
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from retrieval.catalogs import amazon_items, read_catalog_file, redial_items
from retrieval.demo import generate_demo_catalog
from retrieval.items import Item
from retrieval.vocabulary import ItemSet, Preference, Vocabulary, stems, vocabulary
from training.lora_format import (
    EXTRACT_PROMPT,
    REASON_PROMPT,
    Fit,
    Labels,
    Reader,
    _first_miss,
    _met,
    _value_text,
    extraction_prompt,
    fit_notes,
    labels_of,
    labels_to_json,
    reason_prompt,
    shown_attributes,
)

HELDOUT_DEMO = frozenset({"Coffee", "Audio"})
ORDINAL_WORDS = ("first", "second", "third", "fourth", "fifth")


@dataclass(frozen=True)
class Seekers:
    """Real seeker messages: ReDial train (training examples) and INSPIRED dev (held out)."""

    train: list[str]
    heldout: list[str]


@dataclass
class Example:
    """One supervised pair; `meta` records where it came from (source, held-out reason, gold labels)."""

    task: str  # "extract" | "reason"
    prompt: str
    target: str
    meta: dict = field(default_factory=dict)


# ------------------------------------------------------------------ reference reasons (training targets)

def _met_words(f: Fit, rng: random.Random) -> str:
    if f.kind == "budget":
        return rng.choice([f"{f.have}, within your {f.want} budget", f"at {f.have} it is within your {f.want} budget"])
    if f.kind == "brand":
        return rng.choice([f"from {f.want} as you asked", f"made by {f.want}", f"a {f.want}"])
    if f.kind == "category":
        return rng.choice([f"in {f.want}", f"one of the {f.want}"])
    if f.kind == "flag":
        return f"with {f.want}"
    if f.key == "use case":
        return rng.choice([f"made for {f.want}", f"good for {f.want}"])
    if f.key in ("color", "material"):
        return f"in {f.want}" if f.key == "color" else f"made of {f.want}"
    return rng.choice([f"{f.want} {f.key}", f"its {f.key} is {f.want}"])


def _missed_words(f: Fit, rng: random.Random) -> str:
    if f.kind == "budget":
        return f"at {f.have} it is over your {f.want} budget"
    if f.kind == "flag":
        return f"it has {f.have}"
    return rng.choice(["its {key} is {have}, not {want}", "note its {key} is {have} rather than {want}"]).format(
        key=f.key, have=f.have, want=f.want)


def reference_reason(prefs: Sequence[Preference], item: Item, rng: random.Random) -> str:
    """One or two sentences restating the met needs, then honestly the missed ones; every fact from the record."""
    notes = fit_notes(prefs, item)
    good = [_met_words(f, rng) for f in _met(notes)]
    bad = [_missed_words(f, rng) for f in _first_miss(notes)]
    if not good:
        leaf = item.category_path[-1] if item.category_path else ""
        extra = [_value_text(k, v) for k, v in shown_attributes(item, prefs).items()
                 if len(v) <= 25 and v.lower() not in ("no", "false")][:2]  # "no" alone says nothing
        lead = rng.choice(["A close match", "A solid option", "Worth a look"])
        good.append(f"{lead}{f' in {leaf}' if leaf else ''}" + (f", {' and '.join(extra)}" if extra else "")
                    + (f", by {item.brand}" if item.brand else ""))
    first = good[0] if len(good) == 1 else ", ".join(good[:-1]) + " and " + good[-1]
    if first.startswith(("in ", "one of", "made ", "from ", "a ", "good for", "$")):
        first = rng.choice(["It is ", "This one is ", ""]) + first
    elif first[0].isdigit() or first.startswith("with "):
        first = rng.choice(["It has ", "This one has ", ""]) + first.removeprefix("with ")
    text = first[0].upper() + first[1:] + "."
    if bad:
        text += " " + rng.choice(["But ", "However, "]) + bad[0] + "."
    return text


# ------------------------------------------------------------------ generated shopper messages

OPENERS = (["I need {a} {noun}", "Looking for {a} {noun}", "Can you find me {a} {noun}", "I want {a} {noun}",
            "Show me {a} {noun}", "Do you have {a} {noun}", "I'm shopping for {a} {noun}", "{noun}",
            "I'd like {a} {noun}", "any {noun}", "Recommend {a} {noun}", "I'm after {a} {noun}",
            "Help me pick {a} {noun}", "Need {a} new {noun}", "What {noun} do you have", "Got any {noun}",
            "Searching for {a} {noun}", "Could you suggest {a} {noun}", "I'm in the market for {a} {noun}",
            "Please find {a} {noun} for me", "My old one broke, I need {a} {noun}", "A gift idea: {a} {noun}"],
           ["Hunting for {a} {noun}", "Any good {noun} out there", "My brother needs {a} {noun}",
            "Where can I find {a} {noun}", "Is there {a} {noun} you'd recommend", "I'm on the lookout for {a} {noun}",
            "Any chance you stock {noun}"])
BRAND = (["from {b}", "by {b}", "made by {b}", "{b} brand if possible", "preferably {b}", "I like {b}",
          "something from {b}", "I trust {b}", "{b} only", "the {b} kind", "a {b} one", "maybe {b}",
          "ideally from {b}", "I'd go with {b}", "if you have {b}"],
         ["ideally a {b} one", "big fan of {b}", "{b} would be ideal"])
VALUE = (["that is {v}", "with {v}", "{v} please", "it should be {v}", "needs to be {v}", "has to be {v}",
          "I want it {v}", "{v} would be great", "preferably {v}", "one that's {v}", "ideally {v}"],
         ["must be {v}", "{v} is a must", "{v} if possible"])
BUDGET = (["under ${n}", "below {n} dollars", "for less than ${n}", "no more than ${n}", "budget is ${n}",
           "max ${n}", "less than {n} dollars", "I can spend ${n}", "not over ${n}", "cheaper than ${n}",
           "my budget is {n} dollars", "at most ${n}", "within ${n}", "under {n} bucks"],
          ["${n} or less", "up to {n} bucks", "keep it under ${n}", "I don't want to spend more than ${n}",
           "${n} max"])
RANGE = (["between ${lo} and ${hi}", "${lo}-${hi}", "somewhere between {lo} and {hi} dollars",
          "in the ${lo} to ${hi} range", "${lo} to ${hi}", "at least ${lo} but under ${hi}", "priced ${lo}-{hi}",
          "anywhere from {lo} to {hi} dollars"], ["from ${lo} to ${hi}", "roughly ${lo} to ${hi}"])
AVOID_BRAND = (["but not {b}", "no {b} please", "nothing from {b}", "anything but {b}", "I don't want {b}",
                "avoid {b}", "not {b} though", "skip {b}", "not {b}", "no {b}", "except {b}", "not from {b}",
                "without {b}", "I dislike {b}", "stay away from {b}"], ["and not {b}", "steer clear of {b}"])
AVOID_VALUE = (["not {v}", "nothing {v}", "no {v}", "without {v}", "I don't want {v}", "avoid {v}",
                "anything but {v}", "not {v} though", "I dislike {v}", "no {v} please"],
               ["but no {v}", "skip {v}", "I'd rather avoid {v}"])
BEFORE_NOUN = (["{a} {v} {noun}", "{v} {noun}", "{a} {v} {noun} please", "I need {a} {v} {noun}",
                "looking for {a} {v} {noun}", "Do you have {a} {v} {noun}", "show me {v} {noun}",
                "what {v} {noun} do you have", "{a} {b} {noun}", "{b} {noun}", "I want {a} {b} {noun}",
                "{a} {v} {b} {noun}", "{a} {b} {v} {noun}"],
               ["Got any {v} {noun}", "hunting for {a} {b} {noun}", "my brother wants {a} {v} {noun}"])
AVOID_BRAND_MORE = (["no more {b} stuff", "I'm done with {b}", "had bad luck with {b}, something else"],
                    ["nothing by {b} this time"])
ALONE_VALUE = (["something in {v}", "do you have it in {v}", "any in {v}?", "I'd like it {v}", "only {v} ones"],
               ["what about {v}?", "got one that's {v}?"])
CHEAP = (["something cheap", "an affordable one", "cheap please", "the cheapest you have", "something inexpensive",
          "low price", "on a budget", "nothing pricey", "a low-cost one", "cheap", "affordable", "a bargain"],
         ["the budget-friendly kind", "as cheap as possible", "nothing expensive"])
FEEDBACK = ({"like": ["I like the {o} one", "the {o} one looks great", "I really like the {o} pick",
                      "the {o} one is nice", "{o} one please", "I'll take the {o} one", "ooh the {o} one"],
             "reject": ["not a fan of the {o} one", "I don't like the {o} one", "remove the {o} one",
                        "the {o} one is not for me", "drop the {o} one", "no to the {o} one", "hate the {o} one",
                        "not the {o} one", "no, the {o} one is wrong", "nah, skip the {o} one",
                        "definitely not the {o} one"],
             "owned": ["I already have the {o} one", "already own the {o} one", "I own the {o} one already",
                       "got the {o} one already", "I bought the {o} one last year"]},
            {"like": ["I love the {o} one", "the {o} one is perfect"],
             "reject": ["nope, not the {o} one", "get rid of the {o} one"],
             "owned": ["I already got the {o} one", "I've already bought the {o} one"]})
CHAT = (["hi there", "thanks!", "hello", "what's the weather like today", "tell me a joke", "ok", "hey",
         "cool, thanks", "who are you?", "that's all for now", "bye", "hmm let me think", "great"],
        ["good morning", "thank you so much", "see you later", "you've been very helpful"])


def _casual(text: str, rng: random.Random) -> str:
    """How people type in a chat box: sometimes all lower case, sometimes with a closing mark (training only)."""
    roll = rng.random()
    if roll < 0.25:
        text = text.lower()
    elif roll < 0.4:
        text += rng.choice(["?", "!", ".", " please", " thanks"])
    return text


def _catalog_words(item: Item, vocab: Vocabulary) -> tuple[str | None, list[tuple[str, str]]]:
    """The item's leaf category (if the vocabulary knows it) and its attribute values the parser can match
    (not those that are also a category's name)."""
    leaf = item.category_path[-1] if item.category_path else None
    leaf = leaf if leaf in vocab.levels else None
    names = {stems(level) for level in vocab.levels}  # "pour-over" the value vs Pour-Over the category: ambiguous
    values = [(k, v) for k, v in item.attributes.items()
              if k not in ("model", "warranty") and v.lower() not in ("no", "false")
              and vocab.values.get(stems(_value_text(k, v)), [None])[0] == (k, v) and stems(v) not in names]
    return leaf, values


def _singular(noun: str) -> str:
    """"running shoes" -> "running shoe" for the way people name one thing (words in -ves stay as they are)."""
    *head, last = noun.split(" ")
    if last.endswith("ies") and len(last) > 4:
        last = last[:-3] + "y"
    elif last.endswith(("ches", "shes", "xes", "sses")):
        last = last[:-2]
    elif last.endswith("s") and not last.endswith(("ss", "us", "ves")):
        last = last[:-1]
    return " ".join([*head, last])


_UNIT_FORMS = {"in": ["inch", "-inch", " inches", '"'], "l": ["L", " liters", " litre", " liter"],
               "mm": ["mm", " millimeters"], "ft": ["ft", " feet", "-foot"], "w": ["W", " watts", " watt"],
               "kg": ["kg", " kilos"], "cm": ["cm"], "ml": ["ml", " milliliters"], "g": ["g", " grams"],
               "oz": ["oz", " ounces"], "lb": ["lb", " pounds", " lbs"]}


def _typed(value: str, rng: random.Random) -> str:
    """A value as a shopper may type it: "8 in" as "8-inch" or '8"', "40 L" as "40 liters", "6 mm" as "6mm"."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?) ?([A-Za-z]+)", value)
    forms = _UNIT_FORMS.get(m.group(2).lower()) if m else None
    if not forms or rng.random() < 0.4:
        return value
    return m.group(1) + rng.choice(forms)


def generate_message(item: Item, vocab: Vocabulary, others: Sequence[Item], rng: random.Random,
                     heldout: bool) -> tuple[str, Labels]:
    """A shopper message about something like `item`, with its labels known by construction.

    Values and brands come after the noun ("a tent, 4-season") or before it ("a 4-season tent"), units as typed
    ("40 liters"), the noun singular or plural, values to avoid ("not PVC"); the label is always the
    catalog's own word for each slot, whatever the wording."""
    t = 1 if heldout else 0
    roll = rng.random()
    if roll < 0.08:
        text = rng.choice(CHAT[t])
        return (text if heldout else _casual(text, rng)), Labels()
    if roll < 0.2:
        kind = rng.choice(["like", "reject", "owned"])
        pick = rng.randint(1, 5)
        text = rng.choice(FEEDBACK[t][kind]).format(o=ORDINAL_WORDS[pick - 1])
        return (text if heldout else _casual(text, rng)), Labels((), kind, pick)
    leaf, values = _catalog_words(item, vocab)
    prefs: list[Preference] = []
    clauses: list[str] = []
    if roll < 0.26 and values:  # a value alone, the product already being talked about
        k, v = rng.choice(values)
        text = rng.choice(ALONE_VALUE[t]).format(v=_typed(_value_text(k, v), rng))
        return (text if heldout else _casual(text, rng)), Labels((Preference(f"attr:{k}", v),))
    noun = "something"
    if leaf and rng.random() < 0.8:
        noun = leaf.lower() if rng.random() < 0.5 else _singular(leaf.lower())
        prefs.append(Preference("category", leaf))  # type: ignore[arg-type]
    chosen = rng.sample(values, min(len(values), rng.choice([0, 1, 1, 1, 2, 2, 3]))) if rng.random() < 0.75 else []
    brand_ok = item.brand and stems(item.brand) in vocab.brands
    brand = item.brand if brand_ok and rng.random() < 0.45 else None
    if noun != "something" and (chosen or brand) and rng.random() < 0.45:  # needs in front of the noun
        front = chosen[:1] if chosen else []
        form = rng.choice([f for f in BEFORE_NOUN[t] if ("{v}" in f) == bool(front) and ("{b}" in f) == bool(brand)]
                          or [None])
        if form:
            v_text = _typed(_value_text(*front[0]), rng) if front else ""
            first = form.split("{a} ", 1)[-1][:3]  # the slot that follows the article
            word = v_text if first == "{v}" else brand or ""
            text = form.format(a="an" if word[:1].lower() in "aeiou" else "a", noun=noun, b=brand or "", v=v_text)
            prefs += [Preference(f"attr:{k}", v) for k, v in front]
            prefs += [Preference("brand", vocab.brands[stems(brand)])] if brand else []
            chosen, brand = chosen[1:], None
        else:
            text = rng.choice(OPENERS[t]).format(a="a", noun=noun)
    else:
        text = rng.choice(OPENERS[t]).format(a="a", noun=noun)
    for k, v in chosen:
        clauses.append(rng.choice(VALUE[t]).format(v=_typed(_value_text(k, v), rng)))
        prefs.append(Preference(f"attr:{k}", v))
    if brand:
        clauses.append(rng.choice(BRAND[t]).format(b=brand))
        prefs.append(Preference("brand", vocab.brands[stems(brand)]))
    if item.price is not None and rng.random() < 0.55:
        if rng.random() < 0.2:
            lo, hi = int(item.price * 0.5), int(item.price * 1.5) + 1
            clauses.append(rng.choice(RANGE[t]).format(lo=lo, hi=hi))
            prefs += [Preference("min_price", str(lo)), Preference("max_price", str(hi))]
        else:
            n = int(round(item.price * rng.choice([1.2, 1.5, 2.0]), -1)) or 10
            clauses.append(rng.choice(BUDGET[t]).format(n=n))
            prefs.append(Preference("max_price", str(n)))
    elif item.price is not None and rng.random() < 0.15:
        clauses.append(rng.choice(CHEAP[t]))
        prefs.append(Preference("price_band", "low"))
    other = rng.choice(others)
    if rng.random() < 0.25 and other.brand and other.brand != item.brand and stems(other.brand) in vocab.brands:
        clauses.append(rng.choice(AVOID_BRAND[t] + AVOID_BRAND_MORE[t]).format(b=other.brand))
        prefs.append(Preference("brand", vocab.brands[stems(other.brand)], False))
    if rng.random() < 0.2:  # a value to avoid: another value of one of this kind's attributes
        have = {k for k, _ in values}
        avoid = [(k, v) for k, v in _catalog_words(other, vocab)[1]
                 if (k in have or not have) and (k, v) not in values and k not in {p.attribute[5:] for p in prefs}]
        if avoid:
            k, v = rng.choice(avoid)
            clauses.append(rng.choice(AVOID_VALUE[t]).format(v=_typed(_value_text(k, v), rng)))
            prefs.append(Preference(f"attr:{k}", v, False))
    if not clauses and not prefs:
        return text, Labels()
    rng.shuffle(clauses)
    if heldout:
        return f"{text} {', '.join(clauses)}".strip(), Labels(tuple(prefs))
    return _casual(f"{text} {rng.choice([', ', ' ', ' and ']).join(clauses)}".strip(), rng), Labels(tuple(prefs))


def generate_reason_case(item: Item, vocab: Vocabulary, others: Sequence[Item],
                         rng: random.Random) -> list[Preference]:
    """Stated needs for which `item` is a pick: mostly fitting, often only partly (a missed value, an attribute
    the listing lacks, or the budget), so that the model learns to say plainly what does not fit."""
    leaf, values = _catalog_words(item, vocab)
    values = [(k, v) for k, v in values if k in shown_attributes(item, max_attrs=99)]
    kin = [o for o in others if o.category_path[-1:] == item.category_path[-1:] and o is not item] or list(others)
    prefs: list[Preference] = []
    if leaf and rng.random() < 0.5:
        prefs.append(Preference("category", leaf))
    for k, v in rng.sample(values, min(len(values), rng.choice([0, 1, 1, 2]))):
        if rng.random() < 0.35:  # a partial fit: the shopper wanted another value of this attribute
            alt = [o.attributes[k] for o in kin if o.attributes.get(k) not in (None, v)]
            v = rng.choice(alt) if alt else v
        prefs.append(Preference(f"attr:{k}", v))
    if rng.random() < 0.1:  # a need the listing says nothing about (the prompt leaves it out; see fit_notes)
        lacking = [(k, v) for o in kin for k, v in o.attributes.items()
                   if k not in item.attributes and k not in ("model", "warranty", "imdb_id") and len(v) <= 25
                   and v.lower() not in ("no", "false")]
        if lacking:
            k, v = rng.choice(lacking)
            prefs.append(Preference(f"attr:{k}", v))
    if item.brand and rng.random() < 0.3:
        prefs.append(Preference("brand", item.brand))
    if item.price is not None and rng.random() < 0.6:
        factor = rng.choice([0.7, 0.9, 1.1, 1.2, 1.5, 2.0])  # under 1: over budget, said honestly
        prefs.append(Preference("max_price", str(int(round(item.price * factor)) or 1)))
    return prefs


# ------------------------------------------------------------------ dialogues and the whole data set

def seeker_examples(texts: Iterable[str], vocab: Vocabulary, source: str, limit: int,
                    rng: random.Random, read: Reader) -> list[Example]:
    """Real seeker utterances the parser (`read`) reads as carrying no preference (thanks, chit-chat), labelled "{}"."""
    out = []
    for text in texts:
        if not 12 <= len(text) <= 160 or "@" in text:
            continue
        reading = read(text, vocab)
        labels = labels_of(reading)
        if labels.feedback or labels.preferences:
            continue  # a hand check of 20 genre labels found most wrong ("film" -> Film-Noir, "new" -> News)
        if reading.query:
            continue  # content words the parser could not place: an empty label would be a guess
        out.append(Example("extract", extraction_prompt(text), labels_to_json(labels),
                           {"source": source, "gold": labels_to_json(labels), "label": "parser"}))
    rng.shuffle(out)
    return out[:limit]


def split_catalogs(data_dir: Path | None) -> dict[str, tuple[list[Item], list[Item], list[Item]]]:
    """catalog name -> (all items for its vocabulary, training items, held-out items)."""
    demo = generate_demo_catalog()
    out = {"demo": (demo, [i for i in demo if i.top_category not in HELDOUT_DEMO],
                    [i for i in demo if i.top_category in HELDOUT_DEMO])}
    test_file = Path(__file__).resolve().parent.parent / "tests" / "data" / "catalog.jsonl"
    if test_file.exists():
        test_items = [i for i in read_catalog_file(test_file) if isinstance(i, Item)]
        out["testcat"] = (test_items, [], test_items)
    if data_dir is not None and (Path(data_dir) / "amazon2018-industrial-scientific").exists():
        amazon = amazon_items(Path(data_dir))
        held = [i for i in amazon if zlib.crc32(i.item_id.encode()) % 10 == 0]
        out["amazon"] = (amazon, [i for i in amazon if zlib.crc32(i.item_id.encode()) % 10 != 0], held)
    return out


def build_dataset(data_dir: Path | None, seed: int = 0, n_extract: int = 500, n_reason: int = 500,
                  n_dialogue: int = 150, n_heldout: int = 60, read: Reader | None = None,
                  seekers: Seekers | None = None) -> tuple[list[Example], list[Example], dict]:
    """(train, held-out, recipe): deterministic for a seed; the recipe says what went where and how many.

    `read` (the agent's parser) labels real seeker messages and `seekers` holds them (ReDial train and INSPIRED
    dev seeker texts, loaded by evals.lib.dialogues); both come from the caller, since training sits below the
    agent and the evals. Without them the dialogue examples are left out.
    """
    rng = random.Random(seed)
    catalogs = split_catalogs(data_dir)
    train: list[Example] = []
    held: list[Example] = []
    counts: dict[str, int] = {}
    for name, (everything, train_items, held_items) in catalogs.items():
        vocab = vocabulary(ItemSet(everything))
        share = 1 / sum(bool(c[1]) for c in catalogs.values())  # training examples split evenly
        for items, bucket, n, heldout in ((train_items, train, share, False),
                                          (held_items, held, 0.4 if name == "demo" else 0.3, True)):
            if not items:
                continue
            n_ex = int(n_heldout * n) if heldout else int(n_extract * n)
            n_re = int(n_heldout * n) if heldout else int(n_reason * n)
            for _ in range(n_ex):
                item = rng.choice(items)
                text, labels = generate_message(item, vocab, items, rng, heldout)
                bucket.append(Example("extract", extraction_prompt(text), labels_to_json(labels),
                                      {"source": name, "text": text, "gold": labels_to_json(labels),
                                       "label": "construction", "item_id": item.item_id}))
            for _ in range(n_re):
                item = rng.choice(items)
                prefs = generate_reason_case(item, vocab, items, rng)
                bucket.append(Example("reason", reason_prompt(prefs, item), " " + reference_reason(prefs, item, rng),
                                      {"source": name, "item_id": item.item_id,
                                       "prefs": [[p.attribute, p.value, p.wanted] for p in prefs]}))
            counts[f"{'heldout' if heldout else 'train'}_{name}"] = n_ex + n_re
    if data_dir is not None and (Path(data_dir) / "redial").exists() and read is not None and seekers is not None:
        movies = vocabulary(ItemSet(redial_items(Path(data_dir))))
        train += seeker_examples(seekers.train, movies, "redial-train", n_dialogue, rng, read)
        held += seeker_examples(seekers.heldout, movies, "inspired-dev", n_heldout // 2, rng, read)
        counts["train_redial"] = sum(e.meta["source"] == "redial-train" for e in train)
        counts["heldout_inspired"] = sum(e.meta["source"] == "inspired-dev" for e in held)
    for e in train:  # the extraction target ends the line; the model learns to stop there
        e.target = (" " + e.target if not e.target.startswith(" ") else e.target) + "\n"
    rng.shuffle(train)
    recipe = {"seed": seed, "counts": counts, "n_train": len(train), "n_heldout": len(held),
              "heldout": "demo top categories " + ", ".join(sorted(HELDOUT_DEMO)) + "; Amazon items with "
                         "crc32(id) % 10 == 0; the 24-item test catalog; held-out phrasing templates; INSPIRED dev",
              "prompts": {"extract": EXTRACT_PROMPT, "reason": REASON_PROMPT}}
    return train, held, recipe


def write_jsonl(path: Path, examples: Iterable[Example]) -> None:
    """Write examples as JSON lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        for e in examples:
            f.write(json.dumps({"task": e.task, "prompt": e.prompt, "target": e.target, "meta": e.meta}) + "\n")
