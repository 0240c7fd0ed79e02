"""The simulated shopper is truthful and never names its target; episodes run through the real agent."""

from __future__ import annotations

import re

from agent import build_agent
from agent.config import Settings
from agent.llm import ScriptedLLM
from evals.lib.simulator import LLMShopper, RuleShopper, names_target, run_simulation, summarise

QUESTIONS = ["Which brand do you prefer?", "What's your budget?", "What kind of product is it?",
             "What will you use it for?", "Anything else?", ""]


def test_answers_are_truthful_and_never_name_the_target(small_index) -> None:
    for target in small_index.items:
        shopper = RuleShopper(target, small_index)
        said = [shopper.opening()] + [shopper.answer(q) for q in QUESTIONS] + [shopper.follow_up() for _ in range(4)]
        assert not any(names_target(m, target) for m in said), (target.title, said)
        assert target.title.lower() not in " ".join(said).lower()
        brand_answer = shopper.answer("Any brand you like?")
        assert (target.brand in brand_answer) if target.brand else ("No brand" in brand_answer)
        price_answer = shopper.answer("How much do you want to spend?")
        if target.price is not None:
            ceiling = float(re.search(r"\$([\d,]+)", price_answer).group(1).replace(",", ""))
            assert ceiling >= target.price  # a budget the target fits
            assert shopper.constraints().accepts(target)  # stated constraints never exclude the target
        assert shopper.kind() in shopper.answer("What type of item?").lower()


def test_a_fact_withheld_for_naming_the_target_binds_nothing(small_index) -> None:
    target = next(i for i in small_index.items if i.brand)
    renamed = type(target)(target.item_id, f"{target.brand}X9 Tool", target.category, f"{target.brand}X9")
    shopper = RuleShopper(renamed, small_index)
    said = shopper.answer("Which brand?")  # the brand is a model-number-like token of the title: withheld
    assert not names_target(said, renamed) and shopper.constraints().brands == ()


def test_reactions_like_close_items_and_reject_far_ones(small_index) -> None:
    target = small_index.items[0]
    shopper = RuleShopper(target, small_index)
    picks = [type("P", (), {"item": i})() for i in small_index.items]
    reactions = dict(shopper.react(picks))
    assert reactions[target.item_id] == "like"
    far = min(small_index.items, key=lambda i: float(small_index.embedding(i.item_id) @ shopper.vector))
    assert reactions[far.item_id] == "reject"


def test_llm_worded_answers_fall_back_when_they_leak_the_target(small_index) -> None:
    target = small_index.items[0]
    llm = ScriptedLLM.of([f"I want the {target.title}", "Something cordless would be great."])
    shopper = LLMShopper(target, small_index, llm)
    leaked = shopper.answer("What will you use it for?")
    assert not names_target(leaked, target) and leaked != f"I want the {target.title}"
    assert shopper.answer("What will you use it for?") == "Something cordless would be great."
    assert not names_target(shopper.answer("Brand?"), target)  # LLM has no replies left: rule answer


def test_episodes_through_the_real_agent(small_index, tmp_path) -> None:
    agent = build_agent(Settings(chroma_dir=tmp_path, llm_backend="none"), index=small_index)
    targets = [(item, ()) for item in small_index.items[:4]]
    episodes = run_simulation(agent, targets, max_turns=3)
    for ep, (target, _) in zip(episodes, targets):
        assert 1 <= ep.turns <= 3 and len(ep.latencies_s) == ep.turns
        assert ep.first_success is None or target.item_id in ep.session.to_json()
        assert not any(names_target(m, target) for m in ep.messages)
        assert [t.text for t in ep.session.turns if t.role == "user"] == ep.messages
    out = summarise(episodes, small_index, max_turns=3)
    assert out["episodes"] == 4 and out["target_named_by_shopper"] == 0
    assert 0.0 <= out["success_rate"] <= 1.0 and out["invented_item_rate"] == 0.0
    assert list(out["success_at_turn"]) == ["1", "2", "3"]
