"""The agent's tools: typed functions over one session's candidate buffer.

Both control modes use the same `ToolBox`: the guided policy calls its typed methods, the agentic loop gets them
as LangChain tools (`agent/langchain_tools.py`), which report short summaries and ids only; full candidate lists
stay in the buffer. What an item measures is in `agent/item_facts.py`, how constraints relax in `agent/relax.py`.
"""

from __future__ import annotations

import random
from typing import Iterable

import numpy as np

from agent.config import Settings
from agent.interest import InterestScorer, said_text
from agent.item_facts import expand_levels, has_kind, value_of, within_limits
from agent.policy import Constraints, best_question, constraints_of
from agent.reasons import price_text, standout, template_reason
from agent.references import last_picks
from agent.relax import firm, has_part, one_fewer
from agent.rerank import diversify
from agent.state import Pick, Session
from retrieval.items import Item
from retrieval.search import CatalogIndex, Filters, ScoredItem
from retrieval.vocabulary import Vocabulary, stem, stems

POOL = 100  # candidates retrieved per search before re-ranking
MODEL_CANDIDATES = 100  # the interest model's best items join the search hits as candidates
KIND_BOOST = 0.3  # where kinds steer rather than filter: relevance added for an item of a kind asked for (the model
# reads the genre words as well; 1.0 cost .03 Recall@10 on held-out train dialogues through the agent)
REJECT_WEIGHT = 0.5  # minus this times how near-duplicate an item is to the closest rejected one
NEAR_DUPLICATE = 0.85  # cosine from which a rejection counts against an item too (below: only the item itself)
RELAXED_OFFSET = 10.0  # relaxed matches rank below every exact match
DIFFERENT_WEIGHT = 0.6  # "something different": minus this times the cosine to the last picks
BAND_WEIGHT = 0.3  # "cheap" / "premium": bonus by price rank within the candidates
RELAX_ORDER = ("must",)  # soft parts dropped while nothing matches
HARD = ("price", "brand", "category")  # never dropped silently: the shopper is asked first (see explain_empty)
SEEN_ALL = "That is every match I have for this."
RELAX_NOTE = {"must": "Nothing has every feature you named, so these are the closest matches."}
NO_PRICES = "This catalog lists no prices, so I cannot check your budget."
EXTREME_WORDS = {"price": ("cheapest", "most expensive"), "rating": ("lowest rated", "best rated"),
                 "weight": ("lightest", "heaviest"), "size": ("smallest", "biggest"),
                 "power": ("least powerful", "most powerful"), "battery": ("shortest-running", "longest-running")}
GENERIC_ASKS = frozenset("thing things item items product products stuff have got sell carry anything something "
                         "one ones you store shop catalog".split())


def _price_ranks(hits: list[ScoredItem]) -> np.ndarray | None:
    """Each hit's price rank, 0 (cheapest) .. 1: the mean of its rank among all hits and among the hits of its own
    kind (leaf category, when there are a few of them). A speaker is cheap or dear against speakers too, not only
    against the stoves still in the pool; a $179 speaker is no cheap pick among $35 stoves either. None when no
    hit has a price."""
    prices = np.array([s.item.price if s.item.price is not None else np.nan for s in hits])
    if not np.isfinite(prices).any():
        return None
    filled = np.nan_to_num(prices, nan=np.nanmax(prices))

    def ranks(rows: np.ndarray) -> np.ndarray:
        return np.argsort(np.argsort(filled[rows], kind="stable"), kind="stable") / max(len(rows) - 1, 1)

    overall = ranks(np.arange(len(hits)))
    pct = overall.copy()
    kinds: dict[str, list[int]] = {}
    for i, s in enumerate(hits):
        kinds.setdefault(s.item.category_path[-1] if s.item.category_path else "", []).append(i)
    for rows in kinds.values():
        if len(rows) >= 5:
            pct[rows] = (overall[rows] + ranks(np.array(rows))) / 2
    return pct


