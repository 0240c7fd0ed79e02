"""Reading a message: a deterministic parser over the catalog's own vocabulary, plus an optional LLM pass.

The parser turns one shopper message into an `Update` (preferences to add, intents such as "just show me
something") using only words the catalog knows (brands, category levels, attribute values) and price
patterns, so its output is always valid against the catalog. An LLM's extraction is accepted only where it
names catalog vocabulary too (`validate_llm_update`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Sequence

from agent.money import fmt, parse_budget, spell_out_numbers
from retrieval.vocabulary import GENERIC, Preference, Speller, Vocabulary, lexical_votes, stem, stems, tokens

_NEGATORS = frozenset("no not without never avoid hate dislike non nothing exclude excluding skip".split())
# Units as shoppers type them -> as catalogs write them ("1.7 liters" -> "1.7 l", "6mm" -> "6 mm"). Volts stay
# glued: catalogs write "20V".
_NUM = r"\b(\d+(?:\.\d+)?)"
_UNIT_WORDS = [(re.compile(_NUM + r"[\s-]*(?:liters?|litres?)\b"), r"\1 l"),
               (re.compile(_NUM + r"[\s-]*(?:inch(?:es)?\b|\")"), r"\1 in"),
               (re.compile(_NUM + r"[\s-]*(?:feet|foot)\b"), r"\1 ft"),
               (re.compile(_NUM + r"[\s-]*watts?\b"), r"\1 w"),
               (re.compile(_NUM + r"[\s-]*(?:kilos?|kilograms?)\b"), r"\1 kg"),
               (re.compile(_NUM + r"[\s-]*grams?\b"), r"\1 g"),
               (re.compile(_NUM + r"[\s-]*(?:pounds?)\b"), r"\1 lb"),
               (re.compile(_NUM + r"[\s-]*ounces?\b"), r"\1 oz"),
               (re.compile(_NUM + r"[\s-]*(?:millimet(?:er|re)s?)\b"), r"\1 mm"),
               (re.compile(_NUM + r"[\s-]*(?:millilit(?:er|re)s?)\b"), r"\1 ml"),
               (re.compile(_NUM + r"[\s-]*(?:centimet(?:er|re)s?)\b"), r"\1 cm"),
               (re.compile(_NUM + r"(mm|cm|kg|ml|l|ft|lbs?|oz|g|w)\b"), r"\1 \2")]

# Intent patterns; they only set flags, so a matching phrase never executes anything.
INTENTS = {
    "show_now": r"\bjust (show|recommend|give|pick)\b|\bshow (me|us)\b|\bsurprise me\b|\bwhat (else )?do you have\b|"
                r"\bwhat (have|'ve) you got\b|\bwhat('ve| have) you got\b|\bwhat do you sell\b|"
                r"\b(recommend|suggest) (me |us )?(some|something|anything|a few)\b|\bwhat would you (suggest|recommend)\b|"
                r"\bwhatever\b|\b(don'?t|do not) (really )?care\b|\bno preference\b|\banything (is|will be|works) "
                r"(fine|ok)|\byou (choose|pick|decide)\b|\b(skip|no more) (the )?questions?\b|^\s*(any|either|anything)\s*[.!]*\s*$",
    "different": r"\bsomething ((completely|totally|entirely|quite|very|a bit|really) )?(else|different)\b|\bdifferent (ones?|options|items|picks|stuff)\b|\bother options\b|"
                 r"\bshow me (others|other ones|more options)\b|\bnone of (these|those|them)\b|\bmore variety\b",
    "see_again": r"\b(show|see) (them|those|these|it|the (previous|earlier|last) (ones|picks)) again\b|"
                 r"\b(previous|earlier) (picks|suggestions|ones) again\b",
    "reset": r"^\s*(actually|instead|never ?mind|forget (that|it|this|about)|start over|new search|change of plans?|"
             r"scratch that)\b|\bstart over\b",
    "greeting": r"^\s*(hi|hello|hey|hiya|howdy|good (morning|afternoon|evening)|greetings)\b[\s!.,]*(there)?[\s!.,]*$",
    "thanks": r"^\s*(thanks|thank you|cheers|great,? thanks)\b",
    "injection": r"\b(ignore|disregard|forget|override) (all |any |the |your )?(previous|prior|above|earlier|system|"
                 r"former)? ?(instructions|prompts?|rules|directions)\b|\bsystem prompt\b|\b(reveal|print|show|repeat|"
                 r"tell me) (me )?(your|the) (instructions|prompt|rules|system)\b|\byou are now\b|\bdeveloper mode\b|"
                 r"\bjailbreak\b|\bact as (a|an) (?!shopper)\b|\bpretend (to be|you are)\b|"
                 r"\b(new|important) (rule|instruction)s?\b|\b(from|by) (the )?(admin|administrator|developer)s?\b|"
                 r"\bregardless of what\b|</?(user|system|assistant)>|(^|[\s.])(system|admin|assistant)\s*:",
    "off_topic": r"\bweather\b|\btell me a joke\b|\bjoke\b|\bpoem\b|\bpresident\b|\belection\b|\bcapital of\b|"
                 r"\bhomework\b|\btranslate\b|\bmeaning of life\b|\bwrite (me )?(a|an|some) (essay|story|code|program|"
                 r"script|song)\b|\bstock (price|market)\b|\brecipe\b|\bfootball\b|\bwho (are|made) you\b",
}
_INTENT_RE = {k: re.compile(v, re.I) for k, v in INTENTS.items()}
_ORDINALS = {"first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3,
             "fifth": 4, "5th": 4, "last": -1}
_ORDINAL_RE = re.compile(r"\b(first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|"
                         r"(?<=the )last|(?<=that )last|last(?= (?:one|pick|item|option|card)\b))\b"  # not "does it last"
                         r"(?: one| pick| item| option)?|"
                         r"(?:#|number |no\. ?|option )([1-9])\b", re.I)
MORE_LIKE = re.compile(r"\b(more like|similar to|something like|others like|more of)\b", re.I)
_LIKE = re.compile(r"\b(i (really )?(like|love)|looks (good|great)|(that|this)'?s? (nice|great|perfect))\b", re.I)
_REJECT = re.compile(r"\b((don'?t|do not) (like|want|need)|not (a fan|interested|that|this|for me|what i)|no good|"
                     r"hate|no to|remove|reject|nope|dislike|^\s*not the)\b", re.I)
_OWNED = re.compile(r"\b(already (have|own|got|bought)|i own|i have (that|this|the))\b", re.I)
_CHEAP = re.compile(r"\b(cheap(er|est)?|inexpensive|affordable|budget[- ]friendly|low[- ]cost|bargain|economical|"
                    r"(nothing|not|isn'?t|is not)( too| very| that| so| overly)? (pricey|pricy|expensive|costly)|"
                    r"(don'?t|do not|doesn'?t) (want to )?(spend|break the bank))\b", re.I)
_PREMIUM = re.compile(r"\b(premium|high[- ]end|top[- ]of[- ]the[- ]line|luxury|best quality|pricier|expensive one)\b", re.I)


@dataclass
class Update:
    """What one message changes: preferences to add, flags for intents, and the free text to search for."""

    preferences: list[Preference] = field(default_factory=list)
    intents: set[str] = field(default_factory=set)
    query: str = ""  # content words for the running search query
    ordinal: int | None = None  # "the second one" -> 1; "the last one" -> -1
    feedback: str | None = None  # "like" | "reject" | "owned" when the message reacts to a numbered pick

    def has(self, attribute: str, wanted: bool = True) -> bool:
        """Whether a preference on this attribute was extracted."""
        return any(p.attribute == attribute and p.wanted == wanted for p in self.preferences)


_SHORTHAND = {"ppl": "people", "pple": "people", "ppls": "people", "pls": "please", "plz": "please",
              "w/o": "without", "w/": "with", "abt": "about", "thx": "thanks", "tnx": "thanks", "smth": "something",
              "sth": "something", "cuz": "because", "bc": "because"}
_SHORTHAND_RE = re.compile(r"(?<![\w/])(?:" + "|".join(re.escape(k) for k in sorted(_SHORTHAND, key=len, reverse=True))
                           + r")(?![\w/])", re.IGNORECASE)


_SAW_VERB = re.compile(r"\b(i|we|you|they|he|she|just|already|never|ones|one)\s+saw\b(?!\s+(blade|blades|horse))", re.I)


def normalise(text: str, speller: Speller | None = None) -> str:
    """The message as the parser reads it best: typos corrected against the catalog's words ("cordles dril" ->
    "cordless drill"), number words as digits ("fifty bucks" -> "50 bucks", "two people" -> "2 people"), chat
    shorthand spelled out ("2 ppl" -> "2 people", "w/o" -> "without")."""
    text = _SHORTHAND_RE.sub(lambda m: _SHORTHAND[m.group(0).lower()], text)  # "2 ppl" -> "2 people"
    text = _SAW_VERB.sub(r"\1 seen", text)  # "the ones I saw" is no request for Saws
    if speller is not None:
        text = speller.correct(text)
    return spell_out_numbers(text)


# Words for how a story feels -> the genres that mean it ("something scarier" asks for horror; "is it scary?" asks
# whether it is horror or a thriller). The first genre is the one asked for.
MOVED_INTO = re.compile(r"\b(just |recently )?(moved|moving|moves|relocated) (in)?to (a |an |the |his |her |their |my |"
                        r"our |your )?(new |small |big |tiny |first |own )*\w+")
AUDIENCE = ("kids", "kid", "children", "child", "family", "toddler", "toddlers")
MOOD_GENRES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("scary", "scarier", "scariest", "frightening", "terrifying"), ("horror", "thriller")),
    **dict.fromkeys(("creepy", "creepier", "spooky", "spookier"), ("horror",)),
    **dict.fromkeys(("funny", "funnier", "funniest", "hilarious", "silly"), ("comedy",)),
    **dict.fromkeys(("romcom", "romcoms", "rom-com", "rom-coms"), ("romance", "comedy")),
    **dict.fromkeys(AUDIENCE, ("family", "animation")),
    "romantic": ("romance",), "animated": ("animation",), "cartoon": ("animation",),
    "suspenseful": ("thriller", "mystery"),
}


def _moods(low: str, vocab: Vocabulary, update: Update) -> None:
    """A mood word asks for its genre where the catalog has that category and the message named none."""
    if update.has("category"):
        return
    levels = {k.lower(): k for k in vocab.levels}
    for word in re.findall(r"[a-z]+", low):
        if word in AUDIENCE:
            continue  # "with my kids" says who watches, which a model that reads words weighs itself; "is it good
            # for kids?" is still answered from the genres (agent/answers.py)
        genre = MOOD_GENRES.get(word, ("",))[0]
        if genre in levels:
            update.preferences.append(Preference("category", levels[genre]))
            return


def parse_message(text: str, vocab: Vocabulary, options: list[str] | None = None,
                  pending: str = "") -> Update:
    """Deterministic extraction of preferences and intents from one message.

    options/pending: the concrete options of the question just asked and its attribute, so an answer like
    "the second one", "the cheaper one" or a bare value can be understood.
    """
    update = Update()
    low = " ".join(text.lower().split())
    low = MOVED_INTO.sub(" ", low)  # "my brother moved into a new flat": a home, not a flat-burr grinder
    for pattern, canonical in _UNIT_WORDS:
        low = pattern.sub(canonical, low)
    for name, pattern in _INTENT_RE.items():
        if pattern.search(low):
            update.intents.add(name)
    if "injection" in update.intents:  # keep the shopping part, drop the instruction sentences
        low = ". ".join(s for s in re.split(r"[.!?\n]+", low) if not _INTENT_RE["injection"].search(s))
    ref = _ORDINAL_RE.search(low)
    if ref and ref.group(1) and ref.group(1).lower() == "last" and re.search(
            r"\blast (week|month|year|time|night|day|summer|winter|christmas|order)\b", low):
        ref = None  # "my order from last week" points at no pick
    if ref:
        update.ordinal = _ORDINALS[ref.group(1).lower()] if ref.group(1) else int(ref.group(2)) - 1
        if _OWNED.search(low):
            update.feedback = "owned"
        elif _REJECT.search(low):
            update.feedback = "reject"
        elif MORE_LIKE.search(low):
            update.intents.add("more_like")
        elif _LIKE.search(low):
            update.feedback = "like"
    if options and pending:
        low = _resolve_answer(low, options, pending, update)
    rest, limits = parse_budget(low)
    update.preferences += limits
    rest = _parse_counts(rest, vocab, update)
    _parse_vocabulary(rest, vocab, update)
    _flags_over_categories(low, vocab, update)
    _moods(low, vocab, update)
    if _CHEAP.search(low) and not update.has("max_price"):
        update.preferences.append(Preference("price_band", "low"))
    elif _PREMIUM.search(low):
        update.preferences.append(Preference("price_band", "high"))
    if not update.intents & {"off_topic", "greeting", "thanks"} or update.preferences:
        update.query = _content(rest, update)
    if "off_topic" in update.intents and (update.preferences or update.query and _known_share(update.query, vocab) > .5):
        update.intents.discard("off_topic")
    return update


_HAS = re.compile(r"\b(has|have|having|with|built[- ]?in|integrated|comes with)\b")


def _flags_over_categories(low: str, vocab: Vocabulary, update: Update) -> None:
    """"if it has a grinder built in": a category whose head word belongs to one yes/no feature ("built in
    grinder"), said after "has"/"with", is that feature of the product being discussed, not a new product."""
    if not _HAS.search(low) or sum(p.attribute == "category" and p.wanted for p in update.preferences) == 0:
        return
    kept = []
    for p in update.preferences:
        head = vocab.level_head.get(p.value) if p.attribute == "category" and p.wanted else None
        flags = {pair for key, pairs in vocab.values.items() if head and head in key and len(key) > 1
                 for pair in pairs if pair[1].lower() in ("yes", "true")} if head else set()
        after = head and re.search(_HAS.pattern + r"\W+(?:\w+\W+){0,3}?" + re.escape(head), low)
        if len(flags) == 1 and after:
            key, value = next(iter(flags))
            kept.append(Preference(f"attr:{key}", value))
        else:
            kept.append(p)
    update.preferences = kept


def _resolve_answer(low: str, options: list[str], pending: str, update: Update) -> str:
    """Map "the second one" / "the cheaper one" / an option's words to the option's text."""
    if pending == "price" and re.search(r"\bcheap(er|est)\b|\blow(er|est)\b|\bless expensive\b", low):
        return f"{low} {options[0]}"
    if pending == "price" and re.search(r"\b(pricier|priciest|most expensive|high(er|est)|premium)\b", low):
        return f"{low} {options[-1]}"
    if update.ordinal is not None and update.feedback is None and "more_like" not in update.intents:
        if -len(options) <= update.ordinal < len(options):
            chosen = options[update.ordinal]
            update.ordinal = None  # it answered the question; it does not point at a pick
            return f"{low} {chosen}"
    return low


_COUNT = re.compile(r"\b(\d{1,2})\s*-?\s*(?:people|persons?|person|man|men|seater|seats?|adults?|of us)\b|"
                    r"\bsleeps?\s+(\d{1,2})\b")
COUNT_KEYS = ("sleeps", "capacity", "seats", "persons", "people", "occupancy", "seating")


def _parse_counts(low: str, vocab: Vocabulary, update: Update) -> str:
    """"a tent for 2 people" -> the catalog's head-count attribute (sleeps = 2), when the catalog has one."""
    m = _COUNT.search(low)
    key = next((k for k in COUNT_KEYS if k in vocab.count_keys), None)
    if not m or key is None:
        return low
    update.preferences.append(Preference(f"attr:{key}", m.group(1) or m.group(2)))  # "2", as the catalog writes it
    return low[:m.start()] + " " + low[m.end():]


def _clauses(low: str) -> list[str]:
    """Clauses with negation idioms normalised to "not", so a cue never crosses a comma or a "but"."""
    low = re.sub(r"\b(anything but|other than|except( for)?|(do not|don'?t|dont) (want|like|need)|"
                 r"no more|stay away from|rather not|not interested in|forget( about)?|never ?mind( about)?|"
                 r"enough of|done with)\b", " not ", low)
    # a full stop ends a clause; a decimal point ("0.7 kg", "Bluetooth 5.2") does not
    return [c for c in re.split(r"[,;!?]|(?<!\d)\.|\.(?!\d)|\bbut\b|\band\b(?= (?:not|no)\b)", low) if c.strip()]


def _parse_vocabulary(low: str, vocab: Vocabulary, update: Update) -> None:
    """Brands, categories and attribute values named in the text, with their negation."""
    cats: dict[str, tuple] = {}
    for clause in _clauses(low):
        words = tokens(clause)
        toks = [stem(t) for t in words]
        used = [False] * len(toks)
        # A category's whole name ("espresso machines", "pour-over") names the category, not the attribute value
        # that shares a word with it (use case "espresso"), unless it follows "for" (what the thing is for).
        held = [False] * len(toks)
        for n in range(1, min(vocab.max_n, len(toks)) + 1):  # "yoga mat", "a cat tree": the level, not the use
            for i in range(min(len(toks), _purpose_start(words)) - n + 1):
                if tuple(toks[i:i + n]) in vocab.level_phrases:
                    held[i:i + n] = [True] * n
        for n in range(min(vocab.max_n, len(toks)), 0, -1):
            for i in range(len(toks) - n + 1):
                if any(used[i:i + n]) or any(held[i:i + n]):
                    continue
                key = tuple(toks[i:i + n])
                wanted = not any(w in _NEGATORS or w.endswith("n't") for w in words[max(0, i - 4):i])
                after_for = i >= _purpose_start(words) and "from" not in words[:i] and "by" not in words[:i]
                if key in vocab.brands and not after_for:  # "a vise for my workshop" names no brand
                    update.preferences.append(Preference("brand", vocab.brands[key], wanted))
                elif key in vocab.values:
                    for attr, value in vocab.values[key][:1]:
                        update.preferences.append(Preference(f"attr:{attr}", value, wanted))
                else:
                    continue
                used[i:i + n] = [True] * n
        # Words after "for" say what it is for ("filament for my 3D printer"), not what it is.
        end = _purpose_start(words)
        found = [i for i in range(end) if not used[i] and toks[i] in vocab.by_stem]
        head = toks[found[-1]] if found else ""  # English puts the product noun last: "3D printer filament"
        for i in found:
            s = toks[i]
            wanted = not any(w in _NEGATORS or w.endswith("n't") for w in words[max(0, i - 4):i])
            for level in vocab.by_stem[s]:
                stems_of = vocab.levels[level]
                matched = {t for t in toks[:end] if t in stems_of}
                is_head = vocab.level_head.get(level) in matched and vocab.level_head.get(level) not in _WEAK_HEADS
                coverage = len(matched) / len(stems_of)
                if not (is_head or coverage > 0.5):
                    continue  # "tape" alone does not mean "Adhesive Tapes Filament Tape"
                if not wanted:
                    if vocab.level_head.get(level) == s:
                        update.preferences.append(Preference("category", level, False))
                    continue
                score = (head in stems_of, len(matched), is_head, coverage, vocab.level_depth[level])
                cats[level] = max(score, cats.get(level, score))
    if len(cats) > 1:
        votes = lexical_votes(vocab, low, list(cats))
        if votes and max(votes.values()) > 0:  # levels none of the best text matches are filed under drop out
            cats = {lvl: sc for lvl, sc in cats.items() if votes[lvl] > 0}
    if cats:
        best = max(cats.values())
        top = [lvl for lvl, sc in cats.items() if sc == best]
        said = set(stems(low))  # "a lamp for my desk": of Desk Lamps and Floor Lamps, the one every word of is said
        top = [lvl for lvl in top if vocab.levels[lvl] <= said] or top
        if len(top) <= 3:  # an ambiguous word ("sanding" in ten levels) stays a search word
            update.preferences += [Preference("category", lvl) for lvl in sorted(top)]


# A category whose last word is one of these ("Pour-Over") is not named by that word alone ("over ear ones").
_WEAK_HEADS = frozenset("over under up out off on in top back front side down".split())

_SEEKING = frozenset("look looking shopping shop searching search hunting options something anything ideas "
                     "recommendations suggestions".split())


PEOPLE = frozenset("dad mom mum mother father parents sister brother wife husband son daughter kid kids child children "
                   "friend friends boyfriend girlfriend grandma grandpa grandmother grandfather boss colleague partner "
                   "baby toddler teen teenager nephew niece uncle aunt cousin him her them me myself someone "
                   "somebody".split())


def _purpose_start(words: list[str]) -> int:
    """Index of the first "for" that starts a purpose ("for my workshop"), not "looking for" nor a recipient ("for
    my dad who loves gardening": what he loves is what is wanted); len when none."""
    for i, w in enumerate(words):
        if w == "for" and (i == 0 or words[i - 1] not in _SEEKING):
            after = [x for x in words[i + 1:i + 4] if x not in ("my", "his", "her", "our", "their", "a", "the")]
            if after and after[0] in PEOPLE:
                continue
            return i
    return len(words)


def _content(low: str, update: Update) -> str:
    """The words worth searching for: the message without negated clauses and intent phrases."""
    kept = []
    for clause in _clauses(low):
        words = tokens(clause)
        if any(w in _NEGATORS or w.endswith("n't") for w in words):
            neg = next(i for i, w in enumerate(words) if w in _NEGATORS or w.endswith("n't"))
            words = words[:neg]
        kept += words
    text = " ".join(kept)
    for name in ("show_now", "different", "see_again", "reset", "greeting", "thanks"):
        text = _INTENT_RE[name].sub(" ", text)
    text = re.sub(r"\b(i|i'm|im|need|want|looking|look|for|a|an|the|some|please|me|my|to|buy|get|find|show|"
                  r"recommend|something|actually|first|second|third|fourth|fifth|last|1st|2nd|3rd|4th|5th|option|pick|more|similar|different|else|other||instead|with|one|that|this|it|is|and|or|of|in|can|you|would|like|"
                  r"hey|hi|hello|thanks|ok|okay|yes|just|any|anything|also|should|be|do|what|have|got|good)\b", " ", text)
    return " ".join(text.split())[:300]


def _known_share(text: str, vocab: Vocabulary) -> float:
    words = stems(text)
    known = {s for key in (*vocab.brands, *vocab.values) for s in key} | set(vocab.by_stem)
    return sum(w in known for w in words) / max(len(words), 1)


# ---------------------------------------------------------------------- checking a model's reading

def named_only_as_purpose(value: str, text: str) -> bool:
    """Whether a category's words occur in the text only after a purpose "for" ("PLA for my 3D printer" names
    filament, not 3D Printers): a model reading that lifts it from there is not what the shopper wants."""
    words = tokens(text)
    start = _purpose_start(words)
    if start == len(words):
        return False
    wanted = set(stems(value)) - GENERIC
    before, after = {stem(w) for w in words[:start]}, {stem(w) for w in words[start:]}
    return bool(wanted) and not wanted & before and wanted <= after


def merge_preferences(parsed: Sequence[Preference], model: Sequence[Preference]) -> list[Preference]:
    """The parser's preferences, completed by a model's reading: a model preference on an attribute the parser
    left unset is added, and one that names a longer form of the parser's value for the same attribute
    ("Bluetooth 5.2" for "Bluetooth", "0.7 kg" for "7 kg") replaces it. The parser wins every other conflict."""
    out = list(parsed)
    have = {p.attribute for p in parsed}
    for m in model:
        same = [i for i, p in enumerate(out) if p.attribute == m.attribute and p.wanted == m.wanted]
        if m.attribute not in have:
            out.append(m)
        elif len(same) == 1 and m.attribute.startswith("attr:"):
            p = out[same[0]]
            if p.value.lower() != m.value.lower() and p.value.lower() in m.value.lower():
                out[same[0]] = m
    return out


def validate_llm_update(raw: str, vocab: Vocabulary) -> list[Preference]:
    """Preferences from an LLM's JSON answer, keeping only values the catalog vocabulary knows."""
    match = re.search(r"\{.*\}", raw or "", re.S)
    if not match:
        return []
    try:
        data = json.loads(match.group(0))
    except json.JSONDecodeError:
        return []
    if not isinstance(data, dict):
        return []
    prefs: list[Preference] = []
    brand = data.get("brand")
    if isinstance(brand, str) and stems(brand) in vocab.brands:
        prefs.append(Preference("brand", vocab.brands[stems(brand)]))
    category = data.get("category")
    if isinstance(category, str):
        prefs += [Preference("category", lvl) for lvl in vocab.levels if lvl.lower() == category.strip().lower()]
    price = data.get("max_price")
    if isinstance(price, (int, float)) and 0 < price < 1e7 and vocab.has_prices:
        prefs.append(Preference("max_price", fmt(float(price))))
    for key, wanted in (("must_have", True), ("avoid", False)):
        values = data.get(key) or []
        for value in values if isinstance(values, list) else []:
            if isinstance(value, str) and stems(value) in vocab.values:
                attr, canonical = vocab.values[stems(value)][0]
                prefs.append(Preference(f"attr:{attr}", canonical, wanted))
    return prefs
