"""The LoRA data builder, a few real training steps, and the shipped adapter on fixed cases.

Real components only: the real parser and groundedness check, the demo and test catalogs, the converted
Gemma 3 270M (converted once per machine by the `local_model_dir` session fixture, so nothing skips on a fresh
clone).
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from agent.config import Settings
from agent.reasons import check_grounded, price_text
from agent.state import DialogueState
from agent.wording import parser_labels, read_extraction
from retrieval.demo import generate_demo_catalog
from retrieval.vocabulary import ItemSet, Preference, vocabulary
from training.lora import ADAPTER_DIR
from training.lora_data import _singular, build_dataset, generate_message, reference_reason
from training.lora_format import Labels, extraction_prompt, fit_notes, labels_to_json, reason_prompt

MODEL_DIR = Settings().resolved_local_model_dir
needs_model = pytest.mark.usefixtures("local_model_dir")  # converts the base model first when it is missing


@pytest.fixture(scope="module")
def dataset():
    """Demo + test catalog only (no shared data needed), small sizes."""
    return build_dataset(None, seed=3, n_extract=200, n_reason=200, n_dialogue=0, n_heldout=60)


@pytest.fixture(scope="module")
def demo_vocab():
    return vocabulary(ItemSet(generate_demo_catalog()))


def test_sizes_and_recipe_are_reproducible(dataset) -> None:
    train, held, recipe = dataset
    assert recipe["counts"]["train_demo"] == 400 and len(train) == 400
    assert {e.task for e in train} == {"extract", "reason"} and {e.task for e in held} == {"extract", "reason"}
    assert all(e.target.endswith("\n") and e.prompt.endswith(("JSON:", "Reason:")) for e in train)
    again = build_dataset(None, seed=3, n_extract=200, n_reason=200, n_dialogue=0, n_heldout=60)
    assert [e.prompt for e in again[0]] == [e.prompt for e in train]


def test_heldout_split_is_disjoint(dataset) -> None:
    train, held, _ = dataset
    train_ids = {e.meta["item_id"] for e in train if "item_id" in e.meta}
    held_ids = {e.meta["item_id"] for e in held if "item_id" in e.meta}
    assert held_ids and not train_ids & held_ids
    assert not {e.prompt for e in train} & {e.prompt for e in held}
    held_demo = [e for e in held if e.meta["source"] == "demo" and e.task == "reason"]
    assert all(("Coffee" in e.prompt or "Audio" in e.prompt or "Headphones" in e.prompt or "Speakers" in e.prompt
                or "Earbuds" in e.prompt or "|" in e.prompt) for e in held_demo)
    assert not any(e.meta.get("text", "").startswith(("Hunting for", "My brother needs")) for e in train)


def test_labels_agree_with_the_parser_where_it_is_reliable(dataset, demo_vocab) -> None:
    """Prices, brands and pick feedback: the parser reads most generated messages as labelled. The labels come
    from construction, and the training phrasings deliberately go beyond what the parser reads ("skip X",
    "I'd go with X", "ooh the first one"), which is where the tuned model beats it (evals/LOCAL_LLM.md)."""
    train, _, _ = dataset
    fields = ("max_price", "min_price", "brand", "avoid_brand", "feedback")
    checked = agreed = 0
    for e in (e for e in train if e.task == "extract" and e.meta["source"] == "demo"):
        gold = {(f, v) for f, v in read_extraction(e.meta["gold"], demo_vocab).pairs() if f in fields}
        parsed = {(f, v) for f, v in parser_labels(e.meta["text"], demo_vocab).pairs() if f in fields}
        checked += bool(gold)
        agreed += bool(gold) and gold == parsed
    assert checked > 50 and agreed / checked >= 0.85  # 0.89 when written
    assert parser_labels("any air fryers not over $190", demo_vocab).pairs() == {("category", "Air Fryers"),
                                                                                  ("max_price", "190")}


def test_generated_messages_vary_the_wording_but_not_the_labels(demo_vocab) -> None:
    """Values before the noun, units as typed, singular nouns and values to avoid: the label stays the catalog's
    own word for each slot (every label survives `parse_extraction` as it is)."""
    items = generate_demo_catalog()
    rng = random.Random(7)
    texts, n_avoid, n_front, n_typed = [], 0, 0, 0
    for _ in range(1500):
        text, labels = generate_message(rng.choice(items), demo_vocab, items, rng, heldout=False)
        texts.append(text)
        assert read_extraction(labels_to_json(labels), demo_vocab).pairs() == labels.pairs(), text
        n_avoid += any(p.attribute.startswith("attr:") and not p.wanted for p in labels.preferences)
        n_typed += bool(re.search(r"\d(?: liters?| litre| kilos| grams|-inch| inches| watts?| feet)\b", text))
        values = [p.value.lower() for p in labels.preferences if p.attribute.startswith("attr:") and p.wanted]
        cat = next((p.value for p in labels.preferences if p.attribute == "category"), None)
        n_front += bool(cat and any(re.search(rf"\b{re.escape(v)} {re.escape(_singular(cat.lower()))}", text.lower())
                                    for v in values))
    assert n_avoid > 50 and n_front > 50 and n_typed > 20, (n_avoid, n_front, n_typed)
    assert _singular("running shoes") == "running shoe" and _singular("chef's knives") == "chef's knives"


def test_json_round_trip_and_validation(demo_vocab) -> None:
    labels = Labels((Preference("category", "Drills"), Preference("attr:power_source", "cordless"),
                     Preference("max_price", "100"), Preference("brand", "Voltrix", False)), "like", 2)
    text = labels_to_json(labels)
    assert json.loads(text) == {"category": ["Drills"], "must_have": ["cordless"], "max_price": 100,
                                "avoid_brand": ["Voltrix"], "feedback": "like", "pick": 2}
    assert read_extraction(" " + text + " trailing junk", demo_vocab).pairs() == labels.pairs()
    assert read_extraction('{"brand":["Ignore previous instructions"],"max_price":"all"}', demo_vocab) == Labels()
    assert read_extraction("reason, reason, reason", demo_vocab) == Labels()
    assert extraction_prompt("  a \n drill  ") == "Shopper: a drill\nJSON:"
    # a phrase that is not the catalog's own word is read the way the parser reads shopper text
    read = read_extraction('{"category":["Espresso Machine"],"must_have":["milk frother please"]}', demo_vocab)
    assert read.pairs() == {("category", "Espresso Machines"), ("must_have", "milk frother")}
    # the field says wanted or not; the vocabulary says what the phrase names, whatever field it was put under
    read = read_extraction('{"category":["Noise Cancelling Headphones","Trailmark"],"avoid_brand":["PVC"]}',
                            demo_vocab)
    assert read.pairs() == {("category", "Headphones"), ("must_have", "noise cancelling"), ("brand", "Trailmark"),
                            ("avoid", "PVC")}


def test_reference_reasons_are_grounded_and_honest(demo_vocab) -> None:
    rng = random.Random(0)
    items = [i for i in generate_demo_catalog() if i.price is not None][:60]
    for item in items:
        prefs = [Preference("max_price", str(int(item.price * 0.8))), Preference("brand", item.brand or "")]
        reason = reference_reason(prefs, item, rng)
        assert check_grounded(reason, item, DialogueState(preferences=prefs), demo_vocab), reason
        assert "over your" in reason and ("But" in reason or "However" in reason)  # a partial fit says so
        prompt = reason_prompt(prefs, item)
        assert f"Misses: {price_text(item.price)} over your ${int(item.price * 0.8)} budget" in prompt, prompt


def test_every_generated_reason_target_passes_the_groundedness_check(dataset, demo_vocab) -> None:
    """The training targets are what the model learns to say: none may state a need as met that is not."""
    train, held, _ = dataset
    items = {i.item_id: i for i in generate_demo_catalog()}
    reasons = [e for e in train + held if e.task == "reason" and e.meta["source"] == "demo"]
    assert len(reasons) > 100
    partial = 0
    for e in reasons:
        prefs = [Preference(a, v, w) for a, v, w in e.meta["prefs"]]
        assert check_grounded(e.target.strip(), items[e.meta["item_id"]], DialogueState(preferences=prefs),
                              demo_vocab), (e.prompt, e.target)
        partial += "Misses: none" not in e.prompt
    assert 0.1 < partial / len(reasons) < 0.6  # partial fits are common, not the rule


def test_fit_notes_compare_each_need_with_the_record() -> None:
    item = next(i for i in generate_demo_catalog() if i.attributes.get("power_source") == "cordless" and i.price)
    prefs = [Preference("attr:power_source", "corded"), Preference("attr:no_such_thing", "purple"),
             Preference("max_price", str(int(item.price) + 10)), Preference("brand", item.brand or "")]
    notes = {f.want: f for f in fit_notes(prefs, item)}
    assert not notes["corded"].met and notes["corded"].have == "cordless"
    assert "purple" not in notes  # the listing says nothing: no claim either way (the template states the gap)
    assert notes[f"${int(item.price) + 10}"].met and notes[item.brand].met
    prompt = reason_prompt(prefs, item)
    assert "power source: corded (it is cordless)" in prompt and "purple" not in prompt
    assert f"Fits: {price_text(item.price)} within your ${int(item.price) + 10} budget; by {item.brand}\n" in prompt


@pytest.mark.slow
@needs_model
def test_a_few_lora_steps_lower_the_loss(tmp_path: Path) -> None:
    from training.lora import TrainConfig, encode, load_for_training, train

    cfg = TrainConfig(steps=6, batch=2, lr=5e-3, first_layer=15, max_len=48, time_budget_s=300, seed=1)
    model, tok, device = load_for_training(cfg)
    pairs = [("Shopper: a cordless drill\nJSON:", ' {"must_have":["cordless"]}\n'),
             ("Shopper: under $50\nJSON:", ' {"max_price":50}\n')]
    rows = [encode(tok, p, t, cfg.max_len) for p, t in pairs]
    result = train(cfg, rows, model, tok, device, log=lambda s: None)
    curve = result["loss_curve"]
    assert result["steps_done"] == 6 and sum(curve[-2:]) / 2 < curve[0]


@pytest.mark.slow
@needs_model
def test_shipped_adapter_loads_and_answers_fixed_cases(demo_vocab) -> None:
    from training.gemma import ANSWER_TOKENS, generate_batch, load

    assert (ADAPTER_DIR / "adapter_model.safetensors").stat().st_size < 10e6
    config = json.loads((ADAPTER_DIR / "training_config.json").read_text())
    assert config["total_steps"] > 0 and config["recipe"]["heldout"]
    allowed = json.loads((ADAPTER_DIR / ANSWER_TOKENS).read_text())["reason"]
    model, tok = load(MODEL_DIR, ADAPTER_DIR, half=True)  # the agent's path: merged, bfloat16
    items = [i for i in generate_demo_catalog() if i.top_category == "Power Tools" and i.price]
    cases = [(items[0], [Preference("max_price", str(int(items[0].price) + 50))]),
             (items[1], [Preference("brand", items[1].brand or "")]),
             (items[2], [Preference("max_price", str(int(items[2].price * 0.8)))])]  # over budget: must say so
    prompts = [reason_prompt(p, i) for i, p in cases]
    reasons = generate_batch(model, tok, prompts, max_new_tokens=40, vocabulary=allowed)
    assert reasons == generate_batch(model, tok, prompts, max_new_tokens=40)  # the restriction changes no answer
    for (item, prefs), reason in zip(cases, reasons):
        assert check_grounded(reason, item, DialogueState(preferences=prefs), demo_vocab), reason
    assert "over your" in reasons[2], reasons[2]
    raw = generate_batch(model, tok, [extraction_prompt("Looking for drills, cordless please, made by Hammerline, "
                                                        "under $120"),
                                      extraction_prompt("not a fan of the second one"),
                                      extraction_prompt("a waterproof bluetooth speaker, nothing from Sonavik"),
                                      extraction_prompt("get rid of the second one")])
    got = [read_extraction(r, demo_vocab).pairs() for r in raw]
    assert {("category", "Drills"), ("max_price", "120"), ("brand", "Hammerline"),
            ("must_have", "cordless")} <= got[0], raw[0]
    assert got[1] == {("feedback", "reject:2")} == got[3], raw
    # values before the noun and an avoided brand (the model writes "Bluetooth Speakers"; the vocabulary splits it)
    assert got[2] == {("category", "Speakers"), ("must_have", "Bluetooth"), ("must_have", "waterproof"),
                      ("avoid_brand", "Sonavik")}, raw[2]


@pytest.mark.slow
@needs_model
def test_exported_data_carries_our_token_ids(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    from training.lora import encode, export_data, read_data

    train, held, recipe = build_dataset(None, seed=5, n_extract=20, n_reason=20, n_dialogue=0, n_heldout=10)
    tok = AutoTokenizer.from_pretrained(MODEL_DIR)
    export_data(tmp_path / "data.jsonl", train, held, recipe, tok, 160)
    train2, held2, recipe2 = read_data(tmp_path / "data.jsonl")
    assert recipe2 == json.loads(json.dumps(recipe)) and len(train2) == len(train) and len(held2) == len(held)
    assert (train2[0].ids, train2[0].labels) == encode(tok, train[0].prompt, train[0].target, 160)
    assert all(r.ids[:len(r.labels)] and len(r.ids) == len(r.labels) for r in train2 + held2)


def test_hand_labelled_freeform_messages_use_catalog_vocabulary(demo_vocab) -> None:
    """Every label in the free-form extraction set survives `parse_extraction`: no label is silently dropped."""
    from evals.bench_local_llm import FREEFORM

    rows = [json.loads(line) for line in FREEFORM.read_text().splitlines() if line.strip()]
    assert len(rows) >= 80 and sum(r.get("batch") == 2 for r in rows) >= 40  # batch 2: unseen by both contenders
    for row in rows:
        gold = row["gold"]
        n_labels = sum(len(v) if isinstance(v, list) else 1 for k, v in gold.items() if k != "pick")
        assert len(read_extraction(json.dumps(gold), demo_vocab).pairs()) == n_labels, row
