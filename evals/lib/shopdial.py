"""MG-ShopDial: the 33 dev dialogues as typed objects, the hand-labelled QA messages, and their answer scorer.

The dialogues (../shared/data/mg-shopdial, SOURCE.md there) are real shopper ("Client") and assistant ("Wizard")
chats over four small product lists, which `retrieval.catalogs.shopdial_items` turns into our catalog. The labels
(`evals/conversations/shopdial_qa.jsonl`) cover every Client message annotated with the goal `qa`: which catalog
item it asks about, what kind of question it is, and what a correct reply must contain. They were written by
hand from the dialogues and the catalog records; the test suite checks them against both.

Label kinds:
- price / rating / attribute / description: answerable from the item's record; `expected` strings occur in it.
- comparison: the answer names catalog item(s) ("which is more popular", "do you have a Samsung"); `expected`
  holds short title words of the right item(s); `item_id` is the winner when there is one.
- cannot_answer: shipping, discounts, stock, sizes, items we do not carry, or anything else the records do not
  hold (also when the wizard answered from elsewhere); `allowed` lists catalog facts a reply may restate.
- not_a_question: thanks, "ok", answers to the wizard's own questions; nothing to score.
"""

from __future__ import annotations

import gzip
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

SHOPDIAL_DIALOGUES = "mg-shopdial/MGShopDial_dev.json.gz"  # relative to the shared data dir
QA_LABELS = Path(__file__).resolve().parent.parent / "conversations" / "shopdial_qa.jsonl"

Participant = Literal["Wizard", "Client"]
Kind = Literal["price", "rating", "attribute", "description", "comparison", "cannot_answer", "not_a_question"]
KINDS: tuple[str, ...] = ("price", "rating", "attribute", "description", "comparison", "cannot_answer",
                          "not_a_question")
RECORD_KINDS = ("price", "rating", "attribute", "description")  # answered by one item's record


@dataclass(frozen=True)
class Utterance:
    """One message of a dialogue, with its crowd annotations."""

    utterance_id: int  # as in the data; not unique in every dialogue (one repeats 8), so order is by position
    participant: Participant
    text: str
    goal: str  # recommendation | qa | search | meta
    intents: tuple[tuple[str, float], ...] = ()  # (intent, how many of 5 annotators agreed)


@dataclass(frozen=True)
class ShopDialogue:
    """One shopper-assistant conversation."""

    id: str  # "Category:scenario:..." e.g. "Books:46:109:132"
    category: str  # the id's first field: Books | Cellphones&Accessories | Officeproducts | SportsandOutdoors
    scenario: str  # the task given to the client (metadata.desc)
    utterances: tuple[Utterance, ...]


@dataclass(frozen=True)
class QALabel:
    """The hand label of one Client `qa` message."""

    dialogue_id: str
    utterance_id: int
    text: str  # the client's message, verbatim
    item_id: str | None  # our shopdial item the question is about; None when it is about no catalog item
    kind: Kind
    expected: tuple[str, ...]  # a correct reply contains at least one of these (normalised, see score_answer)
    wizard_reply: str  # the wizard's next turn, for reference only (it is not always right)
    allowed: tuple[str, ...] = ()  # cannot_answer: amounts from the catalog a reply may quote (the item's price)
    note: str = ""  # why the label is what it is, where that is not obvious


class LabelError(ValueError):
    """A malformed line in the labels file; the message names the line."""


# ---------------------------------------------------------------- dialogues


def load_shop_dialogues(data_dir: Path) -> list[ShopDialogue]:
    """The 33 dev dialogues from the shared data dir, in file order."""
    path = Path(data_dir) / SHOPDIAL_DIALOGUES
    if not path.exists():
        raise FileNotFoundError(f"No MG-ShopDial dialogues at {path}. Point --data (or CONVREC_DATA_DIR) at the "
                                "shared data folder.")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        raw = json.load(f)
    return [_dialogue(d) for d in raw]


def _dialogue(raw: dict) -> ShopDialogue:
    utterances = tuple(
        Utterance(utterance_id=int(u["utterance_id"]), participant=u["participant"],
                  text=" ".join(str(u.get("utterance") or "").split()), goal=str(u.get("goal") or ""),
                  intents=tuple((str(i), float(n)) for i, n in u.get("intents") or []))
        for u in raw["utterances"])
    meta = raw.get("metadata") or {}
    return ShopDialogue(id=raw["id"], category=raw["id"].split(":")[0], scenario=str(meta.get("desc") or ""),
                        utterances=utterances)


