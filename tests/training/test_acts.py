"""The dialogue-act classifier: its data file, the shipped artifact, fresh shopper messages, deterministic retraining.

Real components only: the real MiniLM embedder (session fixture) and the shipped artifact; the data file is
embedded once per module.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter

import numpy as np
import pytest

from retrieval.embed import DIM
from training.acts import (
    ACTS,
    DATA_FILE,
    ActClassifier,
    FitConfig,
    file_sha1,
    fit_vectors,
    keyword_act,
    main,
    read_examples,
    train_acts,
)
from training.artifacts import artifact, find

# Written for this test as shoppers type (typos included); none of them is in training/acts_data.jsonl.
FRESH = [
    ("hey im looking for a rice cooker, nothing fancy, just for 2 ppl", "request"),
    ("need a bday gift for my nephew hes 12 and into minecraft", "request"),
    ("ok yes, show me a few", "request"),
    ("does teh second one come with a lid", "ask_item"),
    ("how much is the Fenwick grinder", "ask_item"),
    ("is the leash reflective", "ask_item"),
    ("wich of those 2 is better for a small balcony", "compare"),
    ("whats the difference between the first and the last one", "compare"),
    ("which blender is more powerful, the first or third", "compare"),
    ("somthing cheeper? thats too much for me", "critique"),
    ("smaller pls, it has to fit in a carry on", "critique"),
    ("like the 2nd but in stainless", "critique"),
    ("whats the cheapest ssd you have", "superlative"),
    ("show me your best rated yoga mat", "superlative"),
    ("the most lightweight backpack for hiking", "superlative"),
    ("ooh i really like the third one", "feedback"),
    ("nah not the grey one", "feedback"),
    ("i alredy have that kettle at home", "feedback"),
    ("none of these are right, show me something else", "different"),
    ("can we try a totally different kind of thing", "different"),
    ("nope, other options pls", "different"),
    ("thanks so much, bye!", "social"),
    ("hi!", "social"),
    ("cool, that's all i needed", "social"),
    ("how long wuld shipping take to texas", "cannot_answer"),
    ("can i return it after 30 days", "cannot_answer"),
    ("do u have any promo codes", "cannot_answer"),
    ("whats the weather like in paris rn", "out_of_scope"),
    ("can u write my cover letter", "out_of_scope"),
    ("who won the world cup in 2018", "out_of_scope"),
]


def _top(probs: dict[str, float]) -> str:
    return max(probs, key=probs.__getitem__)


@pytest.fixture(scope="module")
def examples():
    return read_examples()


@pytest.fixture(scope="module")
def shipped() -> ActClassifier:
    return ActClassifier.load()


@pytest.fixture(scope="module")
def vectors(embedder, examples) -> np.ndarray:
    """MiniLM vectors of every labelled message, computed once."""
    return embedder.encode([e.text for e in examples])


def test_data_file_is_large_balanced_and_labelled(examples) -> None:
    counts = Counter(e.act for e in examples)
    assert len(examples) >= 500
    assert set(counts) == set(ACTS) and min(counts.values()) >= 35, counts
    assert {e.source for e in examples} == {"shopdial-dev", "written"}
    texts = [e.text.lower() for e in examples]
    assert len(set(texts)) == len(texts)
    assert not {t.lower() for t, _ in FRESH} & set(texts)


def test_shipped_artifact_is_registered_and_current(shipped) -> None:
    registered = artifact("dialogue-acts")
    assert find("acts") == registered and registered.present()
    assert shipped.labels == ACTS
    assert shipped.weight.shape == (len(ACTS), DIM + len(shipped.cues))
    assert shipped.record["data"]["sha1"] == file_sha1(DATA_FILE), \
        "training/acts_data.jsonl changed since the artifact was trained. Run: python -m training.acts"
    metrics = shipped.record["metrics"]
    assert metrics["classifier"]["macro_f1"] > metrics["keyword_baseline"]["macro_f1"]


def test_fresh_messages(shipped, embedder) -> None:
    probs = shipped.predict_texts([t for t, _ in FRESH], embedder)
    assert all(set(p) == set(ACTS) and abs(sum(p.values()) - 1) < 1e-5 for p in probs)
    wrong = [(t, a, _top(p)) for (t, a), p in zip(FRESH, probs) if _top(p) != a]
    assert 1 - len(wrong) / len(FRESH) >= 0.8, wrong
    # The classifier beats the rules it is compared with.
    assert len(wrong) < sum(keyword_act(t) != a for t, a in FRESH)


def test_retraining_is_deterministic_and_reproduces_the_artifact(shipped, examples, vectors) -> None:
    config = FitConfig(**shipped.record["fit"])
    first, second = fit_vectors(vectors, examples, config), fit_vectors(vectors, examples, config)
    assert np.array_equal(first.weight, second.weight) and np.array_equal(first.bias, second.bias)
    texts = [e.text for e in examples]
    retrained, saved = first.predict(vectors, texts), shipped.predict(vectors, texts)
    assert [_top(p) for p in retrained] == [_top(p) for p in saved]
    assert max(abs(p[a] - q[a]) for p, q in zip(retrained, saved) for a in ACTS) < 1e-3


def test_train_acts_embeds_then_fits(embedder, examples, vectors) -> None:
    subset = examples[::12]  # every act, few texts to embed
    clf = train_acts(subset, embedder)
    same = fit_vectors(vectors[::12], subset)
    texts = [e.text for e in subset]
    assert [_top(p) for p in clf.predict(vectors[::12], texts)] == [_top(p) for p in same.predict(vectors[::12], texts)]


def test_save_load_round_trip_and_cues_need_texts(shipped, vectors, examples, tmp_path) -> None:
    shipped.save(tmp_path / "acts")
    again = ActClassifier.load(tmp_path / "acts")
    texts = [e.text for e in examples[:20]]
    assert again.predict(vectors[:20], texts) == shipped.predict(vectors[:20], texts)
    with pytest.raises(ValueError, match="word cues"):
        shipped.predict(vectors[:2])
    plain = fit_vectors(vectors[:200], examples[:200], FitConfig(cues=False))
    assert len(plain.predict(vectors[0])) == 1  # an embedding-only model needs no texts


def test_predict_one_message_is_cheap(shipped, vectors, examples) -> None:
    """The classifier on top of the encode; the budget per message is 15 ms in all, MiniLM takes most of it."""
    vec, text = vectors[:1], [examples[0].text]
    times = []
    for _ in range(50):
        start = time.perf_counter()
        shipped.predict(vec, text)
        times.append(time.perf_counter() - start)
    assert statistics.median(times) < 0.002


def test_main_trains_evaluates_and_writes(tmp_path, examples, embedder, capsys) -> None:
    small = tmp_path / "acts.jsonl"
    small.write_text("".join(json.dumps({"text": e.text, "act": e.act, "source": e.source}) + "\n"
                             for e in examples[::8]))
    assert main(["--data", str(small), "--out", str(tmp_path / "out")], embedder=embedder) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(summary["heldout"]) >= {"classifier", "keyword_baseline"}
    assert set(summary["heldout"]["classifier"]["f1"]) == set(ACTS)
    saved = ActClassifier.load(tmp_path / "out")
    assert saved.labels == ACTS and saved.record["data"]["sha1"] == file_sha1(small)
