"""Recall@K of the agent on recommendation dialogues (ReDial, INSPIRED, any file in either shape), through its
public API only.

Each dialogue is replayed into one agent session, message by message, as a customer-service deployment would
feed it: the seeker's messages through `agent.suggest` (what they say about their needs is kept), the
recommender's through `agent.note_assistant`, and every movie mentioned (either side) as a `like`. Before each
recommender message that brings up a movie, `agent.rank` gives the ranking the picks would come from; the
movies that message brings up are the targets.

Protocol (BASELINES.md): candidates = every movie of the ReDial catalog (`id2info`; the product's catalog also
holds the MovieLens movies ReDial lacks, which are skipped when reading the ranking, so the order among ReDial
movies is the agent's own); deduplicated: movies mentioned earlier (either side) are never candidates nor targets
(the agent itself never brings back what the shopper already talked about), turns left without a target are
skipped, Recall is averaged over (turn, target) pairs. `_nodedup` counts every movie of the turn as a target,
as older papers do; a target mentioned before can never be in the agent's list, so that figure is a lower bound.
Dialogues with titles instead of ids (INSPIRED) are mapped by normalised title + year; `_all` counts the
titles the catalog lacks as misses, `_mapped` leaves them out.
"""

from __future__ import annotations

import time
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from agent.understand import normalise
from evals.lib.dialogues import DatasetMissing, Dialogue, TitleMatcher, inspired_dev, redial_test
from retrieval.catalogs import redial_items

KS = (1, 10, 50)
DEPTH = 50  # ranked movies read per turn (Recall@50 at most)
MISS = 10**9  # rank of a target that is not in the list


@dataclass
class RecallResult:
    """Recall@K over (turn, target) pairs for one protocol."""

    recall: dict[int, float]
    turns: int
    pairs: int
    ranks: list[int] = field(default_factory=list, repr=False)  # rank of each target, 0-based (MISS if absent)

    def as_dict(self, suffix: str = "") -> dict[str, Any]:
        """Flat JSON fields: recall_at_1{suffix}, ..., turns{suffix}, pairs{suffix}."""
        out: dict[str, Any] = {f"recall_at_{k}{suffix}": round(v, 4) for k, v in self.recall.items()}
        out[f"turns{suffix}"] = self.turns
        out[f"pairs{suffix}"] = self.pairs
        return out


def result(ranks: Sequence[int], turns: int) -> RecallResult:
    """Recall@1/10/50 from 0-based target ranks."""
    arr = np.asarray(ranks)
    recall = {k: float((arr < k).mean()) if len(arr) else 0.0 for k in KS}
    return RecallResult(recall, turns, len(arr), list(ranks))


def replay(agent: Any, dialogues: Sequence[Dialogue], candidates: set[str] | None = None,
           log: Callable[[str], None] | None = print) -> dict[str, Any]:
    """Replay every dialogue into the agent and rank at each recommender turn with a movie.

    `candidates`: the ids that count as candidates (None: every catalog item). Mentions that are not catalog ids
    (unmapped titles) stay targets for the `_all` figures and are always misses."""
    started = time.perf_counter()
    position = agent.index.position
    dedup_all, dedup_mapped, nodedup = [], [], []
    turns_all = turns_mapped = turns_nodedup = 0
    latencies: list[float] = []
    for n, dialogue in enumerate(dialogues, start=1):
        prime(agent, dialogue)
        session = agent.new_session()
        seen: dict[str, None] = {}
        for utt in dialogue.utterances:
            movies = list(dict.fromkeys(utt.movies))
            if utt.speaker == "recommender" and movies:
                t0 = time.perf_counter()
                ranked = ranking(agent, session, seen, candidates)
                latencies.append(time.perf_counter() - t0)
                where = {m: r for r, m in enumerate(ranked)}
                new = [m for m in movies if m not in seen]
                mapped = [m for m in new if m in position and (candidates is None or m in candidates)]
                known = [m for m in movies if m in position and (candidates is None or m in candidates)]
                if new:
                    turns_all += 1
                    dedup_all += [where.get(m, MISS) for m in new]
                if mapped:
                    turns_mapped += 1
                    dedup_mapped += [where.get(m, MISS) for m in mapped]
                if known:
                    turns_nodedup += 1
                    nodedup += [where.get(m, MISS) for m in known]
            if utt.speaker == "recommender":
                agent.note_assistant(session, utt.text or "(a movie)")
            elif utt.text.strip():
                agent.suggest(session, utt.text[: agent.settings.max_message_chars])
            for m in movies:
                seen.setdefault(m, None)
                if m in position:
                    agent.feedback(session, m, "like")
        if log and (n % 100 == 0 or n == len(dialogues)):
            log(f"  {n}/{len(dialogues)} dialogues, {turns_mapped} turns ranked")
    return {"dedup": result(dedup_mapped, turns_mapped), "dedup_all": result(dedup_all, turns_all),
            "nodedup": result(nodedup, turns_nodedup), "dialogues": len(dialogues),
            "seconds": round(time.perf_counter() - started, 1),
            "rank_ms_p50": round(1000 * float(np.percentile(latencies, 50)), 2) if latencies else 0.0,
            "rank_ms_p95": round(1000 * float(np.percentile(latencies, 95)), 2) if latencies else 0.0}