class ToolBox:
    """Tools bound to one session: the candidate buffer, ids seen in tool results, the final picks."""

    def __init__(self, index: CatalogIndex, interest: InterestScorer, vocab: Vocabulary, settings: Settings,
                 session: Session):
        self.index, self.interest, self.vocab, self.settings = index, interest, vocab, settings
        self.session = session
        self.buffer: dict[str, ScoredItem] = {}  # the candidate buffer; the LLM sees ids and summaries only
        self.seen: set[str] = set()  # ids that came out of a tool result this turn (the only valid picks)
        self.picks: list[Pick] | None = None
        self.question: str | None = None
        self.notes: list[str] = []  # honest notes about relaxed constraints, told to the shopper
        self.blocked: tuple[str, str] | None = None  # (constraint kind, message) when a hard constraint left nothing
        self.strict = False  # True: relax nothing the shopper asked for (a critique that finds nothing says so)
        self.soft_kinds: list[str] = []  # kinds asked for that steer rather than filter (catalogs whose model reads words)
        self._ranked: dict[tuple, list[ScoredItem]] = {}  # one search per turn: the query embedding is the cost

    # ------------------------------------------------------------------ typed work

    def excluded(self, include_shown: bool = False) -> set[str]:
        """Never recommend rejected, owned or bought items; shown or liked ones ("I loved Moana, what else?")
        unless asked to see them again."""
        st = self.session.state
        out = set(st.rejected) | set(st.owned) | set(st.history)
        out = out if include_shown else out | set(st.shown) | set(st.liked)
        return out | self.index.twins(out)  # the same film or product under another entry

    def ranked(self, k: int = 50, include_shown: bool = False, like: str | None = None,
               different: bool = False, exclude_ids: Iterable[str] = ()) -> list[ScoredItem]:
        """The relevance ranking from the state: search + interest - rejected-likeness, constraints relaxed if empty."""
        key = (include_shown, like, different, tuple(sorted(exclude_ids)))
        if key not in self._ranked:
            self._ranked[key] = self._rank(include_shown, like, different, set(exclude_ids))
        return self._ranked[key][:k]

    def _rank(self, include_shown: bool, like: str | None, different: bool, exclude_ids: set[str]) -> list[ScoredItem]:
        st = self.session.state
        c = constraints_of(st)
        c.categories = expand_levels(c.categories, self.vocab)
        exclude_ids = exclude_ids | ({like} | self.index.twins([like]) if like else set())  # "more like #2" shows
        # #2's neighbours, not #2 (nor its other entry)
        exclude = self.excluded(include_shown) | exclude_ids
        query = " ".join([st.query, *c.must.values()]).strip()
        if self.interest.reads_words:
            # A movie has several genres and its category holds only the first; the model reads the words said.
            # So the kinds named steer the scores (a boost for any of the item's genres) instead of filtering, and
            # a kind that is a word of a title talked about ("Infinity War") is no kind asked for.
            named = " ".join(i.title.lower() for i in self.index.get_items([*st.liked, *st.shown, *st.focus]))
            self.soft_kinds = [x.lower() for x in c.categories if x.lower() not in named]
            c.categories, c.must = [], {}
        drop: frozenset[str] = frozenset() if self.vocab.has_prices else frozenset({"price"})
        if not self.vocab.has_prices and (c.max_price is not None or c.min_price is not None):
            self.notes.append(NO_PRICES)
        hits: list[ScoredItem] = []
        relaxed: list[ScoredItem] = []
        for step in (None, *(() if self.strict else RELAX_ORDER)):
            if step is not None:
                if not has_part(c, step):
                    continue
                seen_exact = self.index.allowed_rows(c.filters(drop), set(st.rejected) | set(st.owned) | exclude_ids)
                if not include_shown and not like and seen_exact is not None and seen_exact.any():
                    break  # every exact match was shown already: ask before relaxing a stated need
                self.notes.append(RELAX_NOTE[step])
                for fewer in one_fewer(c):  # drop as little as possible: soft wishes first, then one need at a time
                    hits = self._soft_filter(self._gather(query, fewer.filters(drop), exclude, like), c)
                    if hits:
                        break
                if hits:
                    break
                drop = drop | {step}
            hits = self._soft_filter(self._gather(query, c.filters(drop), exclude, like), c)
            if hits:
                break
        if len(hits) == 1 and c.must and "must" not in drop:
            # Fewer exact matches than picks: the closest near-misses follow them; their reasons say what differs.
            seen = {s.item.item_id for s in hits} | exclude
            relaxed = self._soft_filter(self._gather(query, firm(c).filters(drop), seen, like), c)
            leaves = {s.item.category_path[-1] for s in hits if s.item.category_path}
            relaxed = [s for s in relaxed if s.item.category_path and s.item.category_path[-1] in leaves]
            if relaxed:
                self.notes.append(f"Only {len(hits)} {'matches' if len(hits) == 1 else 'match'} everything you "
                                  "asked for; the others come close, and their reasons say what differs.")
        if not hits:
            unseen = self.index.allowed_rows(c.filters(drop), self.excluded(include_shown=True) | exclude_ids)
            if not include_shown and st.shown and (unseen is None or unseen.any()):
                self.blocked = ("", SEEN_ALL)  # only already-shown items fit: do not repeat them unasked
            else:
                never = set(st.rejected) | set(st.owned) | set(st.history)  # shown items still exist
                self.blocked = self._explain_empty(c, drop, never)
        exact = self._score(hits, c, different)
        near = self._score(relaxed, c, different)
        return exact + [ScoredItem(s.item, s.score - RELAXED_OFFSET, s.vector_score, s.lexical_score) for s in near]

    def _explain_empty(self, c: Constraints, drop: frozenset[str], exclude: set[str]) -> tuple[str, str]:
        """Which hard constraint leaves nothing, told honestly with the nearest alternative."""
        where = f" in {' or '.join(c.categories)}" if c.categories else ""
        for step in HARD:
            if not has_part(c, step) or step in drop:
                continue
            mask = self.index.allowed_rows(c.filters(drop | {step}), exclude)
            if mask is not None and not mask.any():
                continue
            if step == "price":
                prices = self.index.prices if mask is None else self.index.prices[mask]
                if not np.isfinite(prices).any():
                    continue
                bound = (f"under {price_text(c.max_price)}" if c.min_price is None else
                         f"between {price_text(c.min_price)} and {price_text(c.max_price)}") if c.max_price is not None \
                    else f"over {price_text(c.min_price)}"
                near = np.nanmin(prices) if c.max_price is not None else np.nanmax(prices)
                which = "cheapest" if c.max_price is not None else "priciest"
                return step, (f"I found nothing{where} {bound}; the {which} option costs {price_text(float(near))}. "
                              f"Shall I show options without that budget?")
            if step == "brand":
                return step, f"I found nothing from {' or '.join(c.brands)}{where}. Shall I show other brands?"
            return step, f"I found nothing in {' or '.join(c.categories)} that fits. Shall I look in other categories?"
        return "", "I couldn't find anything that fits. Could you describe it differently, or drop a constraint?"

    def _gather(self, query: str, filters: Filters, exclude: set[str], like: str | None) -> list[ScoredItem]:
        st = self.session.state
        found = {s.item.item_id: s for s in self.index.search(query, filters, POOL, exclude)} if query or filters \
            else {}
        vec = self.interest.user_vector(st.history, st.liked, st.rejected)
        if vec is not None:
            floor = min((s.score for s in found.values()), default=0.0)
            for s in self.index.vector_search(vec, filters, 50, exclude):
                found.setdefault(s.item.item_id, ScoredItem(s.item, floor, s.vector_score))
        said = said_text(self.session.turns, start=st.topic_from)
        best = [i for i in self.interest.best(st.history, self._topic_likes(), st.rejected, said, MODEL_CANDIDATES)
                if i not in exclude and i not in found]
        if best:  # what the interest model expects, within the same filters (the search words alone miss them)
            floor = min((s.score for s in found.values()), default=0.0)
            for item in self.index.get_items(best):
                if filters.accepts(item):
                    found[item.item_id] = ScoredItem(item, floor, 0.0)
        if like and like in self.index.position:
            for s in self.index.similar_items([like], 30, filters, exclude):
                found[s.item.item_id] = ScoredItem(s.item, s.score + 1.0, s.vector_score)  # asked for: on top
        if not found:
            found = {s.item.item_id: s for s in self.index.search("", filters, POOL, exclude)}
        return list(found.values())

    def _topic_likes(self) -> list[str]:
        """The likes a model that reads words is given: those since the current topic began (it reads the words
        from there too); a purchase-sequence model is given every like."""
        st = self.session.state
        return st.liked[st.liked_from:] if self.interest.reads_words else list(st.liked)

    def _soft_filter(self, hits: list[ScoredItem], c: Constraints) -> list[ScoredItem]:
        """Drop items with a disliked attribute value, in a disliked category, or past a critique's limit."""
        limits = self.session.state.limits

        def bad(s: ScoredItem) -> bool:
            attrs = {k.lower(): v.lower() for k, v in s.item.attributes.items()}
            levels = {x.lower() for x in s.item.category_path}
            return any(attrs.get(k.lower()) == v.lower() for k, v in c.avoid_values) or any(
                x.lower() in levels for x in c.avoid_categories) or not within_limits(s.item, limits)
        return [s for s in hits if not bad(s)]

    def _score(self, hits: list[ScoredItem], c: Constraints, different: bool) -> list[ScoredItem]:
        if not hits:
            return []
        st = self.session.state
        ids = [s.item.item_id for s in hits]
        rel = np.array([s.score for s in hits], dtype=np.float64)
        said = said_text(self.session.turns, start=st.topic_from)
        interest = self.interest.scores(ids, st.history, self._topic_likes(), st.rejected, said)
        if interest is not None:
            rel += self.interest.weight * interest
        if self.soft_kinds:
            rel += KIND_BOOST * np.array([has_kind(s.item, self.soft_kinds) for s in hits], dtype=np.float64)
        # live signals (issue 18): popularity and co-occurrence learnt from every shopper's events (retrieval/signals.py)
        rel += self.index.signals.boost(ids, [*st.liked, *st.history])
        vecs = self.index.embeddings[[self.index.position[i] for i in ids]]
        rejected = [self.index.position[i] for i in st.rejected if i in self.index.position]
        if rejected:  # a rejection is about that item (and its near-duplicates), never the stated need
            closest = (vecs @ self.index.embeddings[rejected].T).max(axis=1)
            rel -= REJECT_WEIGHT * np.clip((closest - NEAR_DUPLICATE) / (1 - NEAR_DUPLICATE), 0, 1)
        last = [self.index.position[p.item.item_id] for p in last_picks(self.session)
                if p.item.item_id in self.index.position]
        if different and last:
            rel -= DIFFERENT_WEIGHT * np.clip((vecs @ self.index.embeddings[last].T).max(axis=1), 0, None)
        if c.price_band:
            pct = _price_ranks(hits)
            if pct is not None:
                rel += BAND_WEIGHT * ((1 - pct) if c.price_band == "low" else pct)
                # "not too expensive": the upper half of the prices is a last resort, not a pick among others
                rel -= BAND_WEIGHT * ((pct > 0.5) if c.price_band == "low" else (pct < 0.5))
        order = np.argsort(-rel, kind="stable")
        return [ScoredItem(hits[o].item, float(rel[o]), hits[o].vector_score, hits[o].lexical_score) for o in order]

    def recommend(self, k: int | None = None, include_shown: bool = False, like: str | None = None,
                  different: bool = False, ids: Iterable[str] | None = None) -> list[Pick]:
        """Rank, diversify and explain k picks; with `ids`, only those buffered candidates are considered."""
        st = self.session.state
        k = k or self.settings.picks_per_turn
        ranked = self.ranked(POOL, include_shown, like, different)
        if ids is not None:
            wanted = [i for i in ids if i in self.seen and i not in self.excluded(include_shown)]
            pool = {s.item.item_id: s for s in ranked}
            ranked = [pool.get(i) or self.buffer[i] for i in wanted if i in pool or i in self.buffer]
        self.buffer.update({s.item.item_id: s for s in ranked})
        rng = random.Random(f"{self.settings.seed}:{self.session.session_id}:{st.turn_count}")
        diversity = max(self.settings.diversity, 0.7) if different else self.settings.diversity
        c = constraints_of(st)
        # Wild cards only while the shopper browses: a stated kind of product or a described need gets none.
        explore = self.settings.explore if ids is None and not c.categories and not st.query else 0.0
        choices = diversify(self.index, ranked, k, diversity, explore,
                            st.bandit, interest_profile(self.index, self.session) or None, rng)
        return self.explain([(ch.scored.item, round(ch.scored.score, 4), ch.explore) for ch in choices])

    def explain(self, chosen: list[tuple[Item, float, bool]]) -> list[Pick]:
        """(item, score, wild card) as picks, each reason true of the item and of the set shown with it."""
        st = self.session.state
        c = constraints_of(st)
        items = [item for item, _, _ in chosen]
        described = bool(st.query or c.categories or c.must or c.brands or c.max_price is not None)
        picks = []
        for item, score, explore in chosen:
            reason = template_reason(item, c, self.nearest_known(item.item_id), explore, described)
            extra = standout(item, [o for o in items if o is not item], c.must)
            if extra and len(reason) + len(extra) < 290:
                reason = f"{reason} {extra}"
            picks.append(Pick(item, score, reason, explore))
        self.seen.update(p.item.item_id for p in picks)
        self.picks = picks
        return picks

    def replace(self, on_screen: list[Pick], gone: str) -> list[Pick]:
        """The picks on screen with the one rejected (or owned) swapped for the best new one: the others stay,
        so a budget-minded shopper is not moved to pricier picks by one "not for me"."""
        banned = set(self.session.state.rejected) | set(self.session.state.owned)
        kept = [(p.item, p.score, p.explore) for p in on_screen if p.item.item_id not in banned]
        fresh = [(p.item, p.score, p.explore) for p in self.recommend() if p.item.item_id not in
                 {i.item_id for i, _, _ in kept}]
        where = next((n for n, p in enumerate(on_screen) if p.item.item_id == gone), len(kept))
        return self.explain(kept[:where] + fresh[:1] + kept[where:])

    def show(self, items: list[Item]) -> list[Pick]:
        """The items the shopper named (by title, author or model number) as picks, with reasons."""
        c = constraints_of(self.session.state)
        banned = set(self.session.state.rejected) | set(self.session.state.owned)
        picks = [Pick(i, 1.0, template_reason(i, c, None, False)) for i in items if i.item_id not in banned]
        self.seen.update(p.item.item_id for p in picks)
        self.picks = picks
        return picks

    def extreme(self, key: str, way: str, k: int | None = None, past_budget: bool = False) -> list[Pick]:
        """Picks sorted by price or a numeric attribute ("the cheapest 2-person tent"), over every item that meets
        the stated constraints (shown ones included: the shopper asked for the extreme), the extreme one first.
        The cheapest (or priciest) when nothing fits the budget: the extreme past it, said so."""
        st = self.session.state
        k = k or self.settings.picks_per_turn
        c = constraints_of(st)
        c.categories = expand_levels(c.categories, self.vocab)
        drop: frozenset[str] = frozenset() if self.vocab.has_prices and not past_budget else frozenset({"price"})
        exclude = self.excluded(include_shown=True)
        mask = self.index.allowed_rows(c.filters(drop), exclude)
        query = " ".join([st.query, *c.must.values()]).strip()
        informative = [w for w in query.lower().split() if w in self.index.vocabulary and w not in GENERIC_ASKS]
        if mask is None and not informative:  # "the most expensive thing you have": the whole catalog
            pool = [ScoredItem(item, 0.0) for item in self.index.items if item.item_id not in exclude]
        elif mask is None or not c.categories:  # nothing pins the kind of product: the best matches are the field
            pool = self._soft_filter(self._gather(query, c.filters(drop), exclude, None), c)
            nouns = [stem(w) for w in informative][-1:]  # "cheapest printer paper": items titled with "paper"
            titled = [s for s in pool if nouns and nouns[0] in s.item.title.lower()]
            pool = titled or pool
        else:
            pool = [ScoredItem(self.index.items[r], 0.0) for r in np.flatnonzero(mask)]
            pool = self._soft_filter(pool, c)
            for noun in reversed([stem(w) for w in informative]):  # "running shoes" in Sports & Outdoors: shoes
                titled = [s for s in pool if noun in stems(s.item.title)]
                if 0 < len(titled) < len(pool):
                    pool = titled
                    break
        valued = [(value_of(s.item, key), s) for s in pool]
        valued = [(v, s) for v, s in valued if v is not None]
        if not valued and key == "price" and not past_budget and self.vocab.has_prices:
            picks = self.extreme(key, way, k, past_budget=True)
            if picks:
                self.notes.append("Nothing fits your price limit, so these are the "
                                  f"{'cheapest' if way == 'min' else 'priciest'} past it.")
            return picks
        if not valued:
            self.blocked = ("", f"None of the matches lists a {key} I can sort by.")
            return []
        valued.sort(key=lambda vs: vs[0], reverse=way == "max")
        picks = []
        for n, (_, scored) in enumerate(valued[:k]):
            reason = template_reason(scored.item, c, None, False)
            if n == 0:
                word = EXTREME_WORDS.get(key, (f"lowest {key}", f"highest {key}"))[way == "max"]
                reason = f"The {word} of the matches. {reason}"
            picks.append(Pick(scored.item, round(float(len(valued) - n), 4), reason, False))
        self.seen.update(p.item.item_id for p in picks)
        self.picks = picks
        return picks

    def nearest_known(self, item_id: str, floor: float = 0.6) -> tuple[str, str] | None:
        """(title, how) of the shopper's liked or bought item this one follows from: linked to it by the interest
        model ("bought-with" / "liked-with"), else close in meaning ("bought" / "liked"); None when neither."""
        st = self.session.state
        known = [(i, "liked") for i in st.liked] + [(i, "bought") for i in st.history]
        known = [(i, how) for i, how in known if i in self.index.position and i != item_id]
        if not known:
            return None
        linked = self.interest.follows_from(item_id, [i for i, _ in known])
        if linked is not None:  # the interest model's own reason: bought / recommended together with it
            how = dict(known)[linked]
            return self.index.items[self.index.position[linked]].title, f"{how}-with"
        vec = self.index.embedding(item_id)
        sims = [float(self.index.embedding(i) @ vec) for i, _ in known]
        best = int(np.argmax(sims))
        if sims[best] < floor:
            return None
        return self.index.items[self.index.position[known[best][0]]].title, known[best][1]

    def ask(self, candidates: list[ScoredItem] | None = None):
        """The most informative question over the current candidates (None when nothing is worth asking)."""
        return best_question(self.session.state, candidates or self.ranked(60), self.vocab)


def interest_profile(index: CatalogIndex, session: Session) -> dict[str, float]:
    """Category -> weight (sums to 1) from likes (x2), purchases, stated categories (x2) and shown picks (x0.25)."""
    st = session.state
    weights: dict[str, float] = {}
    def add(item_ids: Iterable[str], w: float) -> None:
        for item in index.get_items(item_ids):
            cat = item.top_category or "other"
            weights[cat] = weights.get(cat, 0.0) + w
    add(st.liked, 2.0)
    add(st.history, 1.0)
    add(st.shown, 0.25)
    for cat, (alpha, beta) in st.bandit.items():
        if cat in weights:
            weights[cat] *= 2 * alpha / (alpha + beta)  # rejections shrink a category, likes grow it
    total = sum(weights.values())
    return {k: v / total for k, v in sorted(weights.items(), key=lambda kv: -kv[1])} if total > 0 else {}
