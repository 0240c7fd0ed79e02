"""The conversation interest model (training/dialogue_interest.py) and the agent ranking with it, on real data:
the 400 movies most mentioned in ReDial train dialogues (real MiniLM vectors), fitted on those dialogues.

Checks are facts of the data, counted here independently of the model: the movie most often mentioned together
with a liked one, the genres in the catalog records, what a dialogue's seeker said.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from agent import Settings, build_agent
from evals.lib.dialogues import redial_test, redial_train
from evals.lib.redial import replay
from retrieval.catalogs import redial_items
from retrieval.items import Item
from training.dialogue_fit import fit_dialogue_interest
from training.dialogue_interest import DialogueInterest, DialogueRecord, context_turns

N_MOVIES = 400


@pytest.fixture(scope="module")
def movies(data_dir: Path, embedder):
    """(items, vectors, train records) for the most mentioned train movies."""
    train = redial_train(data_dir)
    counts = Counter(m for d in train for u in d.utterances for m in set(u.movies))
    by_id = {it.item_id: it for it in redial_items(data_dir)}
    items = [by_id[m] for m, _ in counts.most_common() if m in by_id][:N_MOVIES]
    vectors = embedder.encode([it.text() for it in items])
    records = [DialogueRecord(tuple((u.speaker == "recommender", u.text, u.movies) for u in d.utterances))
               for d in train]
    return items, vectors, records


@pytest.fixture(scope="module")
def model(movies, data_dir, embedder) -> DialogueInterest:
    items, vectors, records = movies
    fitted = fit_dialogue_interest(items, vectors, records, data_dir, embedder.encode, tune=False, log=lambda m: None)
    fitted._embedder = embedder
    return fitted


def test_context_turns_read_the_seeker_and_new_mentions(movies):
    items, _, records = movies
    known = {it.item_id for it in items}
    record = next(r for r in records if sum(is_rec and any(m in known for m in ids)
                                            for is_rec, _, ids in r.utterances) >= 2)
    turns = list(context_turns(record, known))
    seeker = [text for is_rec, text, _ in record.utterances if not is_rec]
    mentioned_before: set[str] = set()
    for turn in turns:
        assert turn.targets and not set(turn.targets) & set(turn.mentioned)
        assert all(part in " ".join(seeker) for part in turn.said.split(". ")[:1])
        assert set(turn.mentioned) >= mentioned_before
        mentioned_before = set(turn.mentioned)


def test_a_liked_movie_brings_up_what_is_talked_about_with_it(model, movies):
    items, _, records = movies
    ids = {it.item_id for it in items}
    liked = items[0].item_id
    together = Counter()
    for r in records:  # co-mentions counted straight from the dialogues
        seen = {m for _, _, ms in r.utterances for m in ms if m in ids}
        if liked in seen:
            together.update(seen - {liked})
    partner = together.most_common(1)[0][0]
    scores = model.score_all([], liked=[liked])
    order = [model.item_ids[i] for i in np.argsort(-scores)]
    assert order.index(partner) < 10
    rejected = model.score_all([], liked=[liked], disliked=[partner])
    assert rejected[model.index[partner]] == rejected.min()


def test_what_the_shopper_says_steers_the_scores(model, movies):
    items, _, _ = movies
    horror = {it.item_id for it in items if "horror" in it.attributes.get("genre", "").lower()}
    assert 10 < len(horror) < len(items) / 2
    scores = model.score_all([], "I love scary movies, the more frightening the better")
    top = [model.item_ids[i] for i in np.argsort(-scores)[:10]]
    assert sum(m in horror for m in top) >= 8
    plain = model.score_all([], "Hi there")
    assert sum(model.item_ids[i] in horror for i in np.argsort(-plain)[:10]) < 8


def test_save_and_load_onto_a_changed_catalog(model, movies, tmp_path, embedder):
    items, vectors, _ = movies
    model.save(tmp_path / "m")
    same = DialogueInterest.load(tmp_path / "m", items, vectors, embedder)
    liked = [items[3].item_id, items[7].item_id]
    a = model.score_all([], "a funny one", liked=liked)
    b = same.score_all([], "a funny one", liked=liked)
    assert np.allclose(a, b, atol=1e-3)  # float16 storage of the item-item values
    new = Item("new-1", "A Brand New Horror Film (2026)", "Movies > Horror", attributes={"genre": "Horror"})
    changed = [*items[5:], new]  # five movies gone, one the model never saw
    moved = DialogueInterest.load(tmp_path / "m", changed, np.vstack([vectors[5:], embedder.encode([new.text()])]),
                                  embedder)
    assert moved.item_ids == [it.item_id for it in changed]
    scores = moved.score_all([], "a scary horror film", liked=[items[6].item_id])
    assert np.isfinite(scores).all()
    assert moved.prior.comention[moved.index["new-1"]].nnz == 0  # no dialogue data: text and genre only
    assert scores[moved.index["new-1"]] > np.median(scores)


def test_convrec_train_redial_fits_and_saves_a_loadable_model(movies, data_dir, embedder, tmp_path, capsys):
    """The entry point `convrec train --catalog redial` dispatches to (the catalog and dialogues handed in)."""
    from training.dialogue_fit import main
    from ui.cli import _train

    with pytest.raises(SystemExit) as done:  # the CLI reaches the entry point's own arguments
        _train(["--catalog", "redial", "--help"])
    assert done.value.code == 0 and "--no-tune" in capsys.readouterr().out
    items, vectors, records = movies
    code = main(["--no-tune", "--out-dir", str(tmp_path / "cli")], lambda d: (items, vectors, embedder),
                lambda d: records[:300], lambda d: data_dir)
    assert code == 0
    printed = capsys.readouterr().out
    assert f"catalog: {len(items)} movies; 300 train dialogues" in printed
    loaded = DialogueInterest.load(tmp_path / "cli", items, vectors, embedder)
    assert loaded.meta["catalog"] == "redial" and loaded.meta["train_dialogues"] == 300
    assert loaded.prior.comention.nnz > 0


def test_the_agent_ranks_with_the_model_and_says_why(model, movies, tmp_path, embedder, data_dir):
    from tests.conftest import _index_from

    items, _, _ = movies
    index = _index_from(items, tmp_path / "chroma", embedder, "movies")
    model.save(tmp_path / "model")
    settings = Settings(llm_backend="none", mode="guided", collection="movies", interest_checkpoint=tmp_path / "model")
    agent = build_agent(settings, index=index, llm=None)
    assert agent.describe()["interest"] == "dialogue-model"
    session = agent.new_session()
    liked = items[0].item_id
    agent.feedback(session, liked, "like")
    turn = agent.reply(session, "any other movies like that one?")
    assert turn.picks and liked not in {p.item.item_id for p in turn.picks}
    best = agent.interest.best([], [liked], [], "", k=20)
    assert sum(p.item.item_id in best for p in turn.picks if not p.explore) >= 2
    linked = [p for p in turn.picks if "people who liked it also liked this" in p.reason]
    assert linked and all(agent.interest.follows_from(p.item.item_id, [liked]) == liked for p in linked)

    known = {it.item_id for it in items}
    test = [d for d in redial_test(data_dir)[:200] if sum(m in known for u in d.utterances for m in u.movies) >= 3][:8]
    result = replay(agent, test, log=None)
    pairs = nodedup = 0  # the protocol's pairs, counted from the dialogues themselves
    for d in test:
        seen: set[str] = set()
        for u in d.utterances:
            if u.speaker == "recommender":
                pairs += sum(m in known and m not in seen for m in dict.fromkeys(u.movies))
                nodedup += sum(m in known for m in dict.fromkeys(u.movies))
            seen.update(u.movies)
    assert result["dedup"].pairs == pairs > 0 and result["nodedup"].pairs == nodedup
    assert result["dialogues"] == len(test) and 0.0 < result["dedup"].recall[50] <= 1.0
    assert pop_agent_is_centroid(settings, index, tmp_path)


def pop_agent_is_centroid(settings, index, tmp_path) -> bool:
    """Without a checkpoint the same catalog falls back to the embedding centroid (and says so)."""
    agent = build_agent(replace(settings, interest_checkpoint=tmp_path / "none"), index=index, llm=None)
    return agent.describe()["interest"] == "centroid"


def test_tuning_trains_the_reranker_on_every_held_out_turn(movies, data_dir, embedder):
    """Cross-fitting: each half's turns are scored by a model fitted on the other half; the weights are tuned on a
    sample of them, the re-ranker on all of them (counted here from the dialogues themselves)."""
    items, vectors, records = movies
    part = records[:300]
    fitted = fit_dialogue_interest(items, vectors, part, data_dir, embedder.encode, tune=True, log=lambda m: None)
    known = {it.item_id for it in items}
    turns = sum(1 for r in part for _ in context_turns(r, known))
    info = fitted.meta["reranker"]
    assert info["train_lists"] + info["held_lists"] == turns  # a 400-movie catalog: every target is shortlisted
    assert fitted.meta["tuning_turns"] == turns  # fewer than TUNE_TURNS per half: the sample is all of them
    before, after = info["held_out_before"], info["held_out_after"]
    assert (fitted.reranker is not None) == (sum(after.values()) > sum(before.values()))
    fitted._embedder = embedder
    scores = fitted.score_all([], "a funny animated movie for kids")
    assert np.isfinite(scores).all() and len(scores) == len(items)
