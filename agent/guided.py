"""Guided mode: an explicit dialogue policy drives the tools; a language model, if any, only words things.

One turn: read the message into a dialogue act (agent/acts.py) -> answer what needs no search (a question about a
pick, a comparison, thanks, a hand-off, a language convrec cannot read) -> otherwise update the state
(agent/policy.py: needs, critiques) -> decide: ask the most informative question or recommend (agent/tools.py)
-> reasons (agent/reasons.py, worded by agent/wording.py) -> reply. Every reply shows picks, answers, or asks.
"""

from __future__ import annotations

import re

from agent.acts import REQUEST_Q, Reading, read_acts
from agent.answers import answer, called, compare, name_of
from agent.context import Context
from agent.item_facts import has_kind, value_of
from agent.language import unreadable_reply
from agent.missing import (forms, missing_brand, missing_kind, missing_purpose, not_carried, product_phrase,
                           title_stems_by_level)
from agent.policy import PERSON_KEYS, apply_critique, apply_update, constraints_of, should_ask
from agent.prompts import REFUSAL
from agent.reasons import price_text
from agent.references import last_picks
from agent.replies import ask, intro, record_feedback, redirect
from agent.state import DialogueState, Session, Turn
from agent.tools import NO_PRICES, SEEN_ALL, ToolBox
from agent.understand import PEOPLE, normalise, parse_message
from agent.wording import model_preferences, reword
from retrieval.vocabulary import FUNCTION_WORDS, Preference, category_of_phrase, stem, tokens

_YES = re.compile(r"^\s*(yes|yeah|yep|sure|ok(ay)?|please|go ahead|fine|do it|why not)\b", re.I)
HANDOFF_TEXT = ("I can't answer that here: I only know what the product listings say (prices, specs and "
                "descriptions), not {topic}. I've marked this for a colleague who can help.")
TOO = re.compile(r"\btoo (big|large|bulky|long|small|tight|short|heavy|expensive|pricey|much)\b")
HOW_ARE_YOU = re.compile(r"\b(how (are|r) (you|u|ya)|how'?s it going|how (are|r) things|what'?s up)\b", re.I)
SOCIAL_TEXT = {
    "thanks": "You're welcome! Ask me about any of these, or tell me what else you need.",
    "bye": "Happy shopping! Come back any time.",
    "ack": "Glad that helps. Ask me about any of these, say 'cheaper' or 'something different', or tell me what "
           "else you need.",
}


