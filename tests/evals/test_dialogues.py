"""Dialogue loaders on the real ReDial/INSPIRED files (counts from their SOURCE.md) and the dedup protocol."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.lib.dialogues import (
    DatasetMissing,
    Dialogue,
    TitleMatcher,
    Utterance,
    inspired_dev,
    load_dialogues,
    normalise_title,
    rec_turns,
    redial_dialogue,
    redial_test,
    redial_train,
)


def test_dedup_protocol_on_a_tiny_dialogue() -> None:
    raw = {"conversationId": "1", "initiatorWorkerId": 1, "respondentWorkerId": 2,
           "movieMentions": {"10": "Alien (1979)", "20": "Aliens (1986)", "30": "Heat (1995)"},
           "messages": [{"senderWorkerId": 1, "text": "I loved @10"},
                        {"senderWorkerId": 2, "text": "Then @20 and @10!"},  # 10 was mentioned: not a dedup target
                        {"senderWorkerId": 1, "text": "Seen @20 too"},
                        {"senderWorkerId": 2, "text": "Try @20"},  # only an old movie: no dedup turn
                        {"senderWorkerId": 2, "text": "Or @30 or @99"}]}  # 99 is not in the catalog
    dialogue = redial_dialogue(raw)
    assert dialogue.utterances[1].text == "Then Aliens (1986) and Alien (1979)!"
    turns = list(rec_turns(dialogue, known={"10", "20", "30"}))
    assert [(t.index, t.targets, t.targets_nodedup) for t in turns] == [
        (1, ("20",), ("20", "10")), (3, (), ("20",)), (4, ("30",), ("30",))]
    assert turns[0].mentioned == ("10",)
    assert turns[2].mentioned == ("10", "20")
    assert [u.text for u in turns[2].context][-1] == "Try Aliens (1986)"


def test_title_matching_normalises_articles_case_and_years() -> None:
    matcher = TitleMatcher({"1": "The Matrix (1999)", "2": "Heat (1995)", "3": "Heat (1972)", "4": "Up (2009)"})
    assert normalise_title("Matrix, The (1999)") == ("matrix", "1999")
    assert matcher.match("the matrix (1999)") == "1"
    assert matcher.match("Heat (1972)") == "3"
    assert matcher.match("Heat (1980)") is None  # ambiguous title, wrong year
    assert matcher.match("Up (2010)") == "4"  # unique title, year off by one
    assert matcher.match("Hustlers (2019)") is None


def test_generic_jsonl_shape_round_trips(tmp_path: Path) -> None:
    d = Dialogue("x", "mine", (Utterance("seeker", "any horror?"), Utterance("recommender", "Try Alien", ("10",))))
    path = tmp_path / "mine.jsonl"
    path.write_text(json.dumps(d.to_dict()) + "\n")
    assert load_dialogues(path) == [Dialogue("x", "mine", d.utterances, {})]
    with pytest.raises(DatasetMissing, match="--data"):
        load_dialogues(tmp_path / "absent.jsonl")


@pytest.mark.data
def test_redial_counts_match_source_and_baselines(data_dir: Path) -> None:
    test = redial_test(data_dir)
    assert len(test) == 1342  # SOURCE.md
    train = redial_train(data_dir)
    assert len(train) == 3458 and not {d.dialogue_id for d in train} & {d.dialogue_id for d in test}
    known = set(json.loads(__import__("gzip").open(data_dir / "redial/ievalm_eval/id2info.json.gz").read()))
    turns = [t for d in test for t in rec_turns(d, known) if t.targets]
    assert (len(turns), sum(len(t.targets) for t in turns)) == (3856, 4493)  # BASELINES.md protocol


@pytest.mark.data
def test_inspired_dev_loads_in_the_same_shape(data_dir: Path) -> None:
    dialogues = inspired_dev(data_dir)
    assert len(dialogues) == 99  # SOURCE.md (the README says 100)
    assert sum(len(d.utterances) for d in dialogues) == 3538
    titles = {m for d in dialogues for u in d.utterances for m in u.movies}
    assert len(titles) == 336 and "A Quiet Place (2018)" in titles
    assert {u.speaker for d in dialogues for u in d.utterances} == {"seeker", "recommender"}
    assert load_dialogues(data_dir / "inspired/dev.tsv.gz")[0].utterances == dialogues[0].utterances
