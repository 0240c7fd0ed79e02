"""Dialogue acts: what a shopper's message does, with its arguments resolved against the session.

`read_acts` turns one message into a `Reading`: the parser's preferences and intents (agent/understand.py), the
shown items it refers to (agent/references.py) and one act:

    request      states or refines needs (also "yes please", "more")
    ask_item     a question about a shown product          -> answered from its record (agent/answers.py)
    compare      which of two or more picks wins on what   -> values side by side
    critique     relative to a pick or the picks: cheaper, more premium, lighter, bigger, "like #2 but cheaper"
    superlative  cheapest, most expensive, lightest, best-rated, over the whole matching catalog
    feedback     like / not for me / already own, by number, name, brand, model number, "it", "the one I liked"
    different    something else entirely
    social       hello, thanks, bye, ok (a request in the same message still counts as the request)
    handoff      what a catalog cannot answer: shipping, discounts, returns, orders, stock
    off_topic    not shopping
    unreadable   a language convrec does not read

Structure the rules can see (a question mark, a number pointing at a pick, a comparative) decides first; the
trained act classifier (training/acts.py, MiniLM + logistic regression) decides what the rules leave open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.answers import NAMES, Asked, asked_about, attribute_of
from agent.context import Context
from agent.item_facts import NUMERIC_KEYS, value_of
from agent.language import language_of
from agent.listing import COLOURS
from agent.mentions import named_items
from agent.policy import PERSON_KEYS
from agent.references import anchored_name, capitalised, last_picks, resolve
from agent.state import Session
from agent.titles import likeliest_entries, name_words, ordinary_name, unknown_title
from agent.understand import MORE_LIKE, Update, parse_message
from retrieval.items import Item

QUESTION = re.compile(r"\?|^\W*((ok|okay|so|and|hmm+|well|also|then|but|oh|right|cool)\W+)*(is|are|does|do|did|can|"
                      r"could|will|would|has|have|had|how|what|whats|what's|which|who|where|when|why|tell me|any idea|"
                      r"i wonder|do you know|is there|are there|may i (know|ask)|i'?d like to know|i want to know)\b|"
                      r",\s*(is|are|does|do|can|will|has) (it|they|this|that)\b")
CURRENCY_Q = re.compile(r"\b(which|what) currenc(y|ies)\b|\b(is|are) (that|this|it|these|those|they|the prices?) (in )?"
                        r"(usd|us dollars?|dollars?|\$)\b|\busd\s*\?|\bin (usd|us dollars|dollars)\s*\?")
FOREIGN_MONEY = re.compile(r"\d\s*(nok|sek|dkk|eur|euros?|gbp|£|€|yen|¥|rupees?|inr|kr|chf|aud|cad)\b|[£€¥]\s*\d")
BRAND_OPINION = re.compile(r"\b(advantages?|benefits?|reputation|known for|reliable|trustworthy|good|better|best)\b.{0,30}"
                           r"\b(brand|brands|company|manufacturer|maker)\b|\b(brand|company|manufacturer)\b.{0,20}"
                           r"\b(any good|reliable|trustworthy|reputable|known for)\b")
SHOW_ME = re.compile(r"^\W*(ok(ay)?|yes|sure|great|cool)?\W*(please\W+)?(show|let me see|can i see|send)\b( me)?( (it|them|"
                     r"those|these|that|this|that one|those ones|the ones?|please))*\W*(please)?[\W\s:()dp]*$")
HANDOFF = re.compile(
    r"\b(ship|ships|shipping|shipped|deliver|delivers|delivery|deliveries|delivered|postage|courier|arrive by|"
    r"discounts?|coupons?|promo(tion)?( code)?s?|vouchers?|on sale|any (deals|offers)|returns?|return policy|"
    r"refunds?|exchange it|invoices?|receipts?|order status|my order|track(ing)? (my )?(order|package|parcel)|"
    r"in stock|out of stock|back in stock|restock|stock levels?|availability|payment|pay (with|by|in)|paypal|"
    r"credit card|installments?|financing|store hours|opening hours|gift ?wrap(ping)?|price match|customs|"
    r"sales tax|vat|pick ?up in store|warranty claim|get (it|them|this|that) to (me|us)|how (long|soon) (will|would|does|"
    r"until) (it|they|delivery|shipping)|by (monday|tuesday|wednesday|thursday|friday|saturday|sunday|tomorrow|next "
    r"week)|total (cost|price)|final pri[cs]e|"
    r"the invoice|check ?out|place (an|the|my) order|add (it|them|this) to (my )?(cart|basket)|photos?|pictures?|"
    r"pics?|images?|black friday|cyber monday|cheaper elsewhere|price drop|gift card|membership|loyalty|"
    r"(may|can|could) i see (it|them|one|a picture)|day after tomorrow|hard ?backs?|hardcovers?|paperbacks?|e-?books?|"
    r"kindle editions?|audiobooks?|other editions?|(all|which|what|other|available|your) sizes|sizes? (available|in "
    r"stock)|(us|uk|eu) size|currency|currencies|nok|sek|dkk|in euros?|convert (the )?(price|currency)|"
    r"if i buy|buy (both|all|them all)|as well\?)\b")
PRONOUN_Q = re.compile(r"\b(it|its|this|that|these|those|they|them|this one|that one)\b")
DECIDE = re.compile(r"\b((i'?ll|i will|i'?d|let'?s|gonna) (go|settle) (for|with)|i'?ll (take|get|have) (it|that|this|"
                    r"the|those|these|both))\b")
ORDER = re.compile(r"\b(please take|i'?ll buy|buy (it|them|both|this|that)|"
                   r"order (it|them|this|that)|i want to (buy|order)|purchase (it|them|this|that))\b")
REQUEST_Q = re.compile(r"\b(do|does|would|can|could) (you|u) (have|sell|carry|stock|get|show|recommend|suggest|find)\b|"
                       r"^\W*(\w+\W+)?(have you got|got any|is there any|are there any|any|anything)\b")
COMPARE = re.compile(r"\b(compare|comparison|difference|differences|differ|dif+e?rences?|vs\.?|versus|(which|what) (one|of)\b|which (is|would|should)|"
                     r"better|best of (these|those|them)|or the)\b")
LIKE_START = re.compile(r"^\W*(something |anything |movies? |films? |books? |ones? )?(like|similar to)\b")
CRITIQUES: tuple[tuple[re.Pattern, str, str], ...] = tuple((re.compile(p), key, way) for p, key, way in (
    (r"\b(cheaper|less expensive|lower[- ]priced|lower price|more affordable|too (expensive|pricey|much)|"
     r"costs? less|less money|a bit less|budget option|something less)\b", "price", "down"),
    (r"\b(more premium|pricier|more expensive|higher[- ]end|better quality|higher quality|fancier|nicer|step up|"
     r"upgrade|more upmarket|top[- ]end|splurge|a better one)\b", "price", "up"),
    (r"\b(lighter|less heavy|weighs less)\b", "weight", "down"),
    (r"\b(heavier|sturdier)\b", "weight", "up"),
    (r"\b(bigger|larger|roomier|more room|more space|longer)\b", "size", "up"),
    (r"\b(smaller|more compact|less bulky|shorter|too (big|large|bulky|long))\b", "size", "down"),
    (r"\btoo (small|tight|short)\b", "size", "up"),
    (r"\btoo heavy\b", "weight", "down"),
    (r"\b(more powerful|stronger|more power)\b", "power", "up"),
    (r"\b(longer battery|more battery)\b", "battery", "up"),
    (r"\b(newer|more recent|not (so|too|that) old|less old)\b", "year", "up"),  # where items carry a year
    (r"\b(older|not (so|too|that) (new|recent))\b", "year", "down"),
))
SUPERLATIVES: tuple[tuple[re.Pattern, str, str], ...] = tuple((re.compile(p), key, way) for p, key, way in (
    (r"\b(cheapest|least expensive|lowest[- ]priced|lowest price|most affordable|cheapo)\b", "price", "min"),
    (r"\b(most expensive|priciest|highest[- ]priced|top of the line|top[- ]of[- ]the[- ]range|most premium|"
     r"fanciest)\b", "price", "max"),
    (r"\b(lightest)\b", "weight", "min"),
    (r"\b(heaviest)\b", "weight", "max"),
    (r"\b(biggest|largest|roomiest|longest)\b", "size", "max"),
    (r"\b(smallest|most compact|shortest)\b", "size", "min"),
    (r"\b(best[- ]rated|highest[- ]rated|top[- ]rated|best reviewed|most popular|best reviews)\b", "rating", "max"),
    (r"\b(most powerful|strongest)\b", "power", "max"),
))
_FILL = r"^\s*(?:(?:ok|okay|alright|great|cool|perfect|awesome|nice|no|nope|well|lol|haha|oh)\W+)*"  # "ok thanks ..."
SOCIAL = {
    "bye": re.compile(_FILL + r"(?:(?:thanks|thank you|thx|cheers)\W+)?(bye|goodbye|see you|that'?s all|that is all|"
                      r"no,? that'?s it|that'?s it|i'?m done|nothing else|no thanks?,? (i'?m|that'?s) (good|fine|all)|"
                      r"(i'?ll|ill|i will|let me) (think about it|think it over|sleep on it|come back|be back|decide later)|"
                      r"maybe later)\b"),
    "thanks": re.compile(_FILL + r"(thanks|thank you|thx|ty|cheers)\b"),
    "chat": re.compile(r"\b(how (are|r) (you|u|ya)|how'?s it going|how (are|r) things|what'?s up|wh?at'?s your name|"
                       r"who are (you|u)|who am i (talking|speaking|chatting) (to|with)|are (you|u) (a |an )?(bot|robot|"
                       r"human|real|person|ai|machine)|what are (you|u)\W*$)"),
    "hello": re.compile(r"^\s*(hi|hello|hey|hiya|howdy|good (morning|afternoon|evening)|greetings)\b"),
    "ack": re.compile(r"^\s*(ok|okay|k|cool|great|nice|awesome|perfect|got it|i see|alright|sounds good|fine)\s*[.!]*\s*$"),
}
MORE = re.compile(r"^\s*(yes|yeah|yep|sure|ok(ay)?)?[\s,]*(please|pls)?[\s,]*(show me )?(some )?(more|others|another "
                  r"(one|few)|more please|keep going|next)?\s*(please|pls)?\s*[.!]*\s*$")
FEEDBACK = {
    "owned": re.compile(r"\b(already (have|own|got|bought|seen|saw|watched|read)|i own|i have (that|this|the|it|one)|"
                        r"bought (that|this|it) already|got (that|this|it|one) already|"
                        r"i'?ve (seen|watched|read) (it|that|this|the)|(seen|watched|read) (it|that|this|that one) already)\b"),
    "reject": re.compile(r"\b(not for me|(don'?t|do not) (like|want|need)|not (a fan|interested)|no good|hate|dislike|"
                         r"nope|not (that|this) one|remove|reject|no to)\b"),
    "like": re.compile(r"\b((i|we|my \w+|our \w+) (really |both |all )?(like|love|liked|loved|enjoyed|adored)|looks (good|great|nice)|"
                       r"(that|this)'?s? (nice|great|perfect)|"
                       r"sounds (good|great)|i'?ll take|i want (that|this) one)\b"),
}
@dataclass
class Reading:
    """One message, read: the parser's update, the act, and its arguments."""

    update: Update
    act: str = "request"
    items: list[Item] = field(default_factory=list)  # shown items the message refers to
    how: str = ""  # how they were referred to: number | name | liked | all | focus
    asked: Asked | None = None  # for ask_item / compare
    key: str = ""  # critique / superlative: "price" | "weight" | "size" | "power" | "battery" | "rating"
    way: str = ""  # critique: "down" | "up"; superlative: "min" | "max"
    social: str = ""  # bye | thanks | hello | chat | ack, also when a request came with it
    handoff: bool = False  # asks something only the shop's people or systems can answer
    language: str = ""  # the language code of an unreadable message
    feedback: str = ""  # like | reject | owned
    act_scores: dict[str, float] = field(default_factory=dict)  # the classifier's probabilities, when it ran
    nothing_shown: bool = False  # it points at picks ("the first two") before any were shown


