"""Scripted multi-turn conversations with per-turn expectations, and a runner that plays them.

File format (YAML; reference in the README, section "Scripted conversations")::

    suite: demo                  # a name for reports
    collection: demo             # the catalog (Settings.collection) the suite is written for
    conversations:
      - id: budget-headphones
        history: []              # item ids a returning customer bought (agent.new_session(history))
        steps:
          - user: "wireless headphones under $100"
            expect: {must_recommend: true, picks_satisfy: {category: Headphones, max_price: 100}}
          - do: reject pick 1      # feedback on the previous assistant turn: like/reject/owned pick N|all|<id>
          - user: "something else from {pick2.brand}"   # {pickN.title|brand|id|category} of the last picks
            expect: {must_not_include: [rejected]}

The runner drives the agent only through its public API (build_agent / new_session / reply /
feedback / index). Besides the written expectations it checks every assistant turn for invented
items (unknown id, or title/price differing from the catalog), re-recommended rejected or owned
items, and ungrounded reasons.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml

from agent import build_agent
from agent.config import Settings
from agent.reasons import check_grounded
from evals.lib.facts import check_facts, validate_facts
from retrieval.items import Item
from retrieval.search import Filters

EXPECT_KEYS = {"must_ask", "must_recommend", "min_picks", "max_picks", "picks_satisfy", "must_not_include",
               "reason_mentions", "text_mentions", "text_excludes", "max_latency_ms", "raises",
               "facts"}  # facts: catalog-fact checks, evals/lib/facts.py
FILTER_KEYS = {"category", "brand", "exclude_brand", "max_price", "min_price", "attributes"}
_ACTION = re.compile(r"^(like|reject|owned)\s+(?:pick\s+(\d+)|(all)|(\S+))$", re.I)
_PLACEHOLDER = re.compile(r"\{pick(\d+)\.(title|brand|id|category)\}")


class SuiteError(ValueError):
    """A malformed suite file; the message names the conversation and step."""


@dataclass(frozen=True)
class Step:
    """One scripted step: a shopper message with expectations, or a feedback action."""

    user: str | None = None
    action: str | None = None  # "reject pick 1", "like all", "owned B000123"
    expect: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Conversation:
    """A scripted conversation."""

    id: str
    steps: tuple[Step, ...]
    history: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Suite:
    """A named set of conversations for one catalog."""

    name: str
    collection: str
    conversations: tuple[Conversation, ...]


@dataclass(frozen=True)
class Check:
    """The outcome of one expectation on one step."""

    conversation: str
    step: int  # 1-based index into the conversation's steps
    name: str
    passed: bool
    detail: str = ""


@dataclass
class ConversationResult:
    """Checks and measurements of one played conversation."""

    id: str
    checks: list[Check] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    picks: int = 0
    invented: int = 0
    rerecommended: int = 0  # picks that were rejected or owned earlier in the conversation
    constrained_picks: int = 0
    constrained_ok: int = 0
    grounded: int = 0

    @property
    def passed(self) -> bool:
        """True when every check passed."""
        return all(c.passed for c in self.checks)


# ---------------------------------------------------------------------------- loading

def load_suite(path: Path) -> Suite:
    """Read and validate a suite file; unknown keys are errors so a typo cannot pass silently."""
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(raw, dict) or not isinstance(raw.get("conversations"), list):
        raise SuiteError(f"{path}: expected a mapping with a 'conversations' list")
    conversations, seen = [], set()
    for n, conv in enumerate(raw["conversations"], 1):
        cid = str(conv.get("id") or f"conversation-{n}")
        if cid in seen:
            raise SuiteError(f"{path}: duplicate conversation id {cid!r}")
        seen.add(cid)
        steps = tuple(_step(s, f"{path}: {cid} step {i}") for i, s in enumerate(conv.get("steps") or [], 1))
        if not steps:
            raise SuiteError(f"{path}: {cid} has no steps")
        conversations.append(Conversation(cid, steps, tuple(map(str, conv.get("history") or ())),
                                          tuple(conv.get("tags") or ())))
    return Suite(str(raw.get("suite", Path(path).stem)), str(raw.get("collection", "demo")), tuple(conversations))


def _step(raw: Any, where: str) -> Step:
    if not isinstance(raw, dict) or ("user" in raw) == ("do" in raw):
        raise SuiteError(f"{where}: a step needs exactly one of 'user' or 'do'")
    expect = dict(raw.get("expect") or {})
    unknown = set(expect) - EXPECT_KEYS
    if unknown:
        raise SuiteError(f"{where}: unknown expectation(s) {sorted(unknown)}; known: {sorted(EXPECT_KEYS)}")
    problems = validate_facts(expect["facts"]) if "facts" in expect else []
    if problems:
        raise SuiteError(f"{where}: {'; '.join(problems)}")
    unknown = set(expect.get("picks_satisfy") or {}) - FILTER_KEYS
    if unknown:
        raise SuiteError(f"{where}: unknown picks_satisfy key(s) {sorted(unknown)}; known: {sorted(FILTER_KEYS)}")
    if "do" in raw:
        if not _ACTION.match(str(raw["do"]).strip()):
            raise SuiteError(f"{where}: cannot read action {raw['do']!r}; write e.g. 'reject pick 1', 'like all'")
        if expect:
            raise SuiteError(f"{where}: actions take no expectations; put them on the next user step")
        return Step(action=str(raw["do"]).strip())
    return Step(user=str(raw["user"]) * int(raw.get("repeat", 1)), expect=expect)  # repeat: oversize messages


# ---------------------------------------------------------------------------- groundedness

_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_WORD = re.compile(r"[a-z][a-z0-9-]{3,}")
_GENERIC = frozenset(  # wording any reason may use without naming a fact ("within your budget")
    "this that with from your have will good great pick picks item items product products match matches because "
    "also want wanted asked option options within budget price priced under over brand category similar like "
    "liked bought what which fits made".split())


def strict_grounding(index: Any) -> Callable[[Any, list[str]], tuple[bool, str]]:
    """Our own strict check: every number and brand in a reason comes from the item or the shopper."""
    brands = {b.lower() for b in index.brands()}

    def check(pick: Any, user_texts: list[str], context: Iterable[Item] = ()) -> tuple[bool, str]:
        item = _catalog_item(index, pick.item) or pick.item
        reason = (pick.reason or "").lower()
        if not reason.strip():
            return False, "empty reason"
        # Sources: the item, plus the shopper's liked/bought items a reason may compare it with.
        source = " ".join(f"{i.text()} {i.price:.2f}" if i.price is not None else i.text()
                          for i in [item, *context]).lower()
        said = " ".join(user_texts).lower()
        numbers = {float(n.replace(",", "")) for n in _NUMBER.findall(source + " " + said)}
        for number in _NUMBER.findall(reason):
            if float(number.replace(",", "")) not in numbers:  # "$257" matches a price of 257.00
                return False, f"number {number!r} is neither in the item nor said by the shopper"
        for brand in brands:
            named = re.compile(rf"\b{re.escape(brand)}\b")
            if named.search(reason) and not named.search(source) and not named.search(said):
                return False, f"names brand {brand!r} but the item is by {item.brand!r}"
        words = set(_WORD.findall(reason)) - _GENERIC
        if words and not words & set(_WORD.findall(source + " " + said)):
            return False, "shares no word with the item or the shopper's messages"
        return True, ""

    return check


def _context(index: Any, session: Any) -> list[Item]:
    return index.get_items([*session.state.liked, *session.state.history])


def grounding_check(agent: Any) -> Callable[[Any, list[str], Any], tuple[bool, str]]:
    """Both the agent's own checker (agent.reasons.check_grounded) and our strict one must pass."""
    strict = strict_grounding(agent.index)

    def check(pick: Any, said: list[str], session: Any) -> tuple[bool, str]:
        item = _catalog_item(agent.index, pick.item) or pick.item
        context = _context(agent.index, session)
        if not check_grounded(pick.reason, item, session.state, getattr(agent, "vocab", None), context):
            return False, f"agent.reasons.check_grounded rejects {pick.reason!r}"
        return strict(pick, said, context)

    return check


