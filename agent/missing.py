"""What a shop does not carry: a kind of product or a brand the catalog has never heard of, said plainly, with the
closest real category shown when one is close."""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from agent.context import Context
from agent.state import DialogueState, Session, Turn
from agent.tools import ToolBox
from retrieval.vocabulary import Preference, english_words, stem

NOT_PRODUCTS = frozenset(
    "gift gifts present presents birthday christmas anniversary dad mom mum mother father sister brother wife husband "
    "son daughter kid kids child children friend friends boyfriend girlfriend grandma grandpa boss colleague "
    "him her them someone me myself home house office work budget dollars dollar bucks money price prices cost "
    "people person persons thing things stuff idea ideas something anything everything option options "
    "recommendation recommendations suggestion suggestions one ones please thanks help hobby use today week "
    "yeah yes yep nope okay sure maybe actually really well hmm wow bingo cool great perfect fine new old good best "
    "nice cheap expensive other another more less some any all latest recent popular top quality too also "
    "either neither instead still even just only very much next need needs might maybe now soon later here there "
    "again please".split())


def missing_kind(ctx: Context, st: DialogueState, update, asks_new: bool, text: str) -> str | None:
    """The product noun of a request the catalog has nothing of ("hiking boots"), or None.

    The product phrase is the message's first clause up to a preposition ("waterproof hiking boots, size 10",
    "a cage for my parakeet"); its last word must be an English word no title or category of the catalog uses.
    """
    if any(p.attribute in ("category", "brand") and p.wanted for p in update.preferences) or not update.query:
        return None
    if any(p.attribute == "category" and p.wanted for p in st.preferences) and not asks_new:
        return None  # refining the current kind of product, not asking for another
    product = product_phrase(text)
    if re.search(r"\b(something|anything|stuff|things?|ideas?|suggestions?)\b", product):
        return None  # "show me something I might need next": open, not a product
    if re.search(r"\b(got|gets|getting|has|have|had|bought|adopted|owns?|is|was|loves?|likes?)\b", product):
        return None  # "my sister just got a puppy": a story about someone, not the product asked for
    words = [w for w in re.findall(r"[a-z]+", product) if len(w) > 2 and w not in ("the", "some", "any", "one")]
    if not words:
        return None
    head = words[-1]
    if head.endswith(("ly", "ful", "ous", "ive", "able", "ible", "ing")) or any(
            head.endswith(end) and (head[:-len(end)] in english_words() or head[:-len(end) - 1] in english_words())
            for end in ("er", "est")):
        return None  # "cheaper", "newer": a wish about the picks, not a product the catalog lacks ("potter" is)
    if head in NOT_PRODUCTS or not asks_new and head not in english_words() and stem(head) not in english_words():
        return None  # a person, an occasion, or a name the catalog may know by another spelling ("do you have
        # Harry Potter?" asks for a name: it is checked against the catalog's words all the same)
    known = product_words(ctx.index)
    if head in known or stem(head) in known or stem(head) in ctx.vocab.by_stem:
        return None
    return " ".join(words[-2:]) if len(words) >= 2 and words[-2] not in NOT_PRODUCTS else head


HOBBY = re.compile(r"\b(?:he|she|they|i|we|who|dad|mom|mum|son|daughter|wife|husband|sister|brother|friend|kids?|"
                   r"boyfriend|girlfriend|partner)(?:'s|'re|'m| is| are| am| has| have| really| also| just| got)*\s+"
                   r"(?:loves?|loved|likes?|enjoys?|(?:really |very )?into|(?:big|huge) fan of|fan of|passionate about|"
                   r"obsessed with|crazy about|mad about)\s+(?:doing |going |some |a lot of |playing |the )?([a-z]+)\b")
NOT_ACTIVITIES = frozenset("this that these those them things everything anything something nothing first second "
                           "third fourth fifth last other look looks idea ideas".split())
FOR_ACTIVITY = re.compile(r"\bfor\s+(?:doing |going |some |his |her |their |my |our )?([a-z]+ing)\b")