def read_acts(ctx: Context, session: Session, text: str, scores: dict[str, float] | None = None) -> Reading:
    """Read one (already normalised) message into its act and arguments."""
    st = session.state
    code = language_of(text)
    options, pending = st.pending_options, st.pending_question
    points = re.match(r"\W*(is|are|does|do|has|can|how|what|whats|what's|which)\b.*\b(first|second|third|1st|2nd|3rd|"
                      r"last|both|these|those)\b", text.lower())
    if points and not last_picks(session):  # "is the first one waterproof?" before any pick: a need, not option one
        options, pending = [], ""
    update = parse_message(text, ctx.vocab, options, pending)
    reading = Reading(update, act_scores=scores or {})
    reading.nothing_shown = bool(points) and not st.shown and (
        not st.pending_question or st.pending_question.startswith("relax:") or bool(COMPARE.search(
            text.lower()) or re.search(r"\bdiff", text.lower())))  # "whats the diffrence between the first two?"
    # while a question waits is no answer to it
    if code:
        reading.act, reading.language = "unreadable", code
        return reading
    low = " ".join(text.lower().split())
    picks = last_picks(session)
    items, how = resolve(low, session, update.ordinal, _by_id(ctx, picks, st), ctx.index, text)
    items = [ctx.index.items[ctx.index.position[i.item_id]] if i.item_id in ctx.index.position else i
             for i in items]  # the current record (a live catalog may have changed the price since it was shown)
    if how == "catalog":  # "I loved it" names no movie called "Loved"; "I loved Inception" does (a name's capital)
        named = {i.item_id for i in named_items(text, ctx.index)}
        names = capitalised(text)  # "I loved it, what else?" names no "What If" either; "I loved Up" does
        anchored = anchored_name(low)  # "something like the matrix": a name said after "like", capitals or not
        items = [i for i in items if i.item_id in named or not ordinary_name(i) or set(name_words(i)) & names
                 or (anchored and set(name_words(i)) - {"the"} == anchored)]
        how = how if items else ""
    if how == "catalog" and len(items) > 1:
        items = likeliest_entries(ctx, items, text)
    reading.items, reading.how = items, how
    if how == "catalog" and (MORE_LIKE.search(low) or LIKE_START.match(low)):  # "something like Coco": its neighbours
        update.intents.add("more_like")
    needs = [p for p in update.preferences if p.attribute not in ("price_band",)]
    question = bool(QUESTION.search(low))
    reading.social = next((name for name, rx in SOCIAL.items() if rx.search(low)), "")
    reading.handoff = bool(HANDOFF.search(low)) or (_top(scores, "cannot_answer", 0.85) and not update.preferences)
    critique = next(((key, way) for rx, key, way in CRITIQUES if rx.search(low)), None)
    superlative = next(((key, way) for rx, key, way in SUPERLATIVES if rx.search(low)), None) or _est(low, ctx)
    feedback = next((kind for kind, rx in FEEDBACK.items() if rx.search(low)), "")
    if "injection" in update.intents:
        reading.act = "request"
        return reading
    if CURRENCY_Q.search(low) and not FOREIGN_MONEY.search(low):  # "which currency is that? USD?": answered
        reading.act, reading.asked = "ask_item", Asked("currency")
        reading.items = items or _focus_or_all(ctx, session, [p.item for p in picks])
        return reading
    if BRAND_OPINION.search(low):  # "what are the advantages of that brand?": general knowledge, not a listing
        reading.act, reading.handoff = "handoff", True
        return reading
    if FOREIGN_MONEY.search(low):  # "around 1000nok": prices here are in dollars; converting is not convrec's
        reading.act, reading.handoff = "handoff", True
        return reading
    if SHOW_ME.search(low) and not needs:  # "show me :)" after "we have a nice pair of Nike shoes"
        shown = items or ctx.index.get_items(st.focus)
        if shown:
            reading.act, reading.items = "show", shown
            return reading
    if ORDER.search(low):  # placing an order is the shop's job: hand it over, and note the liking
        reading.act, reading.handoff, reading.feedback = "handoff", True, "like"
        return reading
    if DECIDE.search(low) and not question:  # "I'll go with the first one": a choice, noted with thanks
        reading.act, reading.feedback, reading.social = "social", "like", "decided"
        return reading
    explicit = how in ("number", "name", "catalog")
    if reading.handoff and not (explicit and _names_attribute(low, items, session, ctx)) and not [
            p for p in needs if p.attribute in ("category", "brand") and p.wanted]:
        reading.act = "handoff"  # "how much is the discount", "do you ship to Canada? how long would it take?"
        return reading
    if [p for p in needs if not p.wanted and p.attribute in ("brand", "category")] and not items:
        return reading  # "not a fan of Torqwell, other brands": a refined need, not feedback on one pick
    on_screen = [p.item for p in picks]
    several = how in ("all",) or len(items) >= 2
    if question and COMPARE.search(low) and len(items) == 1 and how == "number":
        reading.act, reading.asked = "ask_item", _compare_key(low, items, ctx, critique or superlative)
        return reading  # "which of the first two is lighter?" with one pick left: its value, said plainly
    if (COMPARE.search(low) or (question and superlative)) and (several or (
            on_screen and not items and not needs and re.search(r"\bwhich\b|\bwhat one\b|\bcompare\b|\bdifference", low))):
        reading.act = "compare"
        reading.items = items if several else on_screen
        reading.asked = _compare_key(low, reading.items, ctx, critique or superlative)
        return reading
    if superlative and question and on_screen and not items and EXTREME_ONE.search(low) and not re.search(
            r"\b(you|u) (have|got|sell|carry)\b", low):  # "the biggest one you have" asks the catalog
        extreme = _extreme_on_screen(on_screen, *superlative)  # "the cheapest one, does it have noise cancelling?"
        asked = asked_about(low, [extreme], ctx.vocab) if extreme else None
        if asked is not None and asked.key is not None and asked.key not in (
                superlative[0], *NUMERIC_KEYS.get(superlative[0], ())):  # a question of its own, not its size
            reading.act, reading.items, reading.how, reading.asked = "ask_item", [extreme], "focus", asked
            return reading
    if superlative and (not items or how == "catalog") and not (
            question and on_screen and not needs and re.search(r"\bwhich\b", low)):
        reading.act, (reading.key, reading.way) = "superlative", superlative
        return reading
    if critique and items and how == "focus" and re.match(r"\W*(is|are) (this|that|it|these|those)( one)? ", low) and \
            critique[0] == "price" and not needs:
        reading.act, reading.asked = "ask_item", Asked("price")  # "is this cheaper?": its price, said plainly
        return reading
    moved_on = kinds_said(needs) and on_screen and not items and not any(_has(i, needs) for i in on_screen)
    if critique and (on_screen or items) and not (question and items and not update.query and _asks_value(low)) \
            and not moved_on:  # "a speaker, not too expensive" after stoves: a budget for speakers, not "cheaper"
        reading.act, (reading.key, reading.way) = "critique", critique
        return reading
    if critique and not on_screen and not question and st.pending_question:  # "cheaper" while a question waits:
        update.intents.add("show_now")  # no answer to it, a wish to see (lower-priced) picks now
    if (feedback or (update.feedback and update.ordinal is not None and items)) and (items or update.feedback) \
            and not question:  # "not the first one" is about that pick, as "the third one is not for me" is
        reading.act, reading.feedback = "feedback", update.feedback or feedback
        return reading
    if feedback == "like" and how == "catalog" and items and not needs:  # "I loved Inception and Interstellar,
        reading.act, reading.feedback = "feedback", "like"  # what else?": liked, and more like them wanted
        return reading
    if how == "catalog" and REQUEST_Q.search(low) and not [p for p in update.preferences if not p.wanted]:
        reading.act = "show"  # "do you have any Stephen King books?": the named items themselves
        return reading
    colour = _colour_asked(low) if REQUEST_Q.search(low) or question else None
    if colour and on_screen and not [p for p in needs if p.attribute in ("category", "brand")]:
        reading.act, reading.asked = "ask_item", Asked("color", colour)  # "do u have a pink color?" of the pick
        reading.items = items or _focus_or_all(ctx, session, on_screen)
        return reading
    if SIZE_ASK.search(low) and (items or on_screen) and PRONOUN_Q.search(low) and not kinds_said(needs) and not any(
            attribute_of(i, "size") for i in (items or on_screen)):
        reading.act, reading.handoff = "handoff", True  # "do you have size 7 of them?": sizes are not listed
        return reading
    kinds = [p for p in needs if p.attribute in ("category", "brand") and p.wanted]
    if how == "focus" and REQUEST_Q.search(low) and kinds and not any(_has(i, kinds) for i in items):
        items, reading.items, reading.how = [], [], ""  # "do you have a Samsung in this price range": "this" is
        # the price range; the Samsung is a new need, not a question about the pick in focus
    about_pick = bool(items) or bool(on_screen and PRONOUN_Q.search(low) and not REQUEST_Q.search(low))
    title = unknown_title(text, ctx) if question and how not in ("number", "name", "catalog") else None
    if not title and question and st.unknown and how in ("focus", "all", "") and (not needs or PRONOUN_Q.search(low) and all(
            p.attribute == "category" for p in needs)):  # "what colour is this phone?" after "the Apple iPhone 7"
        title = st.unknown  # "what is the price of that book?" right after a title the catalog lacks
    if title:  # "How many pages is the Big Book of Horror?": a named product the catalog does not have
        reading.act, reading.key = "missing_title", title
        return reading
    new_need = not about_pick and (any((p.attribute in ("category", "brand") or p.attribute.split(":")[-1] in
                                        PERSON_KEYS) and p.wanted for p in needs) or bool(REQUEST_Q.search(low)))
    asked = asked_about(low, items or on_screen, ctx.vocab) if (items or on_screen) else Asked(None)
    pointed = bool(on_screen and PRONOUN_Q.search(low))  # "what does that do?" with picks on screen
    if question and (items or on_screen) and not new_need and "different" not in update.intents and (
            items or asked.key is not None or pointed or _top(scores, "ask_item", 0.5)):
        if reading.handoff and asked.key is None and not items:
            reading.act = "handoff"
            return reading
        reading.act, reading.asked = "ask_item", asked
        if NAMES.search(low) and re.search(r"\b(they|them|those|these)\b", low):
            reading.items = on_screen  # "which models are they? I used the second one": all of them
        elif not items:
            reading.items = on_screen if NAMES.search(low) else _focus_or_all(ctx, session, on_screen)
        return reading
    if reading.handoff and not (needs or update.query and not question):
        reading.act = "handoff"
        return reading
    if feedback and not question and on_screen and (feedback != "like" or items):
        reading.act, reading.feedback = "feedback", feedback
        return reading
    if "different" in update.intents:
        reading.act = "different"
        return reading
    if reading.social in ("chat", "bye") and not needs and not update.feedback and (
            not items or (reading.social == "bye" and not question)):  # "i'll think about it" names no pick
        # "cool ill think about it, thanks!", "how are you?": what is left after the social words is no request
        reading.act = "social"
        return reading
    if reading.social and reading.social != "hello" and not needs and not _content(update) and not update.feedback:
        reading.act = "social"  # a greeting alone goes on as a request: the policy's first question is the answer
        return reading
    if "off_topic" in update.intents and not needs:
        reading.act = "off_topic"
        return reading
    if scores and not needs and not _content(update) and not update.intents:  # "what would you suggest?" shops
        best = max(scores, key=scores.get)
        if scores[best] >= 0.6 and best in ("social", "out_of_scope"):
            reading.act = "social" if best == "social" else "off_topic"
            reading.social = reading.social or "ack"
            return reading
    return reading


