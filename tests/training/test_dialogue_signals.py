"""The co-mention embedding, the memory of recommender turns and the by-recommender folds
(training/dialogue_signals.py, training/dialogue_interest.py) on the real ReDial train dialogues.

Every expectation is counted from the dialogues here, independently of the code under test.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from evals.lib.dialogues import redial_train
from training.dialogue_fit import split_halves
from training.dialogue_interest import DialogueRecord, context_turns
from training.dialogue_signals import ItemEmbedding, TurnMemory


@pytest.fixture(scope="module")
def train(data_dir: Path):
    dialogues = redial_train(data_dir)
    records = [DialogueRecord(tuple((u.speaker == "recommender", u.text, u.movies) for u in d.utterances),
                              d.recommender) for d in dialogues]
    counts = Counter(m for r in records for _, _, ids in r.utterances for m in set(ids))
    ids = [m for m, _ in counts.most_common(1500)]
    return records, ids, {m: i for i, m in enumerate(ids)}


def test_every_train_dialogue_names_its_recommender_and_the_folds_never_share_one(train):
    records, _, _ = train
    assert all(r.group for r in records)
    halves = split_halves(records, random.Random(0))
    groups = [{r.group for r in half} for half in halves]
    assert not groups[0] & groups[1]
    assert sum(map(len, halves)) == len(records) and min(map(len, halves)) > len(records) // 4
    unnamed = [DialogueRecord(r.utterances) for r in records[:100]]
    assert sorted(map(len, split_halves(unnamed, random.Random(0)))) == [50, 50]  # random when nobody is named


def test_the_embedding_links_movies_by_the_company_they_keep(train):
    records, ids, pos = train
    mentions = [[pos[m] for _, _, ms in r.utterances for m in ms if m in pos] for r in records]
    emb = ItemEmbedding.fit(mentions, len(ids) + 1)  # one extra row nobody mentions
    assert not emb.known[len(ids)] and emb.signal([len(ids)]).max() == 0.0
    liked = pos[ids[0]]
    partners = Counter(b for seen in mentions if liked in seen for b in set(seen) if b != liked)
    close = emb.signal([liked])
    top = set(np.argsort(-close)[:100])
    assert sum(p in top for p, _ in partners.most_common(10)) >= 6  # its usual company scores high
    far = [r for r in range(len(ids)) if r not in partners and emb.known[r]]
    assert close[[p for p, _ in partners.most_common(10)]].mean() > close[far].mean() + 0.2


def test_the_memory_votes_for_what_recommenders_answered_to_the_same_words(train, embedder):
    records, ids, pos = train
    turns = [(t.said, [pos[m] for m in t.targets]) for r in records[:400] for t in context_turns(r, set(pos))]
    memory = TurnMemory.fit(turns, len(ids), embedder.encode)
    said, answered = next((s, rows) for s, rows in turns if len(s.split()) > 12 and rows)
    votes = memory.signal(said, embedder.encode_one(said[:2000]))
    assert max(votes[r] for r in answered) > np.percentile(votes, 99)
    assert memory.signal("", None).max() == 0.0
    lost = answered[0]
    remap = np.arange(len(ids))
    remap[lost] = -1  # the catalog dropped one recommended movie: its votes go, the others stay
    moved = memory.remapped(remap, len(ids))
    assert len(moved.rows) == len(memory.rows) - int((memory.rows == lost).sum())
    again = moved.signal(said, embedder.encode_one(said[:2000]))
    assert again[lost] == 0.0 and np.isfinite(again).all()
    stored = TurnMemory.from_arrays(memory.arrays(), len(ids))
    kept = stored.signal(said, embedder.encode_one(said[:2000]))  # int8 storage: the same movies on top
    assert len(set(np.argsort(-kept)[:20]) & set(np.argsort(-votes)[:20])) >= 17
