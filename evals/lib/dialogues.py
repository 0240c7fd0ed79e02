"""Conversational datasets in one shape: dialogues of utterances with the movies each one mentions.

Loaders: the official ReDial JSONL (movies as `@<id>`), the INSPIRED TSV (one utterance per row, movie titles in
a `movies` column) and our own JSONL shape (`Dialogue.to_dict`). Any dataset written as either of the last two
loads without code changes: `load_dialogues(path)` picks the reader by file name.
"""

from __future__ import annotations

import csv
import gzip
import html
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Literal, Mapping

from training.lora_data import Seekers

Speaker = Literal["seeker", "recommender"]
REDIAL_TEST = "redial/official/test_data.jsonl.gz"
REDIAL_TRAIN = ("redial/train_partial/train_partial_raw.jsonl.gz", "redial/train_partial/ievalm_valid_data.jsonl.gz")
INSPIRED_DEV = "inspired/dev.tsv.gz"
_MENTION = re.compile(r"@(\d+)")


class DatasetMissing(FileNotFoundError):
    """A dataset file is not where the settings say."""


@dataclass(frozen=True)
class Utterance:
    """One message. `movies` are catalog ids when resolved, else the titles as written in the dataset."""

    speaker: Speaker
    text: str  # mentions replaced by their titles, as a reader would see them
    movies: tuple[str, ...] = ()


@dataclass(frozen=True)
class Dialogue:
    """A conversation between a seeker and a recommender."""

    dialogue_id: str
    source: str
    utterances: tuple[Utterance, ...]
    titles: Mapping[str, str] = field(default_factory=dict, hash=False)  # movie key -> title, when known
    recommender: str = ""  # who recommended (ReDial's worker id), when the source says

    def to_dict(self) -> dict:
        """The generic JSONL row (readable back by `load_dialogues`)."""
        return {"dialogue_id": self.dialogue_id, "source": self.source, "titles": dict(self.titles),
                "utterances": [{"speaker": u.speaker, "text": u.text, "movies": list(u.movies)}
                               for u in self.utterances]}


@dataclass(frozen=True)
class RecTurn:
    """A recommender utterance that mentions a movie: the context before it and the movies it recommends."""

    dialogue_id: str
    index: int  # position of the recommender utterance in the dialogue
    context: tuple[Utterance, ...]
    targets: tuple[str, ...]  # deduplicated: movies not mentioned earlier in the dialogue
    targets_nodedup: tuple[str, ...]  # every movie the utterance mentions (older papers' protocol)
    mentioned: tuple[str, ...]  # movies mentioned earlier, either side, in order of first mention


def rec_turns(dialogue: Dialogue, known: Iterable[str] | None = None) -> Iterator[RecTurn]:
    """Every recommender utterance with a movie; targets limited to `known` ids when given."""
    known_set = set(known) if known is not None else None
    seen: dict[str, None] = {}
    for i, utt in enumerate(dialogue.utterances):
        movies = [m for m in dict.fromkeys(utt.movies) if known_set is None or m in known_set]
        if utt.speaker == "recommender" and movies:
            yield RecTurn(dialogue.dialogue_id, i, dialogue.utterances[:i],
                          tuple(m for m in movies if m not in seen), tuple(movies), tuple(seen))
        for m in utt.movies:
            seen.setdefault(m, None)


# ---------------------------------------------------------------- ReDial


def redial_dialogue(raw: Mapping, source: str = "redial") -> Dialogue:
    """One dialogue in the official ReDial schema (also the iEvaLM re-segmented file)."""
    titles = {str(k): " ".join(str(v).split()) for k, v in (raw.get("movieMentions") or {}).items()}
    seeker = raw.get("initiatorWorkerId")
    utterances = []
    for msg in raw.get("messages", []):
        text = html.unescape(str(msg.get("text", "")))
        ids = tuple(dict.fromkeys(_MENTION.findall(text)))
        shown = _MENTION.sub(lambda m: titles.get(m.group(1), "a movie"), text)
        speaker: Speaker = "seeker" if msg.get("senderWorkerId") == seeker else "recommender"
        utterances.append(Utterance(speaker, " ".join(shown.split()), ids))
    return Dialogue(str(raw.get("conversationId", "")), source, tuple(utterances), titles,
                    str(raw.get("respondentWorkerId", "")))


def load_redial(path: Path, source: str = "redial") -> list[Dialogue]:
    """Dialogues of a ReDial JSONL(.gz) file."""
    path = _existing(path)
    with _open_text(path) as f:
        return [redial_dialogue(json.loads(line), source) for line in f if line.strip()]


def redial_test(data_dir: Path) -> list[Dialogue]:
    """The 1,342 official ReDial test dialogues."""
    return load_redial(Path(data_dir) / REDIAL_TEST, "redial-test")


def redial_train(data_dir: Path) -> list[Dialogue]:
    """The 3,458 ReDial train dialogues available (train_partial), deduplicated by id; never test dialogues."""
    seen: dict[str, Dialogue] = {}
    for rel in REDIAL_TRAIN:
        for d in load_redial(Path(data_dir) / rel, "redial-train"):
            seen.setdefault(d.dialogue_id, d)
    return list(seen.values())


# ---------------------------------------------------------------- INSPIRED and other utterance tables


