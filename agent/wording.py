"""Language-model use in guided mode, always checked: extra preferences it reads and the reasons it words.

Whatever a model writes is kept only when it names catalog vocabulary (preferences) or passes the groundedness
check (reasons); otherwise the parser's reading and the template reason stand.
"""

from __future__ import annotations

import re

from agent.context import Context
from agent.llm import LLMUnavailable, Message
from agent.prompts import (
    LLM_EXTRACT_PROMPT,
    REASON_MAX_TOKENS,
    REWORD_PROMPT,
    extraction_prompt,
    reason_prompt,
)
from agent.reasons import adds_no_claims, check_grounded
from agent.state import DialogueState, Pick
from agent.understand import (
    Update,
    merge_preferences,
    named_only_as_purpose,
    parse_message,
    validate_llm_update,
)
from retrieval.vocabulary import Preference, Vocabulary
from training.lora_format import Labels, labels_of, parse_extraction

REWORD_MAX = 3  # picks whose reason a chat LLM may reword per turn: each is one generation on a CPU model


def parser_labels(text: str, vocab: Vocabulary) -> Labels:
    """The deterministic parser's reading of a message in the tuned model's label format (the baseline)."""
    return labels_of(parse_message(text, vocab))


def read_extraction(raw: str, vocab: Vocabulary) -> Labels:
    """The tuned model's JSON answer, every phrase read through the catalog by the parser."""
    return parse_extraction(raw, vocab, parse_message)


def model_preferences(ctx: Context, text: str, update: Update) -> list[Preference]:
    """The parser's preferences, completed by the model's reading of the message when that is switched on.

    A chat LLM adds only attributes the parser left unset; the tuned local model (opt-in,
    CONVREC_LOCAL_EXTRACT=1) adds categories, brands and values the parser missed, the parser winning conflicts.
    """
    llm = ctx.llm
    if llm is None:
        return update.preferences
    if not llm.supports_batch:
        return update.preferences + _chat_preferences(ctx, text, update)
    if llm.tuned and ctx.settings.local_extract:
        return _tuned_preferences(ctx, text, update)
    return update.preferences


def _tuned_preferences(ctx: Context, text: str, update: Update) -> list[Preference]:
    try:
        raw = ctx.llm.complete_batch([extraction_prompt(text)], 48)[0]  # type: ignore[union-attr]
    except LLMUnavailable:
        return update.preferences
    model = [p for p in read_extraction(raw, ctx.vocab).preferences
             if not (p.attribute == "category" and named_only_as_purpose(p.value, text))]
    return merge_preferences(update.preferences, model)


def _chat_preferences(ctx: Context, text: str, update: Update) -> list[Preference]:
    try:
        reply = ctx.llm.chat([Message("user", LLM_EXTRACT_PROMPT.format(text=text[:1000]))],  # type: ignore[union-attr]
                             max_tokens=80)
    except LLMUnavailable:
        return []
    have = {p.attribute for p in update.preferences}
    return [p for p in validate_llm_update(reply.content, ctx.vocab) if p.attribute not in have]


def reword(ctx: Context, picks: list[Pick], st: DialogueState) -> list[Pick]:
    """LLM wording for each reason, kept only when it passes the groundedness check; templates otherwise."""
    llm = ctx.llm
    if llm is None:
        return picks
    context = ctx.index.get_items([*st.liked, *st.history])
    if llm.tuned:
        return _reword_batch(ctx, picks, st, context)
    out = []
    for n, pick in enumerate(picks):
        if n >= REWORD_MAX:
            return out + picks[n:]
        try:
            reply = llm.chat([Message("user", REWORD_PROMPT.format(reason=pick.reason))], max_tokens=60)
        except LLMUnavailable:
            return out + picks[n:]  # a dead server: do not wait for it once per pick
        wording = " ".join(reply.content.strip().split("\n")[0].split())
        ok = (wording and adds_no_claims(wording, pick.reason, pick.item)
              and check_grounded(wording, pick.item, st, ctx.vocab, context))
        out.append(Pick(pick.item, pick.score, wording, pick.explore) if ok else pick)
    return out


def _reword_batch(ctx: Context, picks: list[Pick], st: DialogueState, context: list) -> list[Pick]:
    """The tuned local model writes every pick's reason in one batch, in the format it was trained on."""
    try:
        texts = ctx.llm.complete_batch([reason_prompt(st.preferences, p.item) for p in picks],  # type: ignore[union-attr]
                                       REASON_MAX_TOKENS, task="reason")
    except LLMUnavailable:
        return picks
    out = []
    for pick, text in zip(picks, texts):
        wording = " ".join(text.split())
        # Kept only when a whole sentence (not cut at the token limit), true, and naming at least as many of
        # the shopper's needs as the template does.
        ok = (wording.endswith((".", "!")) and check_grounded(wording, pick.item, st, ctx.vocab, context)
              and needs_named(wording, st) >= needs_named(pick.reason, st) and not garbled(wording))
        out.append(Pick(pick.item, pick.score, wording, pick.explore) if ok else pick)
    return out


_REPEAT = re.compile(r"\b(\w+(?: \w+){1,3})\b.*\b\1\b", re.I)
_BROKEN = re.compile(r"\bis a no\b|\bis (a )?yes\b|\bits \w+ is \d+\b|\bone of the [A-Z]", re.I)


def garbled(text: str) -> bool:
    """Model wording that repeats a phrase ("its grinder is a built in grinder, not built in grinder") or reads
    a field as English ("its sleeps is 2", "is a no"): true or not, a shopper should not read it."""
    return bool(_REPEAT.search(text) or _BROKEN.search(text))


def needs_named(text: str, st: DialogueState) -> int:
    """How many of the shopper's wanted values (brand, category, attribute values, budget) a text names."""
    low = text.lower()
    return sum(1 for p in st.preferences if p.wanted and p.value and p.value.lower() in low)