SOCIAL_WORDS = frozenset("bye goodbye see you later that all thats it done nothing else no thanks thank ok okay cool "
                         "great nice awesome perfect got alright sounds good fine hi hello hey there much very so "
                         "lot lots appreciate help helpful".split())


_LOW_ENDS = frozenset("light small cheap quiet short narrow thin slim low few".split())


def _est(low: str, ctx: Context) -> tuple[str, str] | None:
    """A superlative the fixed list lacks ("brightest", "quietest", "widest") read against the catalog's numeric
    attribute names: brightest -> brightness, max."""
    for word in re.findall(r"\b([a-z]{3,})(?:i|)est\b", low):
        root = word[:-1] if word.endswith(word[-1] * 2) else word  # "biggest" -> "big"
        if root in ("b", "l", "w", "r", "t", "gu", "int", "inter", "s", "n", "ch", "hon", "mod"):
            continue
        key = next((k for k in ctx.vocab.numeric_keys if root in k.replace("_", " ")), None)
        if key is not None:
            return key, "min" if root in _LOW_ENDS else "max"
    return None


def on_screen_items(session: Session) -> list[Item]:
    """The items of the picks on screen."""
    return [p.item for p in last_picks(session)]


def _names_attribute(low: str, items: list[Item], session: Session, ctx: Context) -> bool:
    """Whether a message asks about an attribute the items list (not price: "how much is the discount")."""
    asked = asked_about(low, items or on_screen_items(session), ctx.vocab)
    return asked.key is not None and asked.key not in ("price", "brand")


