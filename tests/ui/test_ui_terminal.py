"""The terminal chat via its runner: stdin lines in, exit code and exact output lines checked (real agent, no LLM)."""

from __future__ import annotations

import io

from agent import Settings, build_agent
from retrieval.search import CatalogIndex
from ui.terminal import HELP, run_terminal_chat


def _chat(index: CatalogIndex, lines: list[str]) -> tuple[int, list[str]]:
    settings = Settings(llm_backend="none", collection="catalog")
    out = io.StringIO()
    code = run_terminal_chat(settings, agent=build_agent(settings, index=index),
                             stdin=io.StringIO("".join(line + "\n" for line in lines)), stdout=out)
    return code, out.getvalue().splitlines()


def test_conversation_with_feedback(small_index: CatalogIndex) -> None:
    code, out = _chat(small_index, ["a cordless drill under $100", "/reject 1", "show me another drill", "/quit"])
    assert code == 0
    assert out[0] == f"convrec: catalog catalog (24 items), mode guided, llm none. {HELP}"
    first = [line for line in out if line.startswith("  1. ")][0]
    assert "$" in first and "id=" in first
    rejected_id = first.split("id=")[1].split()[0]
    noted = [line for line in out if line.startswith("(noted: reject ")]
    assert len(noted) == 1 and noted[0].endswith("; send a message for new picks)")
    after = out[out.index(noted[0]):]
    assert after[1].startswith("convrec> ")
    assert not any(f"id={rejected_id}" in line for line in after)  # the rejected pick never returns
    assert all(line.startswith("     why: ") for line in out if line.startswith("     "))


def test_bad_commands_fail_with_exit_code_1(small_index: CatalogIndex) -> None:
    code, out = _chat(small_index, ["/like 1", "/frobnicate", "", "x" * 5000])
    assert code == 1
    assert out[1] == "error: no picks yet; describe what you want first"
    assert out[2] == f"error: unknown command /frobnicate; {HELP}"
    assert out[3].startswith("error: ") and "4000" in out[3]  # the agent's oversize message, with the limit


def test_help_session_and_new(small_index: CatalogIndex) -> None:
    code, out = _chat(small_index, ["/help", "/session", "/new"])
    assert code == 0
    assert out[1] == HELP
    assert len(out[2]) == 32 and out[3] == "(new conversation)"


def test_cli_entry_point_routes_to_the_terminal_chat(tmp_path, monkeypatch, small_index: CatalogIndex) -> None:
    """`convrec chat --cli` reaches run_terminal_chat; the catalog is the fixture's real Chroma folder."""
    import sys

    from ui.cli import main

    chroma_dir = small_index.store.location.path
    monkeypatch.setattr(sys, "stdin", io.StringIO("a coffee grinder\n/quit\n"))
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    code = main(["chat", "--cli", "--llm", "none", "--collection", "catalog", "--chroma-dir", str(chroma_dir)])
    assert code == 0
    assert out.getvalue().startswith("convrec: catalog catalog (24 items), mode guided, llm none.")
    assert "convrec> " in out.getvalue()
