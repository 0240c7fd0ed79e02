"""Answers from the catalog: a question about a pick, or a comparison of picks, read off their records.

An answer states the attribute value ("Yes, the Copperleaf CL-9650 is dishwasher safe."), the price, or the
sentence of the description that answers the question, quoted; when the record holds nothing, it says "The
listing doesn't say ...". Nothing is guessed: every fact comes from `Item` fields, and a comparison puts the
values side by side before naming the winner.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache


from agent.listing import (BLURB, MUST_MENTION, QUESTION_STOP, best_sentence, quote, sentences, shouting,
                           stated_amounts, where_stated)
from agent.reasons import price_text
from agent.understand import MOOD_GENRES
from retrieval.items import Item
from retrieval.quantities import quantity
from retrieval.search import CatalogIndex
from retrieval.vocabulary import Vocabulary, stem, stems, tokens

PRICE_WORDS = re.compile(r"\b(how much|price|prices|cost|costs|priced|pricing|pricey|expensive|cheap)\b")
STRONG_PRICE = re.compile(r"\b(price|prices|cost|costs|priced|pricing|pricey|expensive|cheap|dollars|bucks)\b")
BRAND_WORDS = re.compile(r"\b(brand|who makes|made by|manufacturer|maker)\b")
# Question words -> attribute keys they usually ask about (the first key the item has wins).
KEY_HINTS: tuple[tuple[re.Pattern, tuple[str, ...]], ...] = tuple((re.compile(p), keys) for p, keys in (
    (r"\b(who'?s in|who is in|who are in|who stars|starring|cast|actors?|actress(es)?|who plays)\b", ("stars",)),
    (r"\b(directed|director|who made)\b", ("director",)),
    (r"\b(what year|which year|when was it (made|released|out)|release date|from the \d0'?s|how old is|came out|"
     r"come out)\b", ("year",)),  # a film's year: its record, else its title's "(1999)"
    (r"\b(colou?rs?|finish)\b", ("color", "colour", "finish")),  # before weight: "what colour is this light?"
    (r"\b(made of|made from|materials?|what is it made)\b", ("material", "jar_material", "frame_material")),
    (r"\b(weigh|weighs|weight|heavy|heavier|heaviest|light|lighter|lightest)\b", ("weight",)),
    (r"\b(battery|batteries|charge|runtime|run time|last)\b", ("battery_life", "battery", "runtime")),
    (r"\b(warrant(y|ies)|guarantee)\b", ("warranty",)),
    (r"\b(people|persons?|sleeps?|how many (can|does it) fit)\b", ("sleeps", "capacity", "seats")),
    (r"\b(capacity|holds?|litres?|liters?|how much (water|coffee))\b", ("capacity", "water_tank", "volume")),
    (r"\b(tall|taller|tallest|height|how high)\b", ("height",)),
    (r"\b(rain|wet|water ?proof|waterproof|splash|showers?)\b", ("waterproof", "water_resistant")),
    (r"\b(bright|brighter|brightest|brightness|lumens?)\b", ("brightness",)),
    (r"\b(loud|louder|loudest|sound output)\b", ("output_power", "max_volume")),
    (r"\b(size|sizes|big|bigger|biggest|large|larger|small|smaller|dimensions?|long|longer|length|wide|wider|"
     r"widest|width|diameter)\b", ("size", "length", "diameter", "dimensions", "width", "capacity")),
    (r"\b(power|powerful|watts?|wattage|strong|stronger|torque|volts?|voltage)\b",
     ("wattage", "power", "voltage", "max_torque")),
    (r"\b(pages?|how long is (the|this|it))\b", ("pages", "print_length", "hardcover", "paperback")),
    (r"\b(rated|rating|ratings|reviews?|stars?|score)\b", ("rating",)),
    (r"\b(author|wrote|written|writer)\b", ("author",)),
    (r"\b(genre|kind of book)\b", ("genre",)),
    (r"\b(connect|connects|connectivity|bluetooth)\b", ("connectivity",)),
    (r"\b(skill|beginners?|experts?|level)\b", ("skill_level",)),
    (r"\b(speeds?|settings)\b", ("speeds",)),
    (r"\b(pressure|bar)\b", ("pump_pressure",)),
))
LOWER_BETTER = re.compile(r"\b(lighter|lightest|cheaper|cheapest|smaller|smallest|less|least|lower|lowest|"
                          r"shorter|more compact|quieter)\b")
HIGHER_BETTER = re.compile(r"\b(heavier|heaviest|bigger|biggest|larger|largest|longer|longest|more powerful|"
                           r"stronger|higher|highest|pricier|more expensive|most expensive|better rated|best rated|"
                           r"more|most)\b")
_YES = ("yes", "true")
_NO = ("no", "false")
_IS_KEY = re.compile(r"(safe|compatible|proof|cancelling|canceling|reflective|adjustable|foldable|rechargeable|"
                     r"wireless|cordless|dimmable|able|ible|ive|ant)$")


@dataclass(frozen=True)
class Asked:
    """What a question asks: "price", "brand", an attribute key, or a free question; and a value if it names one."""

    key: str | None  # "price" | "brand" | attribute key | None (free question)
    value: str | None = None  # "is it 4-season?" -> "4-Season"


def name_of(item: Item) -> str:
    """A short name for an item after "the": brand and model, else the title's name part (before ":", " (" or a
    comma, when that is two words or more) or its first words, led by the brand when it has one; a leading article
    dropped ("the Guest List")."""
    model = item.attributes.get("model")
    if item.brand and model:
        return f"{item.brand} {model}"
    title = re.sub(r"^(?:the|a|an)\s+", "", item.title.strip(), flags=re.IGNORECASE) or item.title
    head = re.split(r":|\s\(|,\s|\s\|\s|\s-\s", title)[0].strip()
    words = head.split() if len(head.split()) >= 2 else title.split()
    if item.brand and item.brand.lower() not in " ".join(words[:6]).lower():
        words = [item.brand, *words]  # "the TONOR USB Microphone", not a name any of them could have
    return " ".join(words[:6]) + ("..." if len(words) > 6 else "")


# How to say that a listing lacks a key that reads badly after "its" ("doesn't say its sleeps").
UNSAID = {"sleeps": "how many people it is for", "seats": "how many it seats", "capacity": "its capacity"}


def _phrase(key: str) -> str:
    return key.replace("_", " ").lower()


def attribute_of(item: Item, key: str) -> str | None:
    """The item's value of an attribute, the key compared without case; None when the record lacks it."""
    lowered = {k.lower(): v for k, v in item.attributes.items()}
    if key.lower() == "year" and "year" not in lowered:
        m = re.search(r"\((\d{4})\)\s*$", item.title)  # "Halloween (1978)": the year the title carries
        return m.group(1) if m else None
    return lowered.get(key.lower())