def load_utterance_table(path: Path, source: str | None = None) -> list[Dialogue]:
    """A TSV with columns dialog_id, speaker (RECOMMENDER|SEEKER), text, movies (';'-separated titles)."""
    path = _existing(path)
    csv.field_size_limit(10_000_000)
    dialogues: dict[str, list[Utterance]] = {}
    with _open_text(path) as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        missing = {"dialog_id", "speaker", "text", "movies"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: missing columns {sorted(missing)}; an utterance table needs "
                             "dialog_id, speaker, text, movies (see evals/lib/dialogues.py)")
        for row in reader:
            text = (row.get("text") or "").replace("QUOTATION_MARK", '"')
            movies = tuple(t.strip() for t in (row.get("movies") or "").split(";") if t.strip())
            speaker: Speaker = "recommender" if (row.get("speaker") or "").upper().startswith("REC") else "seeker"
            dialogues.setdefault(row["dialog_id"], []).append(Utterance(speaker, " ".join(text.split()), movies))
    name = source or path.name.split(".")[0]
    return [Dialogue(k, name, tuple(v), {t: t for u in v for t in u.movies}) for k, v in dialogues.items()]


def inspired_dev(data_dir: Path) -> list[Dialogue]:
    """The 99 INSPIRED dev dialogues (movies as titles with year; resolve with `TitleMatcher`)."""
    return load_utterance_table(Path(data_dir) / INSPIRED_DEV, "inspired-dev")


def seeker_texts(data_dir: Path) -> Seekers:
    """Every seeker message of ReDial train (LoRA training examples) and INSPIRED dev (held out), for `convrec lora`."""
    def said(dialogues: list[Dialogue]) -> list[str]:
        return [u.text for d in dialogues for u in d.utterances if u.speaker == "seeker"]

    return Seekers(train=said(redial_train(Path(data_dir))), heldout=said(inspired_dev(Path(data_dir))))


def load_generic(path: Path) -> list[Dialogue]:
    """Dialogues written by `Dialogue.to_dict`, one JSON object per line."""
    path = _existing(path)
    out = []
    with _open_text(path) as f:
        for line in f:
            if not line.strip():
                continue
            row = json.loads(line)
            utts = tuple(Utterance("recommender" if u["speaker"] == "recommender" else "seeker", u["text"],
                                   tuple(u.get("movies", ()))) for u in row["utterances"])
            out.append(Dialogue(str(row["dialogue_id"]), row.get("source", path.stem), utts, row.get("titles", {})))
    return out


def load_dialogues(path: Path) -> list[Dialogue]:
    """Any supported file: *.tsv[.gz] utterance table, ReDial JSONL (has 'messages'), or our JSONL shape."""
    path = _existing(path)
    if ".tsv" in path.suffixes:
        return load_utterance_table(path)
    with _open_text(path) as f:
        first = next((line for line in f if line.strip()), "{}")
    return load_redial(path, path.stem) if "messages" in json.loads(first) else load_generic(path)


# ---------------------------------------------------------------- titles -> catalog ids


def normalise_title(title: str) -> tuple[str, str]:
    """("hustlers", "2019") from "Hustlers (2019)"; articles and punctuation dropped, year kept apart."""
    title = html.unescape(title).lower().strip()
    year = re.search(r"\((\d{4})\)\s*$", title)
    name = title[: year.start()] if year else title
    name = re.sub(r"^(the|a|an)\s+|,\s*(the|a|an)$", "", name.strip())
    name = re.sub(r"&", " and ", name)
    return " ".join(re.sub(r"[^a-z0-9]+", " ", name).split()), (year.group(1) if year else "")


class TitleMatcher:
    """Maps dataset titles to catalog ids by normalised title + year (title alone when unambiguous)."""

    def __init__(self, titles: Mapping[str, str]):  # catalog id -> title
        self.exact: dict[tuple[str, str], str] = {}
        by_name: dict[str, list[str]] = {}
        for item_id, title in titles.items():
            name, year = normalise_title(title)
            self.exact.setdefault((name, year), item_id)
            by_name.setdefault(name, []).append(item_id)
        self.unique = {name: ids[0] for name, ids in by_name.items() if len(ids) == 1}

    def match(self, title: str) -> str | None:
        """The catalog id for a title, or None."""
        name, year = normalise_title(title)
        # Exact title + year first; a title the catalog holds once also matches when years disagree by one
        # (release vs. festival year differ between IMDb and the datasets).
        hit = self.exact.get((name, year))
        if hit or not year:
            return hit or self.unique.get(name)
        for near in (str(int(year) - 1), str(int(year) + 1)):
            if (name, near) in self.exact and name in self.unique:
                return self.unique[name]
        return None

    def resolve(self, dialogues: Iterable[Dialogue], keep_unmapped: bool = False) -> tuple[list[Dialogue], dict]:
        """Dialogues with titles replaced by catalog ids and the mapping counts and rate (over distinct titles).
        An unmatched title is dropped, or with `keep_unmapped` kept as "title:<title>" (no catalog id equals it, so
        it stays a target that is always missed)."""
        out, mapped, unmapped = [], set(), set()
        for d in dialogues:
            utts = []
            for u in d.utterances:
                ids = []
                for t in u.movies:
                    hit = self.match(t)
                    (mapped if hit else unmapped).add(t)
                    if hit or keep_unmapped:
                        ids.append(hit or f"title:{t}")
                utts.append(Utterance(u.speaker, u.text, tuple(ids)))
            out.append(Dialogue(d.dialogue_id, d.source, tuple(utts), {self.match(t): t for t in d.titles
                                                                        if self.match(t)}))
        total = len(mapped | unmapped)
        return out, {"titles": total, "mapped": len(mapped), "unmapped": len(unmapped),
                     "mapped_rate": round(len(mapped) / total, 4) if total else 0.0}


def _existing(path: Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise DatasetMissing(f"No dataset file at {path}. Point --data (or CONVREC_DATA_DIR) at the shared data folder.")
    return path


def _open_text(path: Path) -> io.TextIOBase:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")