def client_messages(dialogue: ShopDialogue) -> list[Utterance]:
    """The Client's messages in order (what a replay feeds the agent)."""
    return [u for u in dialogue.utterances if u.participant == "Client"]


def qa_messages(dialogue: ShopDialogue) -> list[Utterance]:
    """The Client's messages annotated with the goal `qa`, in order."""
    return [u for u in client_messages(dialogue) if u.goal == "qa"]


def wizard_reply(dialogue: ShopDialogue, utterance: Utterance) -> str:
    """The wizard's next turn after `utterance`: the first run of consecutive Wizard messages, joined by spaces."""
    at = next((i for i, u in enumerate(dialogue.utterances) if u is utterance), None)
    if at is None:
        at = dialogue.utterances.index(utterance)
    run: list[str] = []
    for u in dialogue.utterances[at + 1:]:
        if u.participant == "Wizard":
            run.append(u.text)
        elif run:
            break
    return " ".join(run)


# ---------------------------------------------------------------- labels


def load_qa_labels(path: Path = QA_LABELS) -> list[QALabel]:
    """The hand labels, one per Client `qa` message; raise LabelError on a malformed line."""
    labels = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            label = QALabel(dialogue_id=row["dialogue_id"], utterance_id=int(row["utterance_id"]),
                            text=row["text"], item_id=row.get("item_id"), kind=row["kind"],
                            expected=tuple(row.get("expected") or ()), wizard_reply=row.get("wizard_reply", ""),
                            allowed=tuple(row.get("allowed") or ()), note=row.get("note", ""))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise LabelError(f"{path}:{n}: {e}") from None
        if label.kind not in KINDS:
            raise LabelError(f"{path}:{n}: kind {label.kind!r} is not one of {', '.join(KINDS)}")
        if label.kind not in ("cannot_answer", "not_a_question") and not label.expected:
            raise LabelError(f"{path}:{n}: a {label.kind} label needs at least one expected string")
        labels.append(label)
    return labels


# ---------------------------------------------------------------- scoring

_NUMBER = re.compile(r"(?<![\d.])\d[\d,]*(?:\.\d+)?")
_MONEY = re.compile(r"\$\s*(\d[\d,]*(?:\.\d+)?)|(\d[\d,]*(?:\.\d+)?)\s*(?:dollars?|usd|bucks|euros?|eur|nok)\b",
                    re.IGNORECASE)
_PERCENT = re.compile(r"\d+(?:\.\d+)?\s*(?:%|percent\b)", re.IGNORECASE)
_DURATION = re.compile(r"\b\d+\s*(?:-\s*\d+\s*)?(?:working |business )?(?:days?|hours?|weeks?|months?)\b|"
                       r"\b(?:next|same)[- ]day\b", re.IGNORECASE)
_CANNOT = re.compile(
    r"\b(?:can ?not|can't|cant|unable|not able|(?:do not|don't|doesn't|does not) (?:have|know|carry|sell|see|say|"
    r"list|show|mention|include|hold|cover)|no (?:information|info|details|data|mention|record)|not sure|"
    r"(?:isn't|is not|aren't|are not) (?:listed|shown|something|in (?:our|the|my))|not (?:listed|in (?:our|the|my) "
    r"(?:catalog|catalogue|store|records?))|out of (?:my|scope)|colleague|customer (?:service|support)|"
    r"support team|hand (?:you )?over)\b",
    re.IGNORECASE)


def score_answer(label: QALabel, reply_text: str, handoff: bool) -> bool:
    """Whether `reply_text` answers the labelled question correctly.

    cannot_answer: the reply says plainly it cannot help with that (or `handoff` marks a hand-off to a person)
    and invents nothing: no yes-answer, no percentages, delivery times or amounts beyond `label.allowed`.
    not_a_question: always True (nothing to answer; report these apart from the QA score).
    Every other kind: the reply contains one of `label.expected`, compared without case, extra whitespace or
    "$"; numbers compare by value ("$30" matches "30.00"), words only as whole words (a plural counts: "thriller"
    is stated by "Suspense Thrillers").
    """
    if label.kind == "not_a_question":
        return True
    if label.kind == "cannot_answer":
        return (handoff or bool(_CANNOT.search(_plain(reply_text)))) and not _invents(reply_text, label.allowed)
    return any(_contains(reply_text, e) for e in label.expected)


def _plain(text: str) -> str:
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    return " ".join(text.replace("\u2033", "''").split())


def _norm(text: str) -> str:
    return " ".join(_plain(text).lower().replace("$", " ").split())


