"""Catalog-fact checks for scripted conversations: is what a reply says about the shown picks true of the catalog?

`check_facts(expect, turn, previous_picks, index)` reads the `facts:` mapping of a step's `expect:` and returns
failure messages (empty: all passed). `previous_picks` are the picks of the last assistant turn that had picks
(what "the second one" points at); pick numbers are 1-based. Truth always comes from the catalog record
(`index.items[index.position[item_id]]`), never from what the agent shows. "The reply" is turn.text + question;
for states_attribute / states_text, a reply answering for every pick is read only where it names pick N, and its
echo of pick N's title (3+ words) states nothing ("The listing for the Beakers, 100ml Pack doesn't say" gives no size).

    states_attribute: {pick: N, attribute: key}  the reply states pick N's value: the value itself ("8 in"; "1.3 kg"
        also as "1300 g"; "4.7/5" as "4.7"; "2" as "2" or "two people"); yes/no values: it says yes ("yes", "it is
        dishwasher safe") / no ("no", "doesn't", "not", "hand wash only"); a key the record lacks: "the listing
        doesn't say" (brand and category work as keys too)
    states_price: {pick: N}          the reply holds pick N's price ("$97.95" or "97.95"; "$29" for 29.00); an item
        without a price: the reply says the listing gives none
    states_text: {pick: N, any: [w]} the reply holds one of the words that are in pick N's title or description;
        a record with none of them: the reply says the listing doesn't say and names none of them
    names_pick: N                    the reply names pick N: its brand or a title word that no other previous pick
        has in its brand or title (model number, "18V", "Summers")
    compare_winner: {attribute: key, among: [1, 2], order: min|max}  the winner by the catalog values (units
        converted: "1.3 kg" < "1600 g"; price and rating work too) is named, every compared value is stated, and
        each comparative word ("lighter", "cheaper", "better rated", "heavier") is about the right side (the
        name before it in its clause, else after it); without one, the winner is named first; a tie: said so
    picks_cheaper_than: previous_min | previous_median | {pick: N}   every new pick costs less than that
    picks_pricier_than: previous_max | previous_median | {pick: N}   every new pick costs more than that
        (both: a turn without picks passes only when the catalog has nothing past the line in the leaf categories
        of the previous picks; {line: previous_min, where: {...}} or {pick: N, where: {...}} names the kind of
        item, as in first_pick_extreme: every new pick must be one, and only those count as "nothing past")
    first_pick_extreme: {by: price | <numeric attribute>, order: min|max, where: {...}}   the first pick has the
        extreme value among ALL catalog items matching `where`: category (as picks_in_category), brand, attributes,
        min_price, max_price (as picks_satisfy), title_has (any of these words in the title, for coarse catalogs)
    keeps_picks: true | false        true: no new picks (an answer; the earlier picks stay shown); false: picks
    act_in: [answer, compare, ...]   turn.act is one of these
    handoff: true | false            turn.handoff is this
    no_dead_end: true                picks, or act answer/compare/ask/social/handoff/unreadable/refuse, or a question,
        with some text; and never the old "You have seen every match" line
    picks_in_category: X | [X, Y] | {pick: N} | previous   every pick is in X (a category level of that exact name
        when the catalog has one, "Desks" is not "Desk Lamps"; else as picks_satisfy), in pick N's leaf category,
        or in a leaf category of the previous picks
    picks_not_in_top_category: [X]   no pick's department (category level 0 or 1, exact) is one of these
    says_missing: true | false       the reply says plainly that we don't carry / don't have it
    excludes_pick: N | [N, ...]      previous pick N is not among the new picks
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from typing import Any, Callable

from retrieval.items import Item
from retrieval.search import Filters

LIVE_ACTS = frozenset({"answer", "compare", "ask", "social", "handoff", "unreadable", "refuse"})
SEEN_ALL_START = "you have seen every match"
LINES = ("previous_min", "previous_max", "previous_median")

_MISSING = re.compile(
    r"\b(?:doesn't|does not|don't|do not|didn't|did not)\s+(?:say|mention|list|state|specify|give)\b"
    r"|\bnot\s+(?:listed|stated|specified|mentioned|given)\b|\bnot in (?:the|its|this) (?:listing|record|description)\b"
    r"|\b(?:isn't|is not|aren't|are not)\s+(?:listed|stated|specified|mentioned|given)\b"
    r"|\bno (?:information|info|details?|mention|data|price|rating|reviews?)\b|\blists? no prices?\b|\bnot rated\b"
    r"|\b(?:can't|cannot|can not|couldn't|could not)\s+(?:tell|say)\b")
_NOT_CARRIED = re.compile(
    r"\b(?:don't|do not|doesn't|does not|didn't)\s+(?:carry|have|stock|sell|offer)\b"
    r"|\bno\b[^.!?]{0,80}\b(?:in|from|at) (?:this|the|our) (?:catalog|catalogue|shop|store|range)\b"
    r"|\bnot (?:in|part of) (?:this|the|our) (?:catalog|catalogue|shop|store|range)\b"
    r"|\b(?:isn't|is not|aren't|are not) (?:something|anything) (?:we|i) (?:carry|sell|stock|have)\b")
_NEGATION = re.compile(r"\b(?:no|not|nope|never|without|lacks?|none)\b|n't\b|\bhand[- ]wash")
_AFFIRM = re.compile(r"^\W*(?:yes|yep|yeah|indeed|correct)\b")
_DENY = re.compile(r"^\W*(?:no|nope)\b")
_SENTENCE = re.compile(r"[.!?]+(?=\s|$)|\n")
_CLAUSE = re.compile(r"[.!?]+(?=\s|$)|[;:,()\n]|\s+(?:but|though|although|while|whereas|so)\s+|\s+-\s+")
_NUMBER = re.compile(r"(?<![a-z0-9.#\-])-?\d[\d,]*(?:\.\d+)?")
_UNIT_AFTER = re.compile(r'\s?-?\s?(°c|"|[a-z]+)')
# A number word is a value only before a counted noun: "the first one" and "of the two" state nothing.
_COUNTED = re.compile(r"\b(two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)[\s-]+"
                      r"(?:person|people|persons|pages?|speeds?|presets?|settings?|burners?|sheets?)\b")
_WORD_NUMBERS = {w: n for n, w in enumerate("two three four five six seven eight nine ten eleven twelve".split(), 2)}
_STOP = frozenset("the and for with from this that one its your you our are has have was not but all any per set "
                  "pack pair new".split())
_UNITS: dict[str, tuple[str, float]] = {}  # unit word -> (dimension, factor to the dimension's base unit)
for _names, _dim, _factor in [
        ("g gram grams", "mass", 1), ("kg kilo kilos kilogram kilograms", "mass", 1000),
        ("lb lbs pound pounds", "mass", 453.592), ("oz ounce ounces", "mass", 28.3495),
        ("mm millimeter millimeters millimetre millimetres", "length", 1), ("cm centimeter centimeters", "length", 10),
        ("m meter meters metre metres", "length", 1000), ('in inch inches "', "length", 25.4),
        ("ft foot feet", "length", 304.8), ("ml milliliter milliliters", "volume", 1),
        ("l liter liters litre litres", "volume", 1000), ("qt quart quarts", "volume", 946.353),
        ("cup cups", "cups", 1), ("w watt watts", "power", 1), ("kw", "power", 1000), ("v volt volts", "volt", 1),
        ("ah", "charge", 1), ("nm", "torque", 1), ("bar", "pressure", 1), ("lumen lumens lm", "light", 1),
        ("btu", "heat", 1), ("°c c", "temp", 1), ("h hr hrs hour hours", "time", 1), ("day days", "time", 24),
        ("p", "pixels", 1), ("k", "pixels", 1000)]:
    _UNITS.update(dict.fromkeys(_names.split(), (_dim, _factor)))
# Comparative words naming the side with the smaller value, then the larger.
_SMALLER = ("least expensive", "less expensive", "more affordable", "most affordable", "lighter", "lightest",
            "cheaper", "cheapest", "lower", "lowest", "smaller", "smallest", "shorter", "shortest", "fewer",
            "fewest", "thinner", "thinnest", "slimmer", "narrower", "quieter")
_LARGER = ("more expensive", "most expensive", "better rated", "higher rated", "best rated", "highest rated",
           "top rated", "heavier", "heaviest", "pricier", "priciest", "higher", "highest", "bigger", "biggest",
           "larger", "largest", "longer", "longest", "better", "stronger", "strongest", "brighter", "brightest",
           "wider", "widest", "thicker", "thickest")


class _Unusable(Exception):
    """The expectation cannot be judged on this turn (no such pick, no matching item): a failure, not a crash."""


def _unless(ok: Any, message: str) -> list[str]:
    return [] if ok else [message]


# ---------------------------------------------------------------------------- entry points

def validate_facts(spec: Any) -> list[str]:
    """Problems with a `facts:` mapping itself (unknown keys, wrong shapes), for the suite loader."""
    if not isinstance(spec, dict):
        return [f"facts must be a mapping, got {type(spec).__name__}"]
    return [p for key, value in spec.items() for p in _shape_problems(key, value)]


def _shape_problems(key: str, value: Any) -> list[str]:
    needs = {"states_attribute": {"pick", "attribute"}, "states_price": {"pick"}, "states_text": {"pick", "any"},
             "compare_winner": {"attribute", "among"}, "first_pick_extreme": {"by"}}
    if key not in _CHECKS:
        return [f"unknown facts key {key!r}; known: {sorted(_CHECKS)}"]
    if key in needs and not (isinstance(value, dict) and needs[key] <= set(value)):
        return [f"{key} needs a mapping with {sorted(needs[key])}, got {value!r}"]
    if key in ("picks_cheaper_than", "picks_pricier_than") and not (value in LINES or isinstance(value, dict) and (
            "pick" in value or value.get("line") in LINES)):
        return [f"{key} takes one of {list(LINES)}, {{pick: N}} or {{line: ..., where: ...}}, got {value!r}"]
    if key in ("compare_winner", "first_pick_extreme") and value.get("order", "min") not in ("min", "max"):
        return [f"{key} order must be min or max, got {value.get('order')!r}"]
    if key == "picks_in_category" and isinstance(value, dict) and "pick" not in value:
        return [f"picks_in_category takes names, previous or {{pick: N}}, got {value!r}"]
    if key in ("names_pick", "excludes_pick") and not all(
            isinstance(n, int) for n in (value if isinstance(value, list) else [value])):
        return [f"{key} takes pick numbers, got {value!r}"]
    return []


def matching_items(where: dict | None, index: Any) -> list[Item]:
    """The catalog items a `where:` clause names (to check that a suite names things the catalog has)."""
    matches = _where(where, index)
    return [i for i in index.items if matches(i)]


def check_facts(expect: dict, turn: Any, previous_picks: list, index: Any) -> list[str]:
    """Failure messages for the fact expectations (`expect` is the `facts:` mapping, or an expect holding one)."""
    spec = expect["facts"] if isinstance(expect.get("facts"), dict) else expect
    case = _Case(turn, list(previous_picks), index)
    failures = []
    for key, value in spec.items():
        problems = _shape_problems(key, value)
        try:
            failures += problems or [f"{key}: {msg}" for msg in _CHECKS[key](case, value)]
        except _Unusable as exc:
            failures.append(f"{key}: {exc}")
    return failures


@dataclass
class _Case:
    turn: Any
    previous: list
    index: Any

    @property
    def reply(self) -> str:
        return _norm(" ".join(t for t in (self.turn.text, getattr(self.turn, "question", None)) if t))

    def record(self, entry: Any) -> Item:
        item = getattr(entry, "item", entry)
        if item.item_id not in self.index.position:
            raise _Unusable(f"{item.item_id} is not in the catalog")
        return self.index.items[self.index.position[item.item_id]]

    def pick(self, number: Any) -> Item:
        if not 1 <= int(number) <= len(self.previous):
            raise _Unusable(f"pick {number} asked for, but the previous turn showed {len(self.previous)} picks")
        return self.record(self.previous[int(number) - 1])

    def picks(self) -> list[Item]:
        return [self.record(p) for p in self.turn.picks]

    def reply_about(self, number: int) -> str:
        """What the reply says about pick N: only its sentences naming pick N when it also names other picks ("1.
        Yes, the X ... 2. No, the Y ..."), and without the echo of pick N's title ("The listing for the Glass
        Beakers, 100ml Pack of 12 doesn't say" states no size: the 100ml is only the name)."""
        items = [self.record(p) for p in self.previous]
        sentences = [x for x in _SENTENCE.split(self.reply) if x.strip()]
        named = [{i for i, item in enumerate(items, 1) if _name_spans(x, item, items[:i - 1] + items[i:])}
                 for x in sentences]
        reply = self.reply
        if any(number in n for n in named) and any(n - {number} for n in named):
            reply = ". ".join(x.strip() for x, n in zip(sentences, named) if number in n)
        words = _norm(items[number - 1].title).split()
        for n in range(len(words), 2, -1):  # the longest title prefix of 3+ words the reply repeats
            echo = r"\s+".join(map(re.escape, words[:n]))
            if re.search(echo, reply):
                return re.sub(echo, " ", reply)
        return reply


# ---------------------------------------------------------------------------- reading replies

def _norm(text: str) -> str:
    for a, b in (("\u2019", "'"), ("\u2018", "'"), ("\u201c", '"'), ("\u201d", '"'), ("\u00a0", " "),
                 ("\u2013", " - "), ("\u2014", " - ")):
        text = text.replace(a, b)
    return text.lower()


def _attribute(item: Item, key: str) -> str | None:
    extra = {"brand": item.brand, "category": item.category_path[-1] if item.category_path else None}
    attrs = {k.lower(): v for k, v in item.attributes.items()}
    return attrs.get(key.lower(), extra.get(key.lower()))


def _quantity(text: str) -> tuple[float, str | None] | None:
    """'1.3 kg' -> (1300.0, 'mass'); '4.7/5' -> (4.7, None); '6-1/2 in' -> (165.1, 'length'); '2 person' ->
    (2.0, None); None unless the text is one number with at most one unit or noun."""
    m = re.match(r"^(-?\d[\d,]*(?:\.\d+)?)(?:-(\d+)/(\d+))?(?:\s*x\s*(\d+(?:\.\d+)?))?\s*(?:/\s*\d+)?\s*(.*)$",
                 _norm(text).strip())
    if not m:
        return None
    number = float(m.group(1).replace(",", ""))
    number += float(m.group(2)) / float(m.group(3)) if m.group(2) else 0.0
    number *= float(m.group(4)) if m.group(4) else 1.0  # "2 x 4 ft": an area, compared as a product
    rest = m.group(5).split()
    if len(rest) > 1 or (rest and not re.fullmatch(r'[a-z°"]+', rest[0])):
        return None
    unit = _UNITS.get(rest[0]) if rest else None
    return (number * unit[1], unit[0]) if unit else (number, None)


def _numbers_in(reply: str) -> list[tuple[float, str | None]]:
    """Every number in the reply with the dimension of the unit right after it (None: no unit, or a noun)."""
    found = []
    for m in _NUMBER.finditer(reply):
        number = float(m.group().replace(",", "") or 0)
        after = _UNIT_AFTER.match(reply, m.end())
        unit = _UNITS.get(after.group(1)) if after else None
        found.append((number * unit[1], unit[0]) if unit else (number, None))
    return found + [(float(_WORD_NUMBERS[w]), None) for w in _COUNTED.findall(reply)]


def _states_value(reply: str, value: str) -> bool:
    """Whether the reply states this catalog value: literally, as the same quantity, or one of its parts."""
    value = _norm(value).strip()

    def loose(s: str) -> str:  # "hard-anodized" == "hard anodized"
        return re.sub(r"[\s\-]+", " ", s)
    literal = bool(value) and re.search(rf"(?<![a-z0-9]){re.escape(loose(value))}(?![a-z0-9])", loose(reply))
    qty = _quantity(value) if value else None
    if qty is not None:  # a bare number never counts literally: "2" is also in "#2" and "pick 2"
        if literal and re.search(r"[^\d.,\s-]", value):
            return True
        return any(abs(n - qty[0]) <= 1e-6 * max(1.0, abs(qty[0])) and dim == qty[1] for n, dim in _numbers_in(reply))
    if literal:
        return True
    if ", " in value:  # "Political Fiction, Classic Literature & Fiction": any part will do
        return any(len(p) >= 4 and _states_value(reply, p) for p in value.split(", "))
    words = [w for w in re.findall(r"[a-z0-9]+", value) if len(w) > 2 and w not in _STOP]
    return bool(words) and all(re.search(rf"\b{re.escape(w)}", reply) for w in words)


def _states_price(reply: str, price: float) -> bool:
    if any(re.search(rf"(?<![\d.,]){re.escape(f)}(?!\d)", reply) for f in {f"{price:.2f}", f"{price:,.2f}"}):
        return True
    whole = price == int(price) and {f"${int(price)}", f"${int(price):,}"}
    return bool(whole) and any(re.search(rf"{re.escape(f)}(?![\d,]|\.\d)", reply) for f in whole)


def _silent(reply: str, key: str = "") -> bool:
    """The reply says the listing doesn't say ("doesn't list", "no information", "no weight given")."""
    return bool(_MISSING.search(reply)) or any(re.search(rf"\bno (?:listed |stated )?{re.escape(w)}", reply)
                                               for w in _key_words(key))


def _key_words(key: str) -> list[str]:
    return [w for w in re.split(r"[_\s]+", key.lower()) if len(w) >= 3 and w not in ("built", "safe", "has")]


def _says_yes_no(reply: str, key: str) -> tuple[bool, bool]:
    """(says yes, says no) about a yes/no attribute, read in the clauses that name it (else the first sentence)."""
    words = _key_words(key) or [key.lower()]
    about = [c for c in _CLAUSE.split(reply) if any(re.search(rf"\b{re.escape(w)}", c) for w in words)]
    scope = about or _CLAUSE.split(_SENTENCE.split(reply.strip())[0])
    negated = [c for c in scope if _NEGATION.search(c)]
    plain = [c for c in about if not _NEGATION.search(c)]
    yes = bool(_AFFIRM.search(reply) or plain) and not negated and not _DENY.search(reply)
    no = bool(_DENY.search(reply) or negated) and not _AFFIRM.search(reply)
    return yes, no


def _tokens(title: str) -> set[str]:
    return set(re.findall(r"[a-z0-9][a-z0-9'.\-]*[a-z0-9]|[a-z0-9]", _norm(title)))


def _name_spans(reply: str, item: Item, others: list[Item]) -> list[tuple[int, int]]:
    """Where the reply names the item: its brand or a title word, when no other item has it in its brand or title."""
    taken = set().union(*(_tokens(f"{o.title} {o.brand or ''}") for o in others))
    brand = _norm(item.brand or "")
    names = [brand] if brand and not _tokens(brand) <= taken and all(
        _norm(o.brand or "") != brand and brand not in _norm(o.title) for o in others) else []
    names += [t for t in _tokens(item.title) - taken if t not in _STOP and (len(t) >= 3 or any(map(str.isdigit, t)))]
    return [(m.start(), m.end()) for n in (names or [_norm(item.title)])
            for m in re.finditer(rf"(?<![a-z0-9]){re.escape(n)}(?![a-z0-9])", reply)]


# ---------------------------------------------------------------------------- what a reply says

def _states_attribute(case: _Case, spec: dict) -> list[str]:
    item, key, reply = case.pick(spec["pick"]), str(spec["attribute"]), case.reply_about(int(spec["pick"]))
    value = _attribute(item, key)
    if value is None:
        words, record = _key_words(key), _norm(f"{item.title} {item.description}")
        if words and all(re.search(rf"\b{re.escape(w)}", record) for w in words):
            raise _Unusable(f"{item.item_id} has no {key!r} attribute but its text mentions it; use states_text")
        return _unless(_silent(reply, key), f"{item.item_id} lists no {key!r}; the reply should say the listing "
                                               f"doesn't say: {reply[:160]!r}")
    if _silent(reply, key) and not _states_value(reply, value):
        return [f"the reply says the listing doesn't say, but {item.item_id} has {key}={value!r}"]
    if value.lower() in ("yes", "no", "true", "false"):
        truth = value.lower() in ("yes", "true")
        said = _says_yes_no(reply, key)[0 if truth else 1]
        return _unless(said, f"{item.item_id} has {key}={value}; the reply does not say {'yes' if truth else 'no'}: "
                             f"{reply[:160]!r}")
    return _unless(_states_value(reply, value), f"{item.item_id} has {key}={value!r}; not in {reply[:160]!r}")


def _states_price_check(case: _Case, spec: dict) -> list[str]:
    item = case.pick(spec["pick"])
    if item.price is None:
        return _unless(_silent(case.reply, "price"), f"{item.item_id} has no price; the reply does not say so")
    return _unless(_states_price(case.reply, item.price), f"{item.item_id} costs ${item.price:.2f}; not in "
                                                          f"{case.reply[:160]!r}")


def _states_text(case: _Case, spec: dict) -> list[str]:
    item = case.pick(spec["pick"])
    def flat(text: str) -> str:  # "powder-free" == "powder free"
        return re.sub(r"(?<=[a-z])-(?=[a-z])", " ", _norm(text))
    words = [flat(str(w)) for w in ([spec["any"]] if isinstance(spec["any"], str) else spec["any"])]
    record, reply = flat(f"{item.title} {item.description}"), flat(case.reply_about(int(spec["pick"])))

    def has(text: str, word: str) -> bool:
        end = r"(?![0-9])" if word[-1:].isdigit() else r"(?:s|es)?(?![a-z0-9])"  # "1.75" is in "1.75mm"
        return bool(re.search(rf"(?<![a-z0-9]){re.escape(word)}{end}", text))
    in_record = [w for w in words if has(record, w)]
    said = [w for w in words if has(reply, w)]
    if not in_record:
        return _unless(_silent(reply) and not said, f"{item.item_id}'s record has none of {words}; the "
                       f"reply should say the listing doesn't say: {reply[:160]!r}")
    return _unless(set(said) & set(in_record), f"the reply names none of {in_record} (in {item.item_id}'s record)"
                                               f"{f' but {said}' if said else ''}: {reply[:160]!r}")


def _names_pick(case: _Case, number: int) -> list[str]:
    item = case.pick(number)
    others = [case.record(p) for i, p in enumerate(case.previous, 1) if i != number]
    return _unless(_name_spans(case.reply, item, others), f"the reply does not name pick {number} ({item.title!r}): "
                                                          f"{case.reply[:160]!r}")


def _numeric(item: Item, key: str) -> float | None:
    if key == "price":
        return item.price
    raw = _attribute(item, key)
    qty = _quantity(raw) if raw else None
    return qty[0] if qty else None


def _compare_winner(case: _Case, spec: dict) -> list[str]:
    key, order, reply = str(spec["attribute"]), str(spec.get("order", "min")), case.reply
    items = [case.pick(n) for n in spec["among"]]
    values = [_numeric(i, key) for i in items]
    if None in values:
        missing = [i.item_id for i, v in zip(items, values) if v is None]
        return _unless(_silent(reply, key), f"{missing} list no {key}; the reply should say the listing doesn't")
    best = (min if order == "min" else max)(values)
    winners = {i.item_id for i, v in zip(items, values) if v == best}
    failures = [f"{i.item_id}'s {key} ({i.price if key == 'price' else _attribute(i, key)}) is not stated"
                for i in items if not (_states_price(reply, i.price) if key == "price"
                                       else _states_value(reply, _attribute(i, key) or ""))]
    if len(winners) == len(items):
        return failures + _unless(re.search(r"\b(?:same|both|equal|identical|tie|tied)\b", reply),
                                  "every value is the same; the reply should say so")
    spans = {i.item_id: _name_spans(reply, i, [o for o in items if o is not i]) for i in items}
    if not any(spans[w] for w in winners):
        return failures + [f"the reply does not name the winner {sorted(winners)}: {reply[:160]!r}"]
    verdicts = []
    for words, winner_side in ((_SMALLER, order == "min"), (_LARGER, order == "max")):
        for word in words:
            for m in re.finditer(r"\b" + word.replace(" ", r"[\s-]+") + r"\b", reply):
                target = _about(reply, m.start(), m.end(), spans)
                if target is not None and (target in winners) != winner_side:
                    verdicts.append(f"{word!r} is about {target}")
                elif target is not None:
                    verdicts.append("")
    if verdicts:
        wrong = [v for v in verdicts if v]
        return failures + _unless(not wrong, f"the comparison points the wrong way: {wrong}")
    first = min((min(s)[0], iid) for iid, s in spans.items() if s)[1]
    return failures + _unless(first in winners, f"the reply names {first} first; the winner is {sorted(winners)}")


def _about(reply: str, start: int, end: int, spans: dict[str, list[tuple[int, int]]]) -> str | None:
    """The item a comparative word is about: the closest name before it in its clause ("X is lighter"), else after
    it ("the lighter one is X"); then the same within its sentence."""
    for boundary in (_CLAUSE, _SENTENCE):
        cuts = [(m.start(), m.end()) for m in boundary.finditer(reply)]
        lo = max([e for s, e in cuts if e <= start] or [0])
        hi = min([s for s, e in cuts if s >= end] or [len(reply)])
        before = [(b, iid) for iid, ss in spans.items() for a, b in ss if lo <= a and b <= start]
        after = [(a, iid) for iid, ss in spans.items() for a, b in ss if end <= a and b <= hi]
        if before or after:
            return max(before)[1] if before else min(after)[1]
    return None


def _says_not_carried(case: _Case, value: Any) -> list[str]:
    said = bool(_NOT_CARRIED.search(case.reply))
    return _unless(said == bool(value), f"the reply {'does not say' if value else 'says'} plainly that we don't "
                                        f"carry it: {case.reply[:160]!r}")


# ---------------------------------------------------------------------------- what a turn shows

def _price_critique(case: _Case, spec: Any, cheaper: bool) -> list[str]:
    spec = spec if isinstance(spec, dict) else {"line": spec}
    if "pick" in spec:
        sources = [case.pick(spec["pick"])]
        line = sources[0].price
    else:
        sources = [case.record(p) for p in case.previous]
        prices = [i.price for i in sources if i.price is not None]
        stat = {"previous_min": min, "previous_max": max, "previous_median": statistics.median}[spec["line"]]
        line = stat(prices) if prices else None
    if line is None:
        raise _Unusable("the previous picks have no prices to compare with")
    leaves = {i.category_path[-1] for i in sources if i.category_path}
    wanted = _where(spec.get("where"), case.index)

    def beyond(price: float | None) -> bool:
        return price is not None and (price < line if cheaper else price > line)
    word, picks = ("cheaper" if cheaper else "pricier"), case.picks()
    if not picks:
        exist = [i for i in case.index.items if i.category_path and i.category_path[-1] in leaves
                 and beyond(i.price) and wanted(i)]
        return _unless(not exist, f"no picks, though the catalog has {len(exist)} {word} items in {sorted(leaves)} "
                                  f"(line ${line:.2f})")
    bad = [f"{i.item_id} (${i.price})" for i in picks if not beyond(i.price)]
    other = [i.item_id for i in picks if not wanted(i)]
    return (_unless(not bad, f"not {word} than ${line:.2f}: {bad}")
            + _unless(not other, f"not the kind asked for ({spec.get('where')}): {other}"))


def _where(where: dict | None, index: Any) -> Callable[[Item], bool]:
    """The catalog items a `where:` names: Filters keys plus `title_has` (any of these words in the title)."""
    where = dict(where or {})

    def many(name: str) -> list[str]:
        value = where.get(name)
        return [value] if isinstance(value, str) else list(value or ())
    filters = Filters(brands=tuple(many("brand")),
                      max_price=where.get("max_price"), min_price=where.get("min_price"),
                      attributes={str(k): str(v) for k, v in (where.get("attributes") or {}).items()})
    words, in_category = [_norm(w) for w in many("title_has")], _category_test(many("category"), index)
    return lambda item: (filters.accepts(item) and in_category(item)
                         and (not words or any(w in _norm(item.title) for w in words)))


def _category_test(names: list[str], index: Any) -> Callable[[Item], bool]:
    """In any of these categories: an exact level name when the catalog has one ("Desks" is not "Desk Lamps"),
    else the loose match picks_satisfy uses ("adhesives" in "Tapes, Adhesives & Sealants")."""
    if not names:
        return lambda item: True
    levels = {c.lower() for item in index.items for c in item.category_path}
    exact = {n.lower() for n in names if n.lower() in levels}
    loose = Filters(categories=tuple(n for n in names if n.lower() not in levels))
    return lambda item: bool(exact & {c.lower() for c in item.category_path}) or bool(
        loose.categories and loose.accepts(item))


def _first_pick_extreme(case: _Case, spec: dict) -> list[str]:
    key, order, where = str(spec["by"]), str(spec.get("order", "min")), spec.get("where") or {}
    matches = _where(where, case.index)
    pool = [(v, i) for i in case.index.items if matches(i) and (v := _numeric(i, key)) is not None]
    if not pool:
        raise _Unusable(f"no catalog item matches {where} with a {key}")
    best = (min if order == "min" else max)(v for v, _ in pool)
    tops = [i.item_id for v, i in pool if v == best][:3]
    picks = case.picks()
    if not picks:
        return [f"no picks; the {order} {key} is {best} ({tops})"]
    value = _numeric(picks[0], key)
    ok = matches(picks[0]) and value is not None and abs(value - best) <= 1e-9
    return _unless(ok, f"first pick {picks[0].item_id} ({key}={value}) is not the {order}: {best} ({tops})")


def _picks_in_category(case: _Case, spec: Any) -> list[str]:
    picks = case.picks()
    if spec == "previous" or isinstance(spec, dict):
        sources = [case.pick(spec["pick"])] if isinstance(spec, dict) else [case.record(p) for p in case.previous]
        leaves = {i.category_path[-1] for i in sources if i.category_path}
        bad = [f"{i.item_id} ({i.category})" for i in picks if not i.category_path or i.category_path[-1] not in leaves]
        return _unless(not bad, f"outside {sorted(leaves)}: {bad}")
    wanted = _category_test([spec] if isinstance(spec, str) else list(spec), case.index)
    bad = [f"{i.item_id} ({i.category})" for i in picks if not wanted(i)]
    return _unless(not bad, f"outside {spec}: {bad}")


def _picks_not_in_top(case: _Case, names: Any) -> list[str]:
    banned = {n.lower() for n in ([names] if isinstance(names, str) else names)}
    bad = [f"{i.item_id} ({i.category})" for i in case.picks() if {c.lower() for c in i.category_path[:2]} & banned]
    return _unless(not bad, f"picks from {sorted(banned)}: {bad}")


def _keeps_picks(case: _Case, value: Any) -> list[str]:
    shown = len(case.turn.picks)
    if value:
        return _unless(shown == 0, f"showed {shown} new picks instead of answering about the shown ones")
    return _unless(shown, "showed no picks")


def _no_dead_end(case: _Case, value: Any) -> list[str]:
    turn = case.turn
    if not value:
        return []
    if SEEN_ALL_START in case.reply:
        return ["the reply is the old 'You have seen every match' dead end"]
    live = turn.picks or getattr(turn, "act", "none") in LIVE_ACTS or getattr(turn, "question", None)
    return _unless(live and (turn.text or "").strip(), f"a dead end (act {getattr(turn, 'act', None)!r}, no picks, "
                                                       f"no question): {case.reply[:160]!r}")


def _excludes_pick(case: _Case, numbers: Any) -> list[str]:
    gone = {case.pick(n).item_id for n in ([numbers] if isinstance(numbers, int) else numbers)}
    back = [i.item_id for i in case.picks() if i.item_id in gone]
    return _unless(not back, f"shown again: {back}")


_CHECKS: dict[str, Callable[[_Case, Any], list[str]]] = {
    "states_attribute": _states_attribute, "states_price": _states_price_check, "states_text": _states_text,
    "names_pick": _names_pick, "compare_winner": _compare_winner,
    "picks_cheaper_than": lambda case, spec: _price_critique(case, spec, cheaper=True),
    "picks_pricier_than": lambda case, spec: _price_critique(case, spec, cheaper=False),
    "first_pick_extreme": _first_pick_extreme, "keeps_picks": _keeps_picks,
    "act_in": lambda case, acts: _unless(getattr(case.turn, "act", "none") in ([acts] if isinstance(acts, str)
                                                                              else acts),
                                         f"act {getattr(case.turn, 'act', None)!r} not in {acts}"),
    "handoff": lambda case, flag: _unless(bool(getattr(case.turn, "handoff", False)) == bool(flag),
                                          f"handoff is {getattr(case.turn, 'handoff', False)}, expected {bool(flag)}"),
    "no_dead_end": _no_dead_end, "picks_in_category": _picks_in_category,
    "picks_not_in_top_category": _picks_not_in_top, "says_missing": _says_not_carried, "excludes_pick": _excludes_pick,
}
FACT_KEYS = frozenset(_CHECKS)