EXTREME_ONE = re.compile(r"\bthe (\w+est|most \w+|least \w+|best[- ]rated)( one| pick| pair| model)\b")


def _extreme_on_screen(items: list[Item], key: str, way: str) -> Item | None:
    """The pick on screen that is cheapest / lightest / ... by its record; None when none lists that value."""
    valued = [(v, i) for i in items if (v := value_of(i, key)) is not None]
    if not valued:
        return None
    return (min if way == "min" else max)(valued, key=lambda vi: vi[0])[1]


def _content(update: Update) -> bool:
    """Whether the message has words worth searching for beyond social ones."""
    words = [w for w in re.findall(r"[a-z']+", update.query.lower())
             if w not in SOCIAL_WORDS and len(w.strip("'")) > 1]  # "that's all" leaves "' s all": no content
    return bool(words) and update.query not in ("more", "please")


def _asks_value(low: str) -> bool:
    return bool(re.search(r"\b(how much|what|how)\b", low))


def _top(scores: dict[str, float] | None, act: str, floor: float) -> bool:
    return bool(scores) and scores.get(act, 0.0) >= floor and max(scores, key=scores.get) == act  # type: ignore[arg-type]


def _by_id(ctx: Context, picks: list, st) -> dict[str, Item]:
    ids = [p.item.item_id for p in picks] + list(st.liked) + list(st.focus)
    return {i.item_id: i for i in ctx.index.get_items(dict.fromkeys(ids))}