def missing_purpose(ctx: Context, text: str, update) -> str | None:
    """An activity the shopper wants something for that nothing in the catalog mentions ("he loves grilling",
    "something for fishing"), or None. Naming a kind of product or a brand takes precedence: a drill for a dad who
    loves fishing is a drill."""
    if any(p.attribute in ("category", "brand") and p.wanted for p in update.preferences):
        return None
    low = text.lower()
    for m in [*HOBBY.finditer(low), *FOR_ACTIVITY.finditer(low)]:
        word = m.group(1)
        if len(word) < 4 or word in NOT_PRODUCTS or word in NOT_ACTIVITIES:
            continue
        bases = forms(word)
        if not any(f in english_words() for f in bases):
            continue  # a name or a typo, not an activity the shopper can be told we lack
        if bases & catalog_words(ctx.index):
            continue
        return word
    return None


def forms(word: str) -> set[str]:
    """A word and the bases it may come from: grilling -> grill, hiking -> hike, shopping -> shop, grills -> grill."""
    out = {word, stem(word)}
    if word.endswith("ing") and len(word) > 5:
        base = word[:-3]
        out |= {base, base + "e"} | ({base[:-1]} if len(base) > 2 and base[-1] == base[-2] else set())
    return out


def catalog_words(index) -> frozenset[str]:
    """Every word (and its singular) of the catalog's item texts, descriptions included."""
    return _words(index, descriptions=True)


def missing_brand(ctx: Context, text: str, update) -> str | None:
    """"something from Huawei", "the Bauer brand": a brand word the catalog has never heard of."""
    if any(p.attribute == "brand" for p in update.preferences):
        return None
    m = re.search(r"\b(?:from|by|made by)\s+(?:the\s+)?([A-Za-z][\w&.-]{2,})(?:\s+brand)?\b|\b(?:the\s+)?([A-Za-z][\w&.-]{2,})"
                  r"\s+brand\b", text)
    word = (m.group(1) or m.group(2)) if m else None
    if not word or word.lower() in NOT_PRODUCTS or word.lower() in ("you", "me", "us", "them", "that", "this", "the"):
        return None
    known = product_words(ctx.index)
    low = word.lower()
    if low in known or stem(low) in known or low in ctx.index.vocabulary:
        return None
    return word[0].upper() + word[1:]


GREETING = re.compile(r"^\W*(hey|hi|hello|hiya|thanks|thank you|ok|okay|so|well|hmm+|oh|yes|no|sure|actually|wait|"
                      r"oh wait|um+|uh+|also|anyway|instead|fine|alright|all right|right|great|cool|good|perfect)\W*$")
LEFT_BEHIND = re.compile(r"^\W*(ok,? |okay,? |so,? |actually,? |hmm+,? |oh,? )*(forget|scratch|never ?mind|cancel|skip|"
                         r"not|no more|enough of|done with)\b")  # "forget shoes": what is no longer wanted

def product_phrase(text: str) -> str:
    """The words naming the product in a request: the first clause, without "do you have" / "I need", up to the
    first preposition ("waterproof hiking boots, size 10" -> "waterproof hiking boots")."""
    clauses = [c for c in re.split(r"[,.;!?]|\bbut\b", text.lower()) if c.strip()]
    clauses = [c for c in clauses if not GREETING.match(c) and not LEFT_BEHIND.match(c)] or [""]
    clause = clauses[0]
    clause = re.sub(r"^\W*(so,? |and |but |ok,? |okay,? |hmm+,? |well,? |actually,? |fine,? )*((do|does|would|can|could) "
                    r"(you|u)( guys| all| folks)? (have|sell|carry|stock|get|show|recommend|suggest|find)( any| some| an?)?|"
                    r"have you got|got any|is there any|are there any|i'?m looking for|looking for|i need|i want|"
                    r"i'?d (like|rather)( get| have| see)?|i'?d prefer|give me|get me|show me|find me|any)\b", " ", clause)
    return re.split(r"\b(?:with|that|which|for|under|over|below|above|in|from|by|of|to|at|around|about|between|"
                    r"without|but|and|so|because|like|you|size|instead|please|then|too)\b", clause)[0].strip()