def guided_turn(ctx: Context, session: Session, text: str) -> Turn:
    """Answer one message with the dialogue policy; the caller appends the user turn and records the picks."""
    st = session.state
    liked_before = len(st.liked)
    text = normalise(text, ctx.speller)
    reading = read_acts(ctx, session, text, ctx.act_scores(text))
    update = reading.update
    if reading.act == "unreadable":
        return Turn("assistant", unreadable_reply(reading.language), act="unreadable")
    if not update.intents & {"off_topic", "injection", "greeting"}:
        update.preferences = model_preferences(ctx, text, update)
    pending = st.pending_question
    if pending.startswith("which:") and reading.items:  # the answer to "which one do you mean?"
        st.pending_question = ""
        record_feedback(ctx, session, reading.items[0].item_id, pending[6:])  # type: ignore[arg-type]
        return after_feedback(ctx, session, reading.items[0].item_id, pending[6:])
    if pending and not pending.startswith(("relax:", "which:")) and pending not in st.asked:
        st.asked.append(pending)
    st.pending_question, st.pending_options = "", []
    prefix = REFUSAL + " " if "injection" in update.intents else ""
    if reading.act in ("ask_item", "compare"):
        st.focus, st.unknown = [i.item_id for i in reading.items], ""
        if reading.act == "compare":
            return Turn("assistant", compare(reading.items, reading.asked, text.lower()), act="compare")
        return Turn("assistant", answer(reading.items, reading.asked, text, ctx.index), act="answer")
    if reading.act == "show":
        picks = reword(ctx, ctx.toolbox(session).show(reading.items), st)
        if picks:
            st.focus = []
            return Turn("assistant", intro(ctx, st, picks, [], False), picks, act="recommend")
    if reading.act == "handoff":
        return Turn("assistant", HANDOFF_TEXT.format(topic=_topic(text)), act="handoff", handoff=True)
    if reading.act == "missing_title":
        st.unknown, st.focus = reading.key, []
        return Turn("assistant", f"I can't find \"{reading.key}\" in this catalog, so I can't answer for it. Ask me about "
                                 "one of the picks, or tell me what you're looking for.", act="answer")
    if reading.social == "decided":
        chosen = reading.items or [p.item for p in last_picks(session)][:1]
        if chosen:
            record_feedback(ctx, session, chosen[0].item_id, "like")
            return Turn("assistant", f"Good choice: the {name_of(chosen[0])}. I've noted that you like it; the shop "
                                     "takes care of buying it. Anything else I can find for you?", act="social")
    if reading.act == "social" and not (reading.social in ("hello", "ack", "") and not st.shown):
        return _social(ctx, session, reading, text)  # before any picks, "hi" / "ok" go on to the policy's question
    if reading.act == "off_topic":
        return Turn("assistant", prefix + redirect(ctx), act="refuse" if prefix else "social")
    if pending.startswith("relax:") and (_YES.search(text) or update.intents & {"show_now"} or reading.nothing_shown):
        kind = pending[6:]  # the shopper agreed to drop the constraint that left nothing, or to see them again
        if kind == "seen":
            update.intents.add("see_again")
        gone = ("max_price", "min_price", "below_price", "above_price") if kind == "price" else (kind,)
        st.preferences = [p for p in st.preferences if not ((p.attribute in gone or kind == "must" and
                                                            p.attribute.startswith("attr:")) and p.wanted)]
        if kind == "price":  # past the budget, the nearest prices first
            st.preferences = [p for p in st.preferences if p.attribute != "price_band"]
            st.preferences.append(Preference("price_band", "low"))
        update.intents.add("show_now")
    if reading.act == "feedback":
        turn = _feedback(ctx, session, reading)
        if turn is not None:
            return turn
        if reading.items:  # "I don't want the Hammerline 18V drill": its title words are no new (avoided) needs
            update.preferences = [p for p in update.preferences if p.attribute in ("max_price", "min_price")]
            update.query = ""
    like = _more_like(ctx, session, reading)
    if reading.nothing_shown:  # "what's the difference between the first two?" before any pick: show some
        update.intents.add("show_now")
    if like and reading.how == "catalog":  # "something like Coco": Coco is what the shopper likes, too
        for item in reading.items:
            record_feedback(ctx, session, item.item_id, "like")
    if reading.act in ("critique", "superlative"):
        update.preferences = [p for p in update.preferences if p.attribute != "price_band"]
    if reading.act == "critique" and reading.how == "name":  # "the Torqwell TW-4500 Drill Driver is too heavy":
        update.preferences = [p for p in update.preferences if p.attribute in ("max_price", "min_price")]
        update.query = ""  # its title words are no new needs (no Impact Drivers for "Driver")
    if reading.act == "request" and not like and not [p for p in update.preferences
                                                      if p.attribute == "category" and p.wanted]:
        current = [p.value for p in st.preferences if p.attribute == "category" and p.wanted]
        phrase = product_phrase(text)  # "100 ft garden hose" -> Watering, by the items the phrase finds
        level = category_of_phrase(phrase, ctx.vocab) if phrase and update.query else None
        if level and (not current or REQUEST_Q.search(text.lower()) or _another_kind(ctx, phrase, level, current)):
            update.preferences.append(Preference("category", level))
    # A changed need may make an item already seen the best answer now; "more kettles" never repeats one.
    before = {(p.attribute, p.value.lower(), p.wanted) for p in st.preferences}
    changed = reading.act == "critique" or any((p.attribute, p.value.lower(), p.wanted) not in before
                                               for p in update.preferences if p.attribute != "price_band")
    topic_change = apply_update(st, update, ctx.vocab)
    if reading.act == "different" and ELSEWHERE.search(text.lower()) and not changed:
        # "show me something completely different": the kind of product goes, the budget stays
        st.preferences = [p for p in st.preferences if p.attribute in ("max_price", "min_price") or not p.wanted]
        st.preferences += [Preference("category", c, False) for c in _shown_kinds(session)]
        st.query, st.limits, topic_change = "", [], True
    now = {(p.attribute, p.value.lower(), p.wanted) for p in st.preferences}
    dropped_person = any(w and a.split(":")[-1] in PERSON_KEYS and (a, v, w) not in now for a, v, w in before)
    moved = _likes_elsewhere(ctx, st, update)  # "something scarier for us" after the kids' favourites
    if topic_change or dropped_person or moved:  # a model that reads words reads from here on ("anything with Tom Hanks?",
        st.topic_from = sum(t.role == "user" for t in session.turns) - 1  # then "I like horror": no Hanks)
        st.liked_from = liked_before  # "something scarier for us" after the kids' favourites: not more of those
    notes: list[str] = []
    if reading.act == "critique":
        on_screen = [p.item for p in last_picks(session)]
        beyond = bool(re.search(r"\bthan (those|these|them|all|any of them|the others)\b", text.lower()))
        if not apply_critique(st, reading.key, reading.way, reading.items, on_screen, value_of, beyond):
            notes.append(f"The picks list no {reading.key} to compare, so I kept your other needs.")
        if len(reading.items) == 1 and reading.how in ("number", "name") and TOO.search(text.lower()):
            record_feedback(ctx, session, reading.items[0].item_id, "reject")  # "the 2nd one looks too big"
        elif len(reading.items) == 1 and (reading.key == "price" or reading.how == "catalog"):
            like = reading.items[0].item_id  # "like #2 but cheaper", "like the matrix but not so old"
    box = ctx.toolbox(session)
    box.strict = reading.act == "critique"
    if "injection" in update.intents and not (update.preferences or update.query) and not st.query:
        question = box.ask()
        return ask(st, question, prefix) if question else Turn("assistant", prefix + redirect(ctx), act="refuse")
    missing = missing_kind(ctx, st, update, bool(REQUEST_Q.search(text.lower())), text)
    brand = missing_brand(ctx, text, update)
    if brand is not None:  # "something from Huawei": said plainly, the current picks stay
        return Turn("assistant", prefix + f"We don't carry {brand}. I can show what we have from the brands we do "
                                          "carry, or tell me what matters most.", act="ask",
                    question="Shall I show what we have from the brands we carry?")
    if missing is not None:
        return not_carried(ctx, session, box, missing, prefix)
    purpose = missing_purpose(ctx, text, update) if reading.act == "request" and not reading.items else None
    if purpose is not None:  # "he loves grilling": said plainly, not swapped silently for camping stoves
        return not_carried(ctx, session, box, f"anything for {purpose}", prefix, about=purpose)
    if reading.act == "superlative":
        picks = box.extreme(reading.key, reading.way)
        if picks:
            st.focus = [picks[0].item.item_id]  # "how heavy is it?" next is about the extreme one
            picks = reword(ctx, picks, st)
            return Turn("assistant", prefix + intro(ctx, st, picks, box.notes, topic_change), picks,
                        act="recommend")
    if not update.intents & {"show_now", "different", "see_again", "more_like"} and not update.feedback and \
            reading.act in ("request", "social") and not (reading.social == "hello" and st.shown):
        candidates = box.ranked(60)
        question = box.ask(candidates)
        while should_ask(st, update, question, ctx.settings) and question.attribute in ("use_case", "category"):
            kinds = " ".join(p.value for p in st.preferences if p.attribute == "category")
            told = text if topic_change else " ".join([*[t.text for t in session.turns if t.role == "user"][-3:], text])
            said = _option_said(told, question.options, kinds) or _option_meant(ctx, told, question.options)
            if said is None:
                break
            apply_update(st, parse_message(said, ctx.vocab, question.options, question.attribute), ctx.vocab)
            st.asked.append(question.attribute)  # "she drinks lattes" answered "lattes and cappuccinos?" already
            question = box.ask(box.ranked(60))
        if should_ask(st, update, question, ctx.settings):
            hello = "Hi! " if reading.social == "hello" else ""
            budget = any(p.attribute in ("max_price", "min_price") for p in update.preferences)
            note = NO_PRICES + " " if budget and not ctx.vocab.has_prices else ""
            return ask(st, question, prefix + hello + note)
    picks = box.recommend(include_shown="see_again" in update.intents or (changed and not topic_change), like=like,
                          different=reading.act == "different" or "different" in update.intents)
    if not picks and box.blocked == ("", SEEN_ALL) and "show_now" in update.intents:
        box = ctx.toolbox(session)  # "just show me" after seeing every match: show them, rather than ask again
        picks = box.recommend(include_shown=True, like=like)
        box.notes.append("These are all the matches for what you asked, shown again.")
    picks = reword(ctx, picks, st)
    if not picks and box.blocked:
        return _blocked(ctx, st, box, prefix)
    st.focus = []
    lead = prefix + ("Thanks! " if reading.social == "thanks" else "")
    if reading.nothing_shown:
        lead += "I haven't shown you anything yet. "
    if reading.handoff:
        lead += HANDOFF_TEXT.format(topic=_topic(text)) + " Meanwhile: "
    turn = Turn("assistant", lead + intro(ctx, st, picks, box.notes + notes, topic_change), picks,
                act="recommend" if picks else "none", handoff=reading.handoff)
    return turn


