"""The embedded Gemma 3 270M backend: one-time conversion to a cached folder, loading, generation.

Conversion happens once per machine into Settings.resolved_local_model_dir (CONVREC_LOCAL_MODEL_DIR
overrides it); the first run takes a few minutes on a small CPU, later runs load in seconds.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.backends import make_llm
from agent.config import Settings
from agent.llm import LLMUnavailable, Message
from agent.local_model import LocalLLM
from training.gemma import DONE_MARKER, convert, is_converted


@pytest.fixture(scope="module")
def local_llm() -> LocalLLM:
    llm = make_llm(Settings.from_env(llm_backend="local", local_adapter=False))
    assert isinstance(llm, LocalLLM)
    llm.warm_up()
    return llm


@pytest.mark.slow
def test_conversion_is_cached_and_complete(local_llm: LocalLLM) -> None:
    assert is_converted(local_llm.model_dir)
    assert (local_llm.model_dir / "model.safetensors").exists() and (local_llm.model_dir / "tokenizer.json").exists()
    started = time.perf_counter()
    assert convert(local_llm.model_dir) == {"convert_s": 0.0}  # done already: no work
    assert time.perf_counter() - started < 2


@pytest.mark.slow
def test_chat_gives_one_plain_line_and_ignores_tools(local_llm: LocalLLM) -> None:
    assert local_llm.supports_tools is False
    reply = local_llm.chat([Message("system", "You are a helpful shopping assistant."),
                            Message("user", "I want a kettle for my office.")], tools=[object()], max_tokens=24)
    assert reply.role == "assistant" and reply.tool_calls == ()
    assert reply.content.strip() and "\n" not in reply.content


@pytest.mark.slow
def test_complete_is_greedy_and_deterministic(local_llm: LocalLLM) -> None:
    prompt = "Shopper: Which glue bonds wood best?\nAssistant:"
    first = local_llm.complete(prompt, max_tokens=12)
    assert first and first == local_llm.complete(prompt, max_tokens=12)


@pytest.mark.slow
def test_stream_yields_the_same_line_as_chat(local_llm: LocalLLM) -> None:
    messages = [Message("user", "Suggest a drill bit set.")]
    assert "".join(local_llm.stream(messages, max_tokens=10)).strip() == local_llm.chat(messages, max_tokens=10).content


def test_render_is_a_plain_transcript_ending_with_the_assistant_cue() -> None:
    llm = LocalLLM(Path("/nonexistent"), few_shot="")
    text = llm.render([Message("system", "Be brief."), Message("user", "hi\n\nthere"),
                       Message("assistant", "Hello."), Message("tool", "3 items")])
    assert text == "Be brief.\n\nShopper: hi there\nAssistant: Hello.\nTool result: 3 items\nAssistant:"


def test_a_broken_model_folder_is_unavailable_with_advice(tmp_path: Path) -> None:
    broken = tmp_path / "gemma"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    (broken / DONE_MARKER).write_text("")
    with pytest.raises(LLMUnavailable, match="Delete that folder"):
        LocalLLM(broken).chat([Message("user", "hi")])


def test_a_folder_without_the_marker_is_not_treated_as_converted(tmp_path: Path) -> None:
    half = tmp_path / "gemma"
    half.mkdir()
    (half / "config.json").write_text("{}")  # what a crash mid-save could leave behind
    assert not is_converted(half)


@pytest.mark.slow
def test_two_processes_racing_convert_once(tmp_path: Path) -> None:
    target = tmp_path / "race" / "gemma"
    code = ("import sys, json; from pathlib import Path; from training.gemma import convert; "
            "print(json.dumps(convert(Path(sys.argv[1]))))")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(target)], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=900)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert sorted(o.strip() == '{"convert_s": 0.0}' for o in outputs) == [False, True]  # one converted, one waited
    assert is_converted(target)
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".gemma.tmp")]  # no leftovers


@pytest.mark.slow
def test_tuned_model_words_a_whole_turn_in_one_batch_and_stays_grounded(small_index) -> None:
    from agent import build_agent
    from agent.reasons import check_grounded

    local_llm = LocalLLM.from_settings(Settings.from_env(llm_backend="local", local_adapter=True))
    assert local_llm.tuned, "the shipped gemma-reasons adapter is missing from training/artifacts"
    answers = local_llm.complete_batch(["Shopper: hi\nJSON:", "Shopper: a Sonique headset\nJSON:"], 24)
    assert len(answers) == 2 and all("\n" not in a for a in answers)
    agent = build_agent(Settings(llm_backend="local"), index=small_index, llm=local_llm)
    session = agent.new_session()
    turn = agent.reply(session, "wireless headphones under $150, just show me")
    assert turn.picks and all(p.item.price <= 150 for p in turn.picks)
    assert all(check_grounded(p.reason, p.item, session.state, agent.vocab) for p in turn.picks)
    plain = build_agent(Settings(llm_backend="none"), index=small_index)  # template reasons for the same picks
    templates = {p.item.item_id: p.reason for p in plain.reply(plain.new_session(), "wireless headphones under "
                                                                 "$150, just show me").picks}
    worded = [p for p in turn.picks if p.item.item_id in templates and p.reason != templates[p.item.item_id]]
    assert worded, "the tuned model's wording should be kept for at least one pick"
    # Opt-in extraction: the model reads the message too, and never overrides what the parser read.
    reading = build_agent(Settings(llm_backend="local", local_extract=True), index=small_index, llm=local_llm)
    s2 = reading.new_session()
    assert reading.reply(s2, "wireless headphones under $150, just show me").picks
    parsed = {(p.attribute, p.value, p.wanted) for p in session.state.preferences}
    assert parsed <= {(p.attribute, p.value, p.wanted) for p in s2.state.preferences}