# ---------------------------------------------------------------------------- running

class _Played:
    """What the script did so far (the runner's own record, never the agent's state)."""

    def __init__(self, history: Iterable[str]):
        self.history = list(history)
        self.shown: list[str] = []
        self.rejected: list[str] = []
        self.owned: list[str] = []
        self.liked: list[str] = []
        self.last_picks: list[Any] = []
        self.user_texts: list[str] = []

    def named(self, name: str) -> set[str]:
        """Ids behind a must_not_include keyword, or the literal id."""
        groups = {"rejected": self.rejected, "owned": self.owned, "shown": self.shown, "liked": self.liked,
                  "history": self.history}
        return set(groups.get(name, [name]))


def run_conversation(agent: Any, conv: Conversation,
                     grounded: Callable[..., tuple[bool, str]] | None = None) -> ConversationResult:
    """Play one conversation against the agent and check every expectation and invariant."""
    grounded = grounded or grounding_check(agent)
    result = ConversationResult(conv.id)
    played = _Played(conv.history)
    session = agent.new_session(list(conv.history))
    for n, step in enumerate(conv.steps, 1):
        add = lambda name, ok, detail="": result.checks.append(Check(conv.id, n, name, bool(ok), detail))  # noqa: E731
        if step.action:
            _apply_action(agent, session, step.action, played, add)
            continue
        text = _fill(step.user or "", played.last_picks)
        started = time.perf_counter()
        try:
            turn = agent.reply(session, text)
        except Exception as exc:  # an expected refusal ("raises") passes; anything else is a failed step
            wanted = step.expect.get("raises")
            add("raises" if wanted else "reply", wanted == type(exc).__name__, f"{type(exc).__name__}: {exc}")
            continue
        elapsed = (time.perf_counter() - started) * 1000
        result.latencies_ms.append(elapsed)
        played.user_texts.append(text)
        if "raises" in step.expect:
            add("raises", False, f"expected {step.expect['raises']}, got a reply")
        _check_turn(agent, session, turn, step.expect, played, result, add, grounded, elapsed)
        played.shown.extend(p.item.item_id for p in turn.picks)
        if turn.picks:
            played.last_picks = list(turn.picks)
    return result