def _another_kind(ctx: Context, phrase: str, level: str, current: list[str]) -> bool:
    """Whether a product phrase said while other picks are on screen names another kind of product: its last word
    is in the titles of the category it finds and in none of the current one's ("camping stove please" with
    blenders on screen; "a glass one" or "waterproof ones" refine instead)."""
    words = re.findall(r"[a-z]+", phrase.lower())
    if not words or len(words[-1]) < 3 or words[-1] in ("one", "ones", "thing", "things", "kind", "type"):
        return False
    head, titles = stem(words[-1]), title_stems_by_level(ctx.index)
    return level not in current and head in titles.get(level, ()) and not any(
        head in titles.get(c, ()) for c in current)


def _likes_elsewhere(ctx: Context, st: DialogueState, update) -> bool:
    """Whether the message asks for a kind (category or genre) that none of the current topic's likes is of."""
    kinds = [p.value.lower() for p in update.preferences if p.attribute == "category" and p.wanted]
    liked = ctx.index.get_items(st.liked[st.liked_from:])
    return bool(kinds and liked) and not any(has_kind(item, kinds) for item in liked)


LINKING = frozenset("into onto upon over under with from about around through across just really very also some "
                    "more most much then than there their them they this that these those what when where which "
                    "while will would could should".split())  # "got into gardening" is no "drilling into masonry"