def _value(text: str) -> float | None:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def _contains(reply: str, expected: str) -> bool:
    want, have = _norm(expected), _norm(reply)
    if not want:
        return False
    number = _value(want) if _NUMBER.fullmatch(want) else None
    if number is not None:
        return any(abs((_value(m) or -1.0) - number) < 0.005 for m in _NUMBER.findall(have))
    head = r"(?<![a-z0-9])" if want[0].isalnum() else ""
    tail = r"(?:e?s)?(?![a-z0-9])" if want[-1].isalpha() else r"(?![a-z0-9])" if want[-1].isalnum() else ""
    return re.search(head + re.escape(want) + tail, have) is not None


def _invents(reply: str, allowed: tuple[str, ...]) -> bool:
    text = _plain(reply)
    if re.match(r"\W*yes\b", text, re.IGNORECASE) or _PERCENT.search(text) or _DURATION.search(text):
        return True
    ok = {v for v in (_value(_norm(a)) for a in allowed) if v is not None}
    for m in _MONEY.finditer(text):
        amount = _value(m.group(1) or m.group(2))
        if amount is not None and not any(abs(amount - v) < 0.005 for v in ok):
            return True
    return False


# ---------------------------------------------------------------------- replaying the dev dialogues

ANSWERING_ACTS = frozenset({"answer", "compare", "ask", "social", "handoff", "unreadable", "refuse"})


def shown_text(turn: Any) -> str:
    """What the shopper sees of a turn: the reply and each pick's title and price (a pick can be the answer)."""
    cards = [f"{p.item.title} ${p.item.price}" if p.item.price is not None else p.item.title for p in turn.picks]
    return " ".join([turn.text, *cards])


def is_dead_end(turn: Any) -> bool:
    """A reply that shows no picks, answers nothing and asks nothing: the shopper has nowhere to go."""
    return not turn.picks and not turn.question and turn.act not in ANSWERING_ACTS


def replay(agent: Any, dialogues: list[ShopDialogue], labels: list[QALabel], wizard: bool = True) -> dict[str, Any]:
    """Send every client message of every dialogue, in order, one session per dialogue; score the labelled qa
    messages against their expected facts and count dead ends and latency.

    wizard True: convrec as a human colleague's assistant (agent assist): each client message gets convrec's
    suggested reply (`agent.suggest`, scored), and the wizard's messages, which the client actually saw, are noted
    in the session (`agent.note_assistant`): the client's "how much is it?" is about what the wizard showed, and
    the labels say what that is.
    wizard False: the client's messages alone; then a question about a book the wizard named is asked of whatever
    convrec showed, and the score mixes the agent's answers with the replay's blind spots.
    """
    by_key = {(lab.dialogue_id, lab.utterance_id, lab.text): lab for lab in labels}
    scored: list[tuple[QALabel, bool, str]] = []
    dead, turns, times = 0, 0, []
    for dialogue in dialogues:
        session = agent.new_session()
        said: list[str] = []
        for utterance in dialogue.utterances:
            if utterance.participant == "Wizard":
                said.append(utterance.text)
                continue
            if wizard and said:
                agent.note_assistant(session, " ".join(said))
            said = []
            started = time.perf_counter()
            try:
                turn = (agent.suggest if wizard else agent.reply)(session, utterance.text)
            except ValueError:  # AgentInputError: an empty message, told to the shopper, not a turn
                continue
            times.append((time.perf_counter() - started) * 1000)
            turns += 1
            dead += is_dead_end(turn)
            label = by_key.get((dialogue.id, utterance.utterance_id, utterance.text))
            if label is not None and label.kind != "not_a_question":
                scored.append((label, score_answer(label, shown_text(turn), turn.handoff), shown_text(turn)))
    kinds = sorted({lab.kind for lab, _, _ in scored})
    return {
        "dialogues": len(dialogues), "turns": turns,
        "qa_turns": len(scored),
        "qa_answered_correct_rate": round(sum(ok for _, ok, _ in scored) / max(len(scored), 1), 4),
        "qa_by_kind": {k: {"n": sum(lab.kind == k for lab, _, _ in scored),
                           "correct": sum(ok for lab, ok, _ in scored if lab.kind == k)} for k in kinds},
        "deadend_rate": round(dead / max(turns, 1), 4),
        "p95_ms": round(float(np.percentile(times, 95)), 1) if times else None,
        "failures": [{"dialogue": lab.dialogue_id, "text": lab.text, "kind": lab.kind, "expected": list(lab.expected),
                      "reply": shown[:300]} for lab, ok, shown in scored if not ok],
    }