def asked_about(low: str, items: list[Item], vocab: Vocabulary) -> Asked:
    """The attribute (or price, brand) a question asks about, read against the keys the items actually have."""
    words = set(stems(low))
    keys = {k.lower() for item in items for k in item.attributes if k.lower() != "model"}
    keys |= {"year"} if any(attribute_of(item, "year") for item in items) else set()
    named = [k for k in keys if set(stems(_phrase(k))) <= words]
    if named:
        return Asked(max(named, key=len))
    partial = _partly_named(low, keys)
    if partial:
        return Asked(partial)
    value = _value_named(low, items, vocab)
    if value is not None and value[0].lower() in keys:
        return Asked(value[0].lower(), value[1])
    if BRAND_WORDS.search(low) and not re.search(r"\bmade (of|from)\b", low):
        return Asked("brand")
    if STRONG_PRICE.search(low):  # "what does the big one cost" asks the price, not the size
        return Asked("price")
    missing = None
    for pattern, hint_keys in KEY_HINTS:
        if pattern.search(low):
            present = [k for h in hint_keys for k in sorted(keys) if k == h or h in k.split("_")]
            if present:  # "how long is the blade" -> blade_length; "max weight" -> max_weight
                return Asked(present[0])
            if hint_keys[0] == "rating":
                return Asked("rating")
            missing = missing or hint_keys[0]
    if missing:  # "how much does it weigh" with no weight listed: the listing does not say (not the price)
        return Asked(missing)
    if PRICE_WORDS.search(low):
        return Asked("price")
    return Asked(None)


def _partly_named(low: str, keys: set[str]) -> str | None:
    """The key most of whose informative words the question uses ("how bright" -> brightness is not; "the blade
    length" -> blade_length; "thickest branch ... cut" -> cutting_capacity): at least one word, most words wins."""
    words = {stem(t) for t in tokens(low) if t not in QUESTION_STOP and len(t) > 3}
    words |= {w[:-2] for w in words if w.endswith("st")} | {w[:5] for w in words if len(w) >= 5}
    best, score = None, 0
    for key in sorted(keys):
        parts = [stem(p) for p in key.split("_") if len(p) > 3 and p not in ("max", "min")]
        hits = sum(1 for p in parts if p in words or p[:5] in words)
        if hits > score:
            best, score = key, hits
    return best