def _option_said(text: str, options: list[str], kinds: str = "") -> str | None:
    """The one option of a question whose words the message already used ("she drinks lattes" -> "lattes and
    cappuccinos"), or None when none or several are. Words naming the kind of product asked for ("an espresso
    machine" is no use "straight espresso") do not count."""
    def words(x: str) -> set[str]:  # with their bases: "i read a lot" answers "reading"
        return {f for t in tokens(x) if len(t) > 3 and t not in FUNCTION_WORDS and t not in LINKING
                for f in forms(t) if len(f) > 3}
    said, each = words(text) - words(kinds), [words(o) for o in options]
    own = [w - set().union(*(x for j, x in enumerate(each) if j != i)) for i, w in enumerate(each)]  # "coffee" is
    hits = [o for o, w in zip(options, own) if w & said]  # in two options: only "lattes" tells them apart
    return hits[0] if len(hits) == 1 else None


PURPOSE = re.compile(r"\bfor (?:the |my |his |her |our |their |a |an )?([a-z'-]+(?: [a-z'-]+){0,2}?)"
                     r"(?=\s*(?:$|[,.!?;]|\b(?:and|but|under|below|with|that|which|please|so)\b))")
MEANT, MEANT_MARGIN = 0.55, 0.15  # MiniLM: "the gym" ~ "workouts" 0.63 (next 0.26); "my morning coffee" ~ 0.52


def _option_meant(ctx: Context, text: str, options: list[str]) -> str | None:
    """The option a purpose said in other words means ("earbuds for the gym" -> "workouts", "for my flights" ->
    "travel"): by MiniLM similarity, only when one option is clearly closest; None otherwise."""
    embedder = ctx.index.embedder
    phrases = [m.group(1) for m in PURPOSE.finditer(text.lower()) if m.group(1).split()[0] not in PEOPLE]
    if embedder is None or not phrases or len(options) < 2:
        return None
    vectors = embedder.encode([*phrases, *options])
    sims = vectors[len(phrases):] @ vectors[:len(phrases)].T  # (options, phrases)
    best = sims.max(axis=1)
    order = best.argsort()[::-1]
    if best[order[0]] >= MEANT and best[order[0]] - best[order[1]] >= MEANT_MARGIN:
        return options[int(order[0])]
    return None