def _apply_action(agent: Any, session: Any, action: str, played: _Played, add: Callable) -> None:
    kind, number, every, item_id = _ACTION.match(action).groups()
    kind = kind.lower()
    if item_id:
        ids = [item_id]
    elif every:
        ids = [p.item.item_id for p in played.last_picks]
    else:
        index = int(number) - 1
        if not 0 <= index < len(played.last_picks):
            add("action", False, f"{action!r}: the last turn showed {len(played.last_picks)} picks")
            return
        ids = [played.last_picks[index].item.item_id]
    for item_id in ids:
        try:
            agent.feedback(session, item_id, kind)
        except Exception as exc:
            add("action", False, f"{action!r} on {item_id}: {type(exc).__name__}: {exc}")
            continue
        {"like": played.liked, "reject": played.rejected, "owned": played.owned}[kind].append(item_id)


def _check_turn(agent: Any, session: Any, turn: Any, expect: dict, played: _Played, result: ConversationResult,
                add: Callable, grounded: Callable, elapsed_ms: float) -> None:
    picks = list(turn.picks)
    for key, value in (expect.get("facts") or {}).items():  # truth from the catalog, before last_picks moves on
        failures = check_facts({key: value}, turn, played.last_picks, agent.index)
        add(f"facts.{key}", not failures, "; ".join(failures))
    result.picks += len(picks)
    # Invariants on every turn.
    invented = [p.item.item_id for p in picks if not _matches_catalog(agent.index, p.item)]
    result.invented += len(invented)
    add("no_invented_items", not invented, f"not in the catalog as shown: {invented}" if invented else "")
    banned = set(played.rejected) | set(played.owned)
    again = [p.item.item_id for p in picks if p.item.item_id in banned]
    result.rerecommended += len(again)
    add("no_rejected_or_owned", not again, f"re-recommended: {again}" if again else "")
    ungrounded = []
    for p in picks:
        ok, why = grounded(p, played.user_texts, session)
        result.grounded += ok
        if not ok:
            ungrounded.append(f"{p.item.item_id}: {why}")
    add("reasons_grounded", not ungrounded, "; ".join(ungrounded))
    # Written expectations.
    if "must_ask" in expect:
        asked = bool(turn.question)
        add("must_ask", asked == bool(expect["must_ask"]), f"question={turn.question!r}")
    if "must_recommend" in expect:
        add("must_recommend", bool(picks) == bool(expect["must_recommend"]), f"{len(picks)} picks")
    if "min_picks" in expect:
        add("min_picks", len(picks) >= int(expect["min_picks"]), f"{len(picks)} picks")
    if "max_picks" in expect:
        add("max_picks", len(picks) <= int(expect["max_picks"]), f"{len(picks)} picks")
    if "picks_satisfy" in expect:
        filters = _filters(expect["picks_satisfy"], played.last_picks)
        bad = []
        for p in picks:
            item = _catalog_item(agent.index, p.item) or p.item
            result.constrained_picks += 1
            if filters.accepts(item):
                result.constrained_ok += 1
            else:
                bad.append(f"{item.item_id} ({item.brand}, {item.category}, {item.price})")
        add("picks_satisfy", not bad, f"violating: {bad}" if bad else "")
    if "must_not_include" in expect:
        names = expect["must_not_include"]
        banned = set().union(*(played.named(str(x)) for x in ([names] if isinstance(names, str) else names)))
        hits = [p.item.item_id for p in picks if p.item.item_id in banned]
        add("must_not_include", not hits, f"included: {hits}" if hits else "")
    if "reason_mentions" in expect:
        terms = _terms(expect["reason_mentions"], played.last_picks)
        missing = [p.item.item_id for p in picks if not any(t in p.reason.lower() for t in terms)]
        add("reason_mentions", not missing, f"reasons without {terms}: {missing}" if missing else "")
    shown_text = " ".join([turn.text, *(p.reason for p in picks)]).lower()
    if "text_mentions" in expect:
        terms = _terms(expect["text_mentions"], played.last_picks)
        add("text_mentions", any(t in shown_text for t in terms), f"none of {terms} in {turn.text[:120]!r}")
    if "text_excludes" in expect:
        hits = [t for t in _terms(expect["text_excludes"], played.last_picks) if t in shown_text]
        add("text_excludes", not hits, f"found {hits}" if hits else "")
    if "max_latency_ms" in expect:
        add("max_latency_ms", elapsed_ms <= float(expect["max_latency_ms"]), f"{elapsed_ms:.0f} ms")