def _value_named(low: str, items: list[Item], vocab: Vocabulary) -> tuple[str, str] | None:
    """(key, value) when the question names an attribute value ("is it 4-season", "is it waterproof")."""
    toks = [stem(t) for t in tokens(low)]
    for n in range(min(vocab.max_n, len(toks)), 0, -1):
        for i in range(len(toks) - n + 1):
            for key, value in vocab.values.get(tuple(toks[i:i + n]), [])[:3]:
                levels = vocab.value_levels.get((key, value.lower()), set())
                if any(attribute_of(item, key) is not None and (not levels or levels & set(item.category_path))
                       for item in items):  # "calls" is a use of earbuds, not a question about headphones
                    return key, value
    return None


OVERVIEW = re.compile(r"\b(tell me (more )?about|more (info|information|details) (on|about)|details (on|of|about)|"
                      r"describe|what is (it|this|that)\b(?! made)|what'?s (it|this|that)( one)?|what does (it|this|that) "
                      r"do|specs|specifications|plot|story|storyline|summary|synopsis|what (is|are) (it|they|this|that|"
                      r"these) for|about\s*\??\s*$)")
NAMES = re.compile(r"\b(titles?|names?|which (models?|ones|books|items|products|brands)( are| were)? (they|those|these|"
                   r"them)|what (models?|brands?) are (they|those|these))\b")


PLOT = re.compile(r"\b(plot|story|storyline|synopsis|summary|what happens|what does (it|that|this) do|what is it for|"
                  r"what'?s it for)\b|\babout\s*\??\s*$")


def synopsis(item: Item) -> str:
    """What a book (or anything) is about: the description's first sentences that are not praise or blurbs,
    quoted."""
    lines = [s for s in sentences(item)[1:] if not BLURB.search(s) and not shouting(s)][:3] or sentences(item)[1:4]
    if not lines:
        return f"The listing for the {name_of(item)} doesn't say what it is about."
    return f"The listing for the {name_of(item)} says: \"{' '.join(lines)[:500]}\""


def overview(item: Item) -> str:
    """What the record says about an item, briefly: price, a few specs, the description's first sentence."""
    name = name_of(item)
    parts = [f"The {name} ({item.title})" + (f" costs {price_text(item.price)}." if item.price is not None else ".")]
    specs = [f"{_phrase(k)} {v}" for k, v in item.attributes.items() if k.lower() not in ("model",)][:5]
    if specs:
        parts.append("Specs: " + "; ".join(specs) + ".")
    first = sentences(item)[1:3]
    if first:
        parts.append(f"The listing says: \"{' '.join(first)}\"")
    return " ".join(parts)


def is_work(item: Item) -> bool:
    """A film or a book (a titled work, no brand) whose title has no article of its own: its name takes no "the"
    ("It (2017)", not "the It (2017)"); "the Guest List" keeps the one its title has."""
    if item.brand or re.match(r"(?i)(the|a|an)\s", item.title.strip()):
        return False
    return bool(re.search(r"\(\d{4}\)\s*$", item.title) or "genre" in {k.lower() for k in item.attributes})


def called(item: Item, capital: bool = False) -> str:
    """The item's name with "the" in front, unless it is a work: "the Sonavik SV-751B", "It (2017)"."""
    name = name_of(item)
    if is_work(item):
        return name
    return f"{'The' if capital else 'the'} {name}"


def plain_names(text: str, items: list[Item]) -> str:
    """Answers say "the {name}"; a work's name goes without the article ("Logan (2017)'s director")."""
    for item in items:
        if is_work(item):
            name = name_of(item)
            text = text.replace(f"the {name}", name).replace(f"The {name}", name)
    return text


def answer(items: list[Item], asked: Asked, question: str, index: CatalogIndex) -> str:
    """The answer for one item, or one line per item when the question covers several."""
    return plain_names(_answer(items, asked, question, index), items)


def _answer(items: list[Item], asked: Asked, question: str, index: CatalogIndex) -> str:
    if asked.key is None and NAMES.search(question.lower()):
        return "They are: " + "; ".join(f"{n}. {item.title}" for n, item in enumerate(items[:5], 1)) + "."
    if asked.key is None and PLOT.search(question.lower()):
        return " ".join(synopsis(item) for item in items[:2])
    if asked.key is None and OVERVIEW.search(question.lower()):
        return " ".join(overview(item) for item in items[:3])
    if len(items) == 1:
        return answer_one(items[0], asked, question, index)
    return " ".join(f"{n}. {answer_one(item, asked, question, index)}" for n, item in enumerate(items[:5], 1))