ELSEWHERE = re.compile(r"\b(completely|totally|entirely|wholly|whole ?ly|something else entirely|other kind|"
                       r"another kind|different kind|different type|different category)\b")


def _shown_kinds(session: Session) -> list[str]:
    """The leaf categories of the picks on screen (what "completely different" moves away from)."""
    return list(dict.fromkeys(p.item.category_path[-1] for p in last_picks(session) if p.item.category_path))[:3]


def after_feedback(ctx: Context, session: Session, item_id: str, kind: str) -> Turn:
    """The turn after a feedback click: more like a liked item, or fresh picks without a rejected or owned one."""
    st = session.state
    st.pending_question, st.pending_options = "", []
    box = ctx.toolbox(session)
    on_screen = next((t.picks for t in reversed(session.turns) if t.role == "assistant" and t.picks), [])
    lead = {"like": "Noted that you like it.", "reject": "Got it, not that one.",
            "owned": "Got it, you already have that one."}[kind]
    if kind != "like" and item_id in {p.item.item_id for p in on_screen}:
        picks = reword(ctx, box.replace(on_screen, item_id), st)  # the others stay; one new pick in its place
        new = [p for p in picks if p.item.item_id not in {q.item.item_id for q in on_screen}]
        if picks:
            st.focus = []
            swap = f"In its place: {called(new[0].item)}; the other picks stay." if new else \
                "That was the last new match; the other picks stay."
            return Turn("assistant", f"{lead} {swap} Tell me what you like or don't, or ask for something different.",
                        picks, act="recommend")
    picks = reword(ctx, box.recommend(like=item_id if kind == "like" else None), st)
    if not picks and box.blocked:
        return _blocked(ctx, st, box, lead + " ")
    st.focus = []
    return Turn("assistant", f"{lead} {intro(ctx, st, picks, box.notes, False)}", picks,
                act="recommend" if picks else "none")


def _social(ctx: Context, session: Session, reading: Reading, text: str = "") -> Turn:
    if reading.social == "chat":
        more = ("Ask me about any of these, or tell me what else you need." if session.state.shown else
                "What are you looking for?")
        fine = "I'm doing fine, thanks for asking! " if HOW_ARE_YOU.search(reading.update.query + " " + text) else ""
        return Turn("assistant", fine + "I'm convrec, this shop's assistant: a program that finds products in the "
                                        "catalog, answers questions about them and compares them. " + more,
                    question=None if session.state.shown else more, act="social")
    if reading.social == "thanks" and not session.state.shown:
        return Turn("assistant", "You're welcome! What can I find for you?", question="What can I find for you?",
                    act="ask")
    if reading.social == "hello" or (not session.state.shown and reading.social != "bye"):
        cats = sorted({i.top_category for i in ctx.index.items[:2000] if i.top_category})[:5]
        where = f" ({', '.join(cats)} and more)" if cats else ""
        text = (f"Hi! I can find products in this catalog{where}, answer questions about them and compare them. "
                "What are you looking for?")
        return Turn("assistant", text, question="What are you looking for?", act="ask")
    return Turn("assistant", SOCIAL_TEXT.get(reading.social, SOCIAL_TEXT["ack"]), act="social")


def _feedback(ctx: Context, session: Session, reading: Reading) -> Turn | None:
    """Feedback by number, name or "that one"; asks which one when it cannot tell. None: go on to new picks."""
    kind = {"owned": "owned", "reject": "reject", "like": "like"}.get(reading.feedback, "")
    items = reading.items
    if kind and not items and reading.update.ordinal is None:
        on_screen = last_picks(session)
        if len(on_screen) == 1:
            items = [on_screen[0].item]
        elif on_screen:
            session.state.pending_question = f"which:{kind}"
            return Turn("assistant", "Which one do you mean? Tell me its number or name (for example 'the second "
                                     "one' or 'the " + on_screen[0].item.title.split()[0] + " one').",
                        question="Which one do you mean?", act="ask")
    noted: tuple[str, str] | None = None
    if kind == "like" and reading.how == "catalog" and len(items) > 1:  # "I loved Inception and Interstellar"
        for item in items:
            record_feedback(ctx, session, item.item_id, "like")
        return None  # fresh picks from everything liked
    if kind and items and not reading.update.feedback:
        noted = (items[0].item_id, kind)
    elif reading.update.feedback and reading.update.ordinal is not None:
        on_screen = last_picks(session)
        if on_screen and -len(on_screen) <= reading.update.ordinal < len(on_screen):
            noted = (on_screen[reading.update.ordinal].item.item_id, reading.update.feedback)
    if noted is None:
        return None
    record_feedback(ctx, session, *noted)  # type: ignore[arg-type]
    update = reading.update
    if not [p for p in update.preferences if p.attribute != "price_band"] and not update.query and not (
            update.intents & {"different", "more_like", "show_now"}):
        return after_feedback(ctx, session, *noted)  # said like a click: answered like one, with an acknowledgement
    return None