SIZE_ASK = re.compile(r"\b(size|sz)\s*\d+(\.\d+)?\b|\bin (a |my )?size\b|\bsizes? (\d|small|medium|large|xl|xs)")


def _colour_asked(low: str) -> str | None:
    """The colour of "do you have it in pink?" / "a pink one?" / "is there a red colour": a colour word with nothing
    but pronouns and colour words around it."""
    words = re.findall(r"[a-z]+", low)
    colours = [w for w in words if w in COLOURS]
    rest = set(words) - COLOURS - set("do does you u have has it in a an the one ones color colour colours colors "
                                      "version is there any available come comes that this those these they them "
                                      "and or also what about how".split())
    return colours[0] if len(colours) == 1 and not rest else None


def kinds_said(needs: list) -> bool:
    """Whether the message names a category or brand it wants ("hiking boots, size 10" asks for boots)."""
    return any(p.attribute in ("category", "brand") and p.wanted for p in needs)


def _has(item: Item, needs: list) -> bool:
    """Whether an item meets a brand or category need."""
    for p in needs:
        if p.attribute == "brand" and (item.brand or "").lower() == p.value.lower():
            return True
        if p.attribute == "category" and p.value.lower() in (c.lower() for c in item.category_path):
            return True
    return False


def _focus_or_all(ctx: Context, session: Session, on_screen: list[Item]) -> list[Item]:
    focus = ctx.index.get_items(session.state.focus)
    return focus or on_screen


def _compare_key(low: str, items: list[Item], ctx: Context, direction: tuple[str, str] | None) -> Asked:
    asked = asked_about(low, items, ctx.vocab)
    if asked.key is None and direction is not None:
        key = direction[0]
        if key in ("price", "rating"):
            return Asked(key)
        return asked_about(key, items, ctx.vocab)
    return asked