def _catalog_item(index: Any, item: Item) -> Item | None:
    found = index.get_items([item.item_id])
    return found[0] if found else None


def _matches_catalog(index: Any, item: Item) -> bool:
    """The pick is a real catalog item shown with the catalog's own title and price."""
    real = _catalog_item(index, item)
    return real is not None and real.title == item.title and real.price == item.price


def _fill(text: str, picks: list[Any]) -> str:
    """Replace {pickN.field} with the field of the Nth pick of the last turn that had picks."""
    def sub(m: re.Match) -> str:
        index = int(m.group(1)) - 1
        if not 0 <= index < len(picks):
            return ""
        item = picks[index].item
        return str({"id": item.item_id, "title": item.title, "brand": item.brand or "",
                    "category": item.top_category}[m.group(2)])
    return _PLACEHOLDER.sub(sub, text)


def _terms(value: Any, picks: list[Any]) -> list[str]:
    values = [value] if isinstance(value, str) else list(value)
    return [t for t in (_fill(str(v), picks).lower() for v in values) if t]


def _filters(spec: dict, picks: list[Any]) -> Filters:
    def many(key: str) -> tuple[str, ...]:
        value = spec.get(key)
        values = [] if value is None else [value] if isinstance(value, str) else list(value)
        return tuple(v for v in (_fill(str(x), picks) for x in values) if v)
    return Filters(categories=many("category"), brands=many("brand"), exclude_brands=many("exclude_brand"),
                   max_price=spec.get("max_price"), min_price=spec.get("min_price"),
                   attributes={str(k): str(v) for k, v in (spec.get("attributes") or {}).items()})


def run_suite(agent: Any, suite: Suite, progress: bool = False) -> list[ConversationResult]:
    """Play every conversation of the suite."""
    results = []
    for conv in suite.conversations:
        results.append(run_conversation(agent, conv))
        if progress:
            status = "PASS" if results[-1].passed else "FAIL"
            print(f"{status} {conv.id}", file=sys.stderr, flush=True)
    return results


def summarize(results: list[ConversationResult]) -> dict[str, Any]:
    """Suite metrics: invariant counts, constraint and grounding rates, latency, failing checks."""
    checks = [c for r in results for c in r.checks]
    latencies = sorted(ms for r in results for ms in r.latencies_ms)
    picks = sum(r.picks for r in results)
    constrained = sum(r.constrained_picks for r in results)
    return {
        "conversations": len(results),
        "conversations_passed": sum(r.passed for r in results),
        "turns": len(latencies),
        "checks": len(checks),
        "checks_failed": sum(not c.passed for c in checks),
        "picks": picks,
        "invented_items": sum(r.invented for r in results),
        "rejected_rerecommended": sum(r.rerecommended for r in results),
        "constraint_ok_rate": round(sum(r.constrained_ok for r in results) / constrained, 4) if constrained else None,
        "constrained_picks": constrained,
        "grounded_rate": round(sum(r.grounded for r in results) / picks, 4) if picks else None,
        "p50_ms_turn": _percentile(latencies, 50),
        "p95_ms_turn": _percentile(latencies, 95),
        "failed_by_check": dict(Counter(c.name for c in checks if not c.passed).most_common()),
        "failures": [f"{c.conversation} step {c.step} {c.name}: {c.detail}" for c in checks if not c.passed],
    }


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))], 1)


def main(argv: list[str] | None = None) -> int:
    """`python -m evals.lib.scripted SUITE.yaml`: play a suite, print failures, last line one JSON summary."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("suite", type=Path)
    parser.add_argument("--data", type=Path, help="the shared datasets folder (default: settings)")
    parser.add_argument("--chroma-dir", type=Path, help="Chroma folder to reuse (default: settings)")
    parser.add_argument("--llm", choices=["none", "local", "openai"], help="LLM backend (default: settings)")
    args = parser.parse_args(argv)
    suite = load_suite(args.suite)
    settings = Settings.from_env(collection=suite.collection, data_dir=args.data, chroma_dir=args.chroma_dir,
                                 llm_backend=args.llm)
    summary = summarize(run_suite(build_agent(settings), suite, progress=True))
    for line in summary["failures"]:
        print("FAIL", line)
    print(json.dumps({"suite": suite.name, **summary}))
    return 0 if summary["checks_failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