def _more_like(ctx: Context, session: Session, reading: Reading) -> str | None:
    """The id of the pick a "more like the second one" points at."""
    update = reading.update
    if "more_like" not in update.intents:
        return None
    if reading.items:
        return reading.items[0].item_id
    on_screen = last_picks(session)
    if update.ordinal is not None and on_screen and -len(on_screen) <= update.ordinal < len(on_screen):
        return on_screen[update.ordinal].item.item_id
    return None


def _topic(text: str) -> str:
    low = text.lower()
    for words, topic in ((("ship", "deliver", "postage", "courier", "arrive"), "shipping or delivery"),
                         (("discount", "coupon", "promo", "voucher", "sale", "deal", "offer"), "discounts"),
                         (("return", "refund", "exchange"), "returns and refunds"),
                         (("invoice", "receipt", "order", "track"), "orders"),
                         (("stock", "availab", "size"), "stock levels and sizes"),
                         (("hardback", "hardcover", "paperback", "ebook", "kindle", "audiobook", "edition"),
                          "other editions"),
                         (("currency", "nok", "sek", "dkk", "euro", "convert"), "currency conversion"),
                         (("see it", "see them", "picture", "photo", "pic", "image"), "product photos"),
                         (("pay", "card", "installment", "financing"), "payment"),
                         (("brand", "company", "manufacturer", "maker"), "what a brand is known for"),
                         (("hours", "store", "pick up"), "store services")):
        if any(w in low for w in words):
            return topic
    return "that"


def _blocked(ctx: Context, st: DialogueState, box: ToolBox, prefix: str) -> Turn:
    """Nothing new fits: say so and offer a concrete way on (never a dead end)."""
    kind, message = box.blocked  # type: ignore[misc]
    if kind:
        st.pending_question, st.pending_options = f"relax:{kind}", ["yes"]
        return Turn("assistant", prefix + message, question=message, act="ask")
    c = constraints_of(st)
    if message == SEEN_ALL:
        if c.max_price is not None and ctx.vocab.has_prices:
            offer = f"Shall I look past your {price_text(c.max_price)} budget? Or say 'show them again'."
            st.pending_question, st.pending_options = "relax:price", ["yes"]
        elif c.must:
            wished = " and ".join(f"{k.replace('_', ' ')} {v}" if v.lower() not in ("yes", "true") else
                                  k.replace("_", " ") for k, v in list(c.must.items())[:2])
            offer = f"Those are all that match {wished}. Shall I show ones that differ on that? Or say 'show them again'."
            st.pending_question, st.pending_options = "relax:must", ["yes"]
        elif c.brands:
            offer = f"Shall I look beyond {' or '.join(c.brands)}? Or say 'show them again'."
            st.pending_question, st.pending_options = "relax:brand", ["yes"]
        else:
            offer = "Shall I show them again? Or tell me something to change (budget, brand, features)."
            st.pending_question, st.pending_options = "relax:seen", ["yes"]
        text = f"{SEEN_ALL} {offer}"
        return Turn("assistant", prefix + text, question=offer, act="ask")
    question = box.ask()
    tail = f" {question.text}" if question else (
        "" if "describe it differently" in message else " Could you describe it differently, or drop a constraint?")
    if question:
        st.pending_question, st.pending_options = question.attribute, list(question.options)
    return Turn("assistant", prefix + message + tail, question=(question.text if question else message), act="ask")