def answer_one(item: Item, asked: Asked, question: str, index: CatalogIndex) -> str:
    """One item's answer, from its record only."""
    name = name_of(item)
    key = asked.key
    if key == "price":
        if item.price is None:
            return f"The listing doesn't give a price for the {name}."
        return f"The {name} costs {price_text(item.price)}."
    if key == "brand":
        return f"The {name} is made by {item.brand}." if item.brand else f"The listing for the {name} names no brand."
    if key == "currency":
        if item.price is None:
            return f"The prices I show are in US dollars ($); the listing for the {name} gives no price."
        return f"The prices I show are in US dollars ($): the {name} costs {price_text(item.price)}."
    if key is not None:
        value = attribute_of(item, key)
        if value is not None:
            return _attribute_answer(name, key, value, asked.value)
        stated = stated_amounts(item, key, question)
        if stated:  # "how heavy is the paper?" -> "20 Lb", in the title
            return f"The listing for the {name} gives {' and '.join(stated)}: \"{where_stated(item, stated[0])}\""
        if key in MUST_MENTION:  # "what colour is it?" is answered only by a sentence that names a colour
            said = [x for x in sentences(item) if set(tokens(x)) & MUST_MENTION[key]]
            if said:
                named = " ".join(sorted(set(tokens(said[0])) & MUST_MENTION[key]))
                return quote(item, name, said[0][:300], f"{question} {named}")
            if key == "color":  # a colour is never read into a sentence that names none
                what = f"whether it comes in {asked.value}" if asked.value else f"its {_phrase(key)}"
                return f"The listing for the {name} doesn't say {what}."
        quoted = best_sentence(item, f"{_phrase(key)} {question}", index)
        if quoted:
            return quote(item, name, quoted, question)
        what = f"whether it is {asked.value}" if asked.value else UNSAID.get(key, f"its {_phrase(key)}")
        return f"The listing for the {name} doesn't say {what}."
    found = _value_mentioned(item, question, index)
    if found:
        return found
    quoted = best_sentence(item, question, index)
    if quoted:
        return quote(item, name, quoted, question)
    facts = ", ".join(f"its {k.replace('_', ' ')}" for k in list(item.attributes)[:3]) if item.price is None and \
        item.attributes else "its price, specs"  # a movie has no price: offer what its record holds
    return f"The listing for the {name} doesn't say. I can tell you {facts} or what its description says."


def _value_mentioned(item: Item, question: str, index: CatalogIndex) -> str | None:
    """A yes/no question naming a word of a long attribute value ("is it romance?" against a genre list): yes when
    the item's value has it, no (with its value) when other items' values of that key do. A mood word stands for
    the genres that mean it ("is it scary?": horror or thriller) where the record lists genres."""
    if not QUESTION_YES_NO.search(question.lower()):
        return None
    moods = [m for t in tokens(question) for m in MOOD_GENRES.get(t.lower(), ())]
    genre_key = next((k for k in item.attributes if k.lower() == "genre"), None)
    if moods and genre_key:
        name, value = name_of(item), item.attributes[genre_key]
        has = [g for g in dict.fromkeys(moods) if g in set(stems(value)) | {t.lower() for t in tokens(value)}]
        if has:
            return f"Yes, the {name} is {' and '.join(has)}: its genre is {value}."
        return f"Probably not: the {name}'s genre is {value}, not {' or '.join(dict.fromkeys(moods))}."
    words = {stem(t) for t in tokens(question) if t not in QUESTION_STOP and len(t) > 3}
    if not words:
        return None
    name = name_of(item)
    for key, value in item.attributes.items():
        if key.lower() in ("model",):
            continue
        if words & set(stems(value)):
            return f"Yes, the {name}'s {_phrase(key)} is {value}."
    for key, value in item.attributes.items():
        if words & _key_words(index, key) and key.lower() != "model":
            return f"No, the {name}'s {_phrase(key)} is {value}."
    return None


@lru_cache(maxsize=256)
def _key_words(index: CatalogIndex, key: str) -> frozenset[str]:
    """Every word any item uses in its value of `key` (computed once per catalog and key)."""
    return frozenset(s for item in index.items for s in stems(item.attributes.get(key, "")))


QUESTION_YES_NO = re.compile(r"^\W*(\w+,? )?(is|are|does|do|has|have|can|could|will|would|was)\b")