def prime(agent: Any, dialogue: Dialogue) -> None:
    """Batch-encode the texts the agent will embed one by one while the dialogue is replayed (each seeker
    message as read for its act, and the last three as what was said): the same vectors, several times faster.
    Nothing the agent decides changes; an agent without a batch-capable embedder is left alone."""
    embedder = getattr(agent.index, "embedder", None)
    if embedder is None or not hasattr(embedder, "prime"):
        return
    speller = getattr(getattr(agent, "context", None), "speller", None)
    said: list[str] = []
    texts: list[str] = []
    for u in dialogue.utterances:
        if u.speaker == "recommender" or not u.text.strip():
            continue
        text = u.text[: agent.settings.max_message_chars].strip()
        said.append(text)
        texts += [normalise(text, speller)[:500], text[:500], " ".join(said[-3:])[:2000]]
    embedder.prime(texts)


def ranking(agent: Any, session: Any, mentioned: Iterable[str], candidates: set[str] | None) -> list[str]:
    """The agent's ranking (public `agent.rank`), candidates only, mentioned movies left out, DEPTH long."""
    exclude = [m for m in mentioned if m in agent.index.position]
    out: list[str] = []
    for depth in (2 * DEPTH, 6 * DEPTH):
        out = [h.item.item_id for h in agent.rank(session, k=depth, exclude_ids=exclude)
               if candidates is None or h.item.item_id in candidates]
        if len(out) >= DEPTH:
            break
    return out[:DEPTH]


def resolve_titles(dialogues: Sequence[Dialogue], titles: dict[str, str]) -> tuple[list[Dialogue], dict[str, Any]]:
    """Dialogues whose movies are titles, mapped to catalog ids where the catalog has them (the rest kept as
    "title:<title>", always a miss), and the mapping rate over distinct titles."""
    return TitleMatcher(titles).resolve(dialogues, keep_unmapped=True)


def uses_titles(dialogues: Sequence[Dialogue], position: dict[str, int]) -> bool:
    """Whether the dialogues name movies by title (INSPIRED) rather than by catalog id (ReDial)."""
    mentions = [m for d in dialogues for u in d.utterances for m in u.movies][:500]
    return bool(mentions) and sum(m in position for m in mentions) < len(mentions) / 2


def run_redial(agent: Any, data_dir: Path, limit: int | None = None, log=print) -> dict[str, Any]:
    """ReDial test (protocol candidates: the ReDial movies) and INSPIRED dev (the whole movie catalog)."""
    redial_ids = {it.item_id for it in redial_items(data_dir)}
    test = redial_test(data_dir)[:limit] if limit else redial_test(data_dir)
    log(f"ReDial: replaying {len(test)} test dialogues into the agent")
    res = replay(agent, test, candidates=redial_ids, log=log)
    out: dict[str, Any] = {**res["dedup"].as_dict(), **res["nodedup"].as_dict("_nodedup"),
                           "dialogues": res["dialogues"], "through_agent": True, "interest": agent.interest.name,
                           "rank_ms_p50": res["rank_ms_p50"], "rank_ms_p95": res["rank_ms_p95"],
                           "redial_seconds": res["seconds"], "dedup_ranks": res["dedup"].ranks}
    try:
        dev = inspired_dev(data_dir)
    except DatasetMissing as e:
        log(f"INSPIRED: skipped ({e})")
        return out
    dev = dev[:limit] if limit else dev
    resolved, mapping = resolve_titles(dev, {i.item_id: i.title for i in agent.index.items})
    log(f"INSPIRED dev: {len(resolved)} dialogues, {mapping['mapped']} of {mapping['titles']} titles in the catalog")
    ins = replay(agent, resolved, log=None)
    out.update({"inspired_recall_at_10_mapped": ins["dedup"].as_dict()["recall_at_10"],
                "inspired_recall_at_10_all": ins["dedup_all"].as_dict()["recall_at_10"],
                "inspired_recall_at_1_mapped": ins["dedup"].as_dict()["recall_at_1"],
                "inspired_recall_at_50_mapped": ins["dedup"].as_dict()["recall_at_50"],
                "inspired_recall_at_50_all": ins["dedup_all"].as_dict()["recall_at_50"],
                "inspired_mapped_rate": mapping["mapped_rate"], "inspired_dialogues": ins["dialogues"],
                "inspired_pairs_mapped": ins["dedup"].pairs, "inspired_pairs_all": ins["dedup_all"].pairs})
    return out