def product_words(index) -> frozenset[str]:
    """Every word (and its singular) of the catalog's titles, categories and attribute values."""
    return _words(index, descriptions=False)


@lru_cache(maxsize=16)
def _words(index, descriptions: bool) -> frozenset[str]:
    words = set()
    for item in index.items:
        text = item.text() if descriptions else f"{item.title} {item.category} {' '.join(item.attributes.values())}"
        for w in re.findall(r"[a-z]+", text.lower()):
            words.add(w)
            words.add(stem(w))
    return frozenset(words)


@lru_cache(maxsize=8)
def title_stems_by_level(index) -> dict[str, frozenset[str]]:
    """Each category level -> the stemmed words of its items' titles (computed once per catalog)."""
    out: dict[str, set[str]] = {}
    for item in index.items:
        title = {stem(w) for w in re.findall(r"[a-z]+", item.title.lower())}
        for level in item.category_path:
            out.setdefault(level, set()).update(title)
    return {level: frozenset(words) for level, words in out.items()}


def not_carried(ctx: Context, session: Session, box: ToolBox, phrase: str, prefix: str, about: str = "") -> Turn:
    """Say plainly the catalog has none of it; show the closest real category, labelled, when one is close.

    `phrase` completes "We don't carry ..."; `about` (default: the phrase) is what the closest category is sought
    for ("grilling" for "anything for grilling")."""
    st = session.state
    text = f"We don't carry {phrase}."
    leaf = closest_leaf(ctx, about or phrase)
    if leaf is not None:
        st.query = ""
        st.preferences = [p for p in st.preferences if p.attribute != "category"] + [Preference("category", leaf)]
        picks = box.recommend()
        if picks:
            st.focus = []
            return Turn("assistant", prefix + f"{text} The closest we have is {leaf}, in case that helps:",
                        picks, act="recommend")
    cats = sorted({i.top_category for i in ctx.index.items if i.top_category})[:6]
    st.query = ""
    st.preferences = [p for p in st.preferences if p.attribute != "category"]  # moved on from the last kind
    question = f"Is there something else I can find for you? We have {', '.join(cats)} and more."
    return Turn("assistant", prefix + f"{text} {question}", question=question, act="ask")


CLOSE_ENOUGH = 0.8  # name + items similarity from which a category is offered as the closest to a missing product
ITEMS_CLOSE = 0.3  # ... and its items' own similarity: MiniLM rates short names loosely ("golf" ~ "Drills" 0.47)


def closest_leaf(ctx: Context, phrase: str) -> str | None:
    """The leaf category closest to a product the catalog lacks, or None when none is clearly close.

    A leaf scores by its name's MiniLM similarity to the phrase plus the mean similarity of its three closest
    items: a name alone misleads on short words ("grills" is nearest to "Kettles" by name, to camping stoves by
    items), items alone on odd ones ("bbq" finds pour-over coffee makers)."""
    embedder = ctx.index.embedder
    if embedder is None or not len(ctx.index.items):
        return None
    leaves, vectors = ctx.leaf_vectors()
    query = embedder.encode_one(phrase)
    by_name = vectors @ query
    by_item = ctx.index.embeddings @ query
    members = _leaf_members(ctx.index, tuple(leaves))
    best, best_score = None, -1.0
    for j, leaf in enumerate(leaves):
        rows = members.get(leaf)
        if rows is None:
            continue
        near = float(np.sort(by_item[rows])[-3:].mean())
        score = float(by_name[j]) + near
        if near >= ITEMS_CLOSE and score >= CLOSE_ENOUGH and score > best_score:
            best, best_score = leaf, score
    return best


@lru_cache(maxsize=8)
def _leaf_members(index, leaves: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Row numbers of each leaf category's items."""
    rows: dict[str, list[int]] = {}
    for i, item in enumerate(index.items):
        if item.category_path:
            rows.setdefault(item.category_path[-1], []).append(i)
    return {leaf: np.asarray(r) for leaf, r in rows.items() if leaf in leaves}