def _attribute_answer(name: str, key: str, value: str, asked_value: str | None) -> str:
    phrase = _phrase(key)
    low = value.lower()
    if low in _YES or low in _NO:
        yes = low in _YES
        if _IS_KEY.search(key.lower()) or "_" not in key:
            return f"{'Yes' if yes else 'No'}, the {name} is {'' if yes else 'not '}{phrase}."
        return f"{'Yes' if yes else 'No'}, the {name} {'has a' if yes else 'has no'} {phrase}."
    if asked_value is not None:
        if asked_value.lower() == low:
            return f"Yes, the {name}'s {phrase} is {value}."
        return f"No, the {name}'s {phrase} is {value}, not {asked_value}."
    if key.lower() == "pages" and value.strip().isdigit():
        return f"The {name} has {value.strip()} pages."
    if key.lower() in PLURAL_KEYS:
        return f"The {name}'s {phrase} are {value}."  # "stars are Tom Hanks, Meg Ryan"
    return f"The {name}'s {phrase} is {value}."


PLURAL_KEYS = frozenset("stars actors cast authors colors colours materials features genres".split())


def compare(items: list[Item], asked: Asked, low: str) -> str:
    """Two or more items side by side on what was asked (price when nothing was), and which one wins."""
    return plain_names(_compare(items, asked, low), items)


def _compare(items: list[Item], asked: Asked, low: str) -> str:
    items = items[:5]
    names = [name_of(i) for i in items]
    if asked.key is None and all(i.price is None for i in items):
        return _side_by_side(items, names)  # "what's the difference between the first two?" about movies
    key = asked.key or "price"
    lower_wins = bool(LOWER_BETTER.search(low)) or (key == "price" and not HIGHER_BETTER.search(low))
    if key == "price":
        values = [(i.price, price_text(i.price) if i.price is not None else "no price") for i in items]
    elif key == "rating":
        values = [(_rating(i), attribute_of(i, "rating") or "no rating") for i in items]
        lower_wins = False
    else:
        raw = [attribute_of(i, key) for i in items]
        values = [((quantity(v) or (None, ""))[0] if v else None, v or "not listed") for v in raw]
    side = "; ".join(f"the {n}: {shown}" for n, (_, shown) in zip(names, values))
    numbers = [v for v, _ in values]
    if key == "brand" or not all(isinstance(v, (int, float)) for v in numbers):
        return f"Side by side on {_phrase(key)}: {side}. The listings don't let me rank them on that."
    best = min(numbers) if lower_wins else max(numbers)
    winners = [n for n, v in zip(names, numbers) if v == best]
    if len(winners) == len(names):
        return f"Side by side on {_phrase(key)}: {side}. They are the same on that."
    word = _winner_word(key, lower_wins, low)
    return f"Side by side on {_phrase(key)}: {side}. The {' and the '.join(winners)} {'is' if len(winners) == 1 else 'are'} {word}."


_NOT_COMPARED = {"model", "imdb_id", "writer", "asin"}


def _side_by_side(items: list[Item], names: list[str]) -> str:
    """Priceless items compared on the first three attributes they all list ("genre", "director", "stars")."""
    keys = [k for k in items[0].attributes if k.lower() not in _NOT_COMPARED
            and all(attribute_of(i, k) for i in items[1:])][:3]
    if not keys:
        return "The listings don't give anything to compare them on. " + " ".join(overview(i) for i in items[:2])
    rows = [f"The {n}: " + "; ".join(f"{_phrase(k)} {attribute_of(i, k)}" for k in keys) for n, i in zip(names, items)]
    same = [_phrase(k) for k in keys if len({attribute_of(i, k) for i in items}) == 1]
    return "Side by side. " + ". ".join(rows) + "." + (f" Same {' and '.join(same)}." if same else "")


def _winner_word(key: str, lower_wins: bool, low: str) -> str:
    m = (LOWER_BETTER if lower_wins else HIGHER_BETTER).search(low)
    if m and m.group(0) not in ("more", "most", "less", "least"):
        word = m.group(0)
        return {"cheapest": "cheaper", "lightest": "lighter", "smallest": "smaller", "biggest": "bigger",
                "largest": "larger", "heaviest": "heavier", "longest": "longer", "highest": "higher",
                "lowest": "lower", "most expensive": "more expensive", "best rated": "better rated"}.get(word, word)
    if key == "price":
        return "cheaper" if lower_wins else "more expensive"
    if key == "rating":
        return "rated higher"
    return f"{'lower' if lower_wins else 'higher'} on {_phrase(key)}"


def _rating(item: Item) -> float | None:
    raw = attribute_of(item, "rating")
    if not raw:
        return None
    m = re.match(r"\s*(\d+(?:\.\d+)?)", raw)
    return float(m.group(1)) if m else None
