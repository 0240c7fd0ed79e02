"""Dialogue acts of shopper messages: a softmax classifier over MiniLM sentence vectors plus a few word cues.

    clf = ActClassifier.load()                        # the shipped training/artifacts/dialogue-acts/
    clf.classify("something cheaper?", embedder)      # -> ("critique", 0.93), ~10 ms on one CPU thread
    clf.predict(vectors, texts)                       # -> [{"request": 0.01, ..., "critique": 0.93, ...}, ...]

`python -m training.acts` retrains from training/acts_data.jsonl, reports held-out scores against a keyword-rule
baseline (one JSON line last) and writes the artifact.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import statistics
import sys
import time
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from retrieval.embed import DIM, Embedder, shared_embedder
from training.artifacts import artifact

ACTS = ("request", "ask_item", "compare", "critique", "superlative", "feedback", "different", "social",
        "cannot_answer", "out_of_scope")
DATA_FILE = Path(__file__).resolve().parent / "acts_data.jsonl"
FORMAT = "convrec-dialogue-acts"
FORMAT_VERSION = 1  # bump when the tensor names or config keys change; ActClassifier.load checks it


class ActModelMissing(RuntimeError):
    """The dialogue-act artifact is absent or was saved by an incompatible version."""


@dataclass(frozen=True)
class ActExample:
    """One labelled shopper message."""

    text: str
    act: str     # one of ACTS
    source: str  # "shopdial-dev" (after MG-ShopDial dev client turns) | "written"


def read_examples(path: Path = DATA_FILE) -> list[ActExample]:
    """The labelled messages in a JSONL file; ValueError names the line of an unknown act."""
    examples = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            row = json.loads(line)
            if row["act"] not in ACTS:
                raise ValueError(f"{path}:{n}: unknown act {row['act']!r}; expected one of {', '.join(ACTS)}")
            examples.append(ActExample(row["text"], row["act"], row["source"]))
    return examples


def file_sha1(path: Path = DATA_FILE) -> str:
    """sha1 of a file's bytes (recorded with the model, so a stale artifact is detectable)."""
    return hashlib.sha1(path.read_bytes()).hexdigest()


# ---- word cues: MiniLM puts "the cheapest tent", "a cheaper tent" and "a cheap tent" close together ----

_COMPARATIVES = ("cheaper|bigger|smaller|lighter|heavier|quieter|louder|faster|slower|warmer|longer|shorter|better"
                 "|worse|newer|older|sturdier|stronger|thinner|thicker|simpler|higher|lower|nicer|pricier")
# One 0/1 feature each, appended to the sentence vector; the order is part of the saved model.
CUES: dict[str, str] = {
    "superlative": r"\b(most|least|best|top|\w+iest|cheapest|lightest|biggest|smallest|largest|lowest|highest"
                   r"|fastest|newest|warmest|quietest|strongest|longest|thinnest|greatest)\b",
    "comparative": rf"\b(than|more|less|{_COMPARATIVES})\b",
    "question": r"\?",
    "question_start": r"^\W*(what|which|how|who|where|when|is|are|does|do|can|will|could|would)\b",
    "which": r"\bwhich\b",
    "shown": r"\b(first|second|third|fourth|last|1st|2nd|3rd|4th|#\d|that one|this one|these|those|them|it|both"
             r"|either|one)\b",
    "pair": r"\b(both|two|2|between|vs|versus|difference|diff|compare|compared|differ|or the)\b",
    "negation": r"\b(none|not|no|nothing|don'?t|nope|nah|never)\b",
    "other": r"\b(other|others|else|different|alternatives?)\b",
    "social": r"^\W*(hi|hello|hey|thanks?|thank you|thx|bye|ok|okay|cool|great|perfect|cheers|nice|good)\b",
    "service": r"\b(ship\w*|deliver\w*|discounts?|coupons?|refund|return\w*|invoice|orders?|stock|available"
               r"|availability|pay\w*|sales?|track\w*|warranty|vat|installments?)\b",
    "catalog": r"\byou (have|sell|got|carry)\b",
    "feedback": r"\b(like|love|hate|already|own|take|go with|go for|buy|looks?|ugly|cute|fan)\b",
    "money": r"(\$|\b\d+\b|bucks|dollars?|euros?|nok|budget|under)",
    "short": r"^\W*(\S+\s+){0,2}\S+\W*$",  # three words or fewer
}
_CUE_RX = {name: re.compile(p, re.IGNORECASE) for name, p in CUES.items()}


def cue_features(texts: Sequence[str], names: Sequence[str] = tuple(CUES)) -> np.ndarray:
    """0/1 cue flags per text; shape (len(texts), len(names)), float32."""
    out = np.zeros((len(texts), len(names)), dtype=np.float32)
    for i, text in enumerate(texts):
        for j, name in enumerate(names):
            out[i, j] = _CUE_RX[name].search(text) is not None
    return out


# The keyword baseline (for comparison only): the first matching rule wins; no match is a request.
_RULES = tuple((act, re.compile(p, re.IGNORECASE)) for act, p in (
    ("out_of_scope", (r"\b(weather|rain|joke|homework|essay|poem|election|president|vote|politic\w*|capital of"
                      r"|translate|recipe|calories|meaning of life|news)\b")),
    ("cannot_answer", (r"\b(ship\w*|deliver\w*|discounts?|coupons?|refund|return\w*|invoice|orders?|in stock"
                       r"|available|track\w*|pay\w*|store hours|open on|vat)\b")),
    ("social", (r"^\W*(hi|hello|hey|thanks?|thank you|thx|bye|ok|okay|cool|great|perfect|cheers"
                r"|good (morning|night|day|afternoon))\W*$|that'?s (all|it)")),
    ("different", (r"\b(none of|something else|anything else|other (options|ones|brands|models|suggestions)"
                   r"|different|alternatives?)\b")),
    ("compare", r"\b(which (one|of)|difference|diff|compare|compared|vs|versus|better than|between)\b"),
    ("superlative", (r"\b(cheapest|most|least|best|top|\w+iest|lightest|biggest|smallest|largest|lowest|highest"
                     r"|fastest|newest)\b")),
    ("critique", rf"\b(too|{_COMPARATIVES})\b"),
    ("feedback", (r"\b(i (like|love|hate)|already (have|own|bought|read)|i'?ll take|go with|not that one"
                  r"|looks? (great|good|nice))\b")),
    ("ask_item", r"^\W*(how much|what|is it|does it|is the|does the|are the|how (long|heavy|big|many))\b|\?$"),
))


def keyword_act(text: str) -> str:
    """The keyword-rule baseline's act for one message."""
    return next((act for act, rx in _RULES if rx.search(text)), "request")


# ---- the classifier ----

@dataclass(frozen=True)
class FitConfig:
    """How the softmax regression is fitted; saved into config.json."""

    l2: float = 0.01         # L2 penalty on the standardised weights (5-fold CV: flat from 1e-3 to 1e-1)
    iterations: int = 300    # full-batch Nesterov steps; the loss is flat well before
    cues: bool = True        # append the word-cue flags to the MiniLM vector


def fit_softmax(x: np.ndarray, y: np.ndarray, n_classes: int, l2: float,
                iterations: int) -> tuple[np.ndarray, np.ndarray]:
    """L2-regularised multinomial logistic regression by accelerated gradient descent (deterministic).

    x: (n, d) inputs, y: (n,) class ids. Returns weight (n_classes, d) and bias (n_classes,) acting on raw x;
    inside, inputs are standardised per column so one step size suits every column.
    """
    x = x.astype(np.float64)
    mean, scale = x.mean(0), x.std(0) + 1e-6
    z = (x - mean) / scale                                         # (n, d)
    n, d = z.shape
    onehot = np.eye(n_classes)[y]                                  # (n, K)
    step = 1.0 / (0.5 * np.linalg.eigvalsh(z.T @ z / n)[-1] + l2)  # 1 / Lipschitz bound of the gradient
    w, b = np.zeros((n_classes, d)), np.zeros(n_classes)
    w_prev, b_prev = w, b
    for t in range(1, iterations + 1):
        momentum = (t - 1) / (t + 2)
        w_look, b_look = w + momentum * (w - w_prev), b + momentum * (b - b_prev)
        p = _softmax(z @ w_look.T + b_look)                        # (n, K)
        g = (p - onehot) / n
        w_prev, b_prev = w, b
        w = w_look - step * (g.T @ z + l2 * w_look)
        b = b_look - step * g.sum(0)
    weight = w / scale                                             # fold the standardisation into the weights
    return weight, b - weight @ mean


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class ActClassifier:
    """Probabilities of each dialogue act for a message, from its MiniLM vector and (when trained so) its words."""

    def __init__(self, labels: Sequence[str], weight: np.ndarray, bias: np.ndarray, cues: Sequence[str],
                 record: dict | None = None):
        assert weight.shape == (len(labels), DIM + len(cues)) and bias.shape == (len(labels),)
        self.labels = tuple(labels)
        self.cues = tuple(cues)
        self.weight = weight.astype(np.float32)  # (K, DIM + n_cues)
        self.bias = bias.astype(np.float32)      # (K,)
        self.record = record or {}

    def predict(self, vectors: np.ndarray, texts: Sequence[str] | None = None) -> list[dict[str, float]]:
        """Act probabilities per message; vectors (n, DIM) from Embedder.encode, texts the same n messages
        (needed when the model uses word cues, as the shipped one does)."""
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        logits = vectors @ self.weight[:, :DIM].T + self.bias     # (n, K)
        if self.cues:
            if texts is None or len(texts) != len(vectors):
                raise ValueError("this act model uses word cues: pass the messages too, predict(vectors, texts)")
            logits += cue_features(texts, self.cues) @ self.weight[:, DIM:].T
        probs = _softmax(logits.astype(np.float64))
        return [dict(zip(self.labels, map(float, row))) for row in probs]

    def predict_texts(self, texts: Sequence[str], embedder: Embedder) -> list[dict[str, float]]:
        """Act probabilities for messages, embedding them in one batch."""
        return self.predict(embedder.encode(list(texts)), texts)

    def classify(self, text: str, embedder: Embedder) -> tuple[str, float]:
        """The most likely act of one message and its probability (single-thread encode: the per-message path)."""
        probs = self.predict(embedder.encode_one(text)[None, :], [text])[0]
        act = max(probs, key=probs.__getitem__)
        return act, probs[act]

    def save(self, folder: Path) -> None:
        """Write model.safetensors (weight, bias) and config.json (labels, cues, how it was trained)."""
        from safetensors.numpy import save_file

        folder.mkdir(parents=True, exist_ok=True)
        save_file({"weight": self.weight, "bias": self.bias}, str(folder / "model.safetensors"))
        config = {"format": FORMAT, "format_version": FORMAT_VERSION, "labels": list(self.labels),
                  "cues": list(self.cues), "dim": DIM, **self.record}
        (folder / "config.json").write_text(json.dumps(config, indent=1) + "\n")

    @classmethod
    def load(cls, folder: Path | None = None) -> ActClassifier:
        """Read a saved classifier; by default the shipped training/artifacts/dialogue-acts/."""
        from safetensors.numpy import load_file

        folder = Path(folder) if folder else artifact("dialogue-acts").folder
        if not (folder / "config.json").exists():
            raise ActModelMissing(f"No dialogue-act model in {folder}. Run: python -m training.acts")
        config = json.loads((folder / "config.json").read_text())
        unknown = set(config.get("cues", [])) - set(CUES)
        if config.get("format") != FORMAT or config.get("format_version") != FORMAT_VERSION or unknown:
            raise ActModelMissing(f"{folder} holds an incompatible act model (format {config.get('format_version')}, "
                                  f"unknown cues {sorted(unknown)}). Run: python -m training.acts")
        tensors = load_file(str(folder / "model.safetensors"))
        record = {k: v for k, v in config.items() if k not in ("format", "format_version", "labels", "cues", "dim")}
        return cls(config["labels"], tensors["weight"], tensors["bias"], config["cues"], record)


def _inputs(vectors: np.ndarray, texts: Sequence[str], cues: bool) -> np.ndarray:
    return np.hstack([vectors, cue_features(texts)]) if cues else vectors


def fit_vectors(vectors: np.ndarray, examples: Sequence[ActExample], config: FitConfig = FitConfig()) -> ActClassifier:
    """Train on precomputed MiniLM vectors (n, DIM) of the examples' texts."""
    texts = [e.text for e in examples]
    y = np.array([ACTS.index(e.act) for e in examples])
    weight, bias = fit_softmax(_inputs(vectors, texts, config.cues), y, len(ACTS), config.l2, config.iterations)
    return ActClassifier(ACTS, weight, bias, tuple(CUES) if config.cues else (), {"fit": asdict(config)})


def train_acts(examples: Sequence[ActExample], embedder: Embedder, config: FitConfig = FitConfig()) -> ActClassifier:
    """Embed the examples and train the act classifier on them."""
    return fit_vectors(embedder.encode([e.text for e in examples]), examples, config)


# ---- evaluation ----

def is_heldout(example: ActExample, percent: int = 20) -> bool:
    """Held out by a hash of source and text: stable across runs and edits of other lines."""
    return zlib.crc32(f"{example.source}\n{example.text}".encode()) % 100 < percent


def scores(gold: Sequence[str], predicted: Sequence[str]) -> dict:
    """Accuracy, per-act F1 and macro-F1 over the acts."""
    f1 = {}
    for act in ACTS:
        tp = sum(g == p == act for g, p in zip(gold, predicted))
        fp_fn = sum((g == act) != (p == act) for g, p in zip(gold, predicted))
        f1[act] = round(2 * tp / (2 * tp + fp_fn), 4) if tp + fp_fn else 0.0
    accuracy = sum(g == p for g, p in zip(gold, predicted)) / max(len(gold), 1)
    return {"n": len(gold), "accuracy": round(accuracy, 4), "macro_f1": round(statistics.mean(f1.values()), 4),
            "f1": f1}


def _argmax(probs: list[dict[str, float]]) -> list[str]:
    return [max(p, key=p.__getitem__) for p in probs]


def cross_validate(vectors: np.ndarray, examples: Sequence[ActExample], config: FitConfig, folds: int = 5) -> float:
    """Macro-F1 of out-of-fold predictions, folds by a hash of the text."""
    fold = np.array([zlib.crc32(e.text.encode()) % folds for e in examples])
    predicted = [""] * len(examples)
    for k in range(folds):
        train, test = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
        clf = fit_vectors(vectors[train], [examples[i] for i in train], config)
        for i, act in zip(test, _argmax(clf.predict(vectors[test], [examples[i].text for i in test]))):
            predicted[i] = act
    return scores([e.act for e in examples], predicted)["macro_f1"]


def latency_ms(clf: ActClassifier, embedder: Embedder, texts: Sequence[str], repeats: int = 200) -> dict:
    """Median milliseconds per message: predict on one vector (+ its cues), and encode_one + predict."""
    vec, text = embedder.encode_one(texts[0])[None, :], texts[0]
    clf.predict(vec, [text])
    t = []
    for _ in range(repeats):
        start = time.perf_counter()
        clf.predict(vec, [text])
        t.append(time.perf_counter() - start)
    e2e = []
    for text in texts:
        start = time.perf_counter()
        clf.classify(text, embedder)
        e2e.append(time.perf_counter() - start)
    return {"predict_one": round(1000 * statistics.median(t), 4),
            "encode_one_and_predict": round(1000 * statistics.median(e2e), 2)}


def main(argv: Sequence[str] | None = None, embedder: Embedder | None = None) -> int:
    """Retrain, evaluate on the held-out 20 %, save the artifact; the last line printed is the JSON summary."""
    parser = argparse.ArgumentParser(prog="python -m training.acts", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA_FILE, help="labelled messages (JSONL: text, act, source)")
    parser.add_argument("--out", type=Path, default=artifact("dialogue-acts").folder, help="artifact folder")
    parser.add_argument("--no-save", action="store_true", help="evaluate only")
    args = parser.parse_args(argv)

    examples = read_examples(args.data)
    embedder = embedder or shared_embedder()
    vectors = embedder.encode([e.text for e in examples])         # (n, DIM), once for every fit below
    held = np.array([is_heldout(e) for e in examples])
    train_idx, held_idx = np.flatnonzero(~held), np.flatnonzero(held)
    train_ex, held_ex = [examples[i] for i in train_idx], [examples[i] for i in held_idx]

    # Pick the penalty by 5-fold CV on the training part only.
    cv = {l2: cross_validate(vectors[train_idx], train_ex, FitConfig(l2=l2)) for l2 in (1e-3, 1e-2, 1e-1)}
    config = FitConfig(l2=max(cv, key=cv.__getitem__))

    gold, held_texts = [e.act for e in held_ex], [e.text for e in held_ex]
    clf = fit_vectors(vectors[train_idx], train_ex, config)
    predicted = _argmax(clf.predict(vectors[held_idx], held_texts))
    no_cues = fit_vectors(vectors[train_idx], train_ex, FitConfig(l2=config.l2, cues=False))
    heldout = {
        "classifier": scores(gold, predicted),
        "embedding_only": scores(gold, _argmax(no_cues.predict(vectors[held_idx]))),
        "keyword_baseline": scores(gold, [keyword_act(t) for t in held_texts]),
        "classifier_by_source": {s: scores([g for g, e in zip(gold, held_ex) if e.source == s],
                                           [p for p, e in zip(predicted, held_ex) if e.source == s])["accuracy"]
                                 for s in sorted({e.source for e in held_ex})},
    }
    for name in ("classifier", "embedding_only", "keyword_baseline"):
        m = heldout[name]
        print(f"{name:>17}: accuracy {m['accuracy']:.3f}  macro-F1 {m['macro_f1']:.3f}  "
              + " ".join(f"{a}={f:.2f}" for a, f in m["f1"].items()), file=sys.stderr)

    final = fit_vectors(vectors, examples, config)               # the shipped model sees every example
    final.record.update({
        "embed_model": embedder.name,
        "data": {"file": args.data.name, "sha1": file_sha1(args.data), "examples": len(examples),
                 "counts": dict(Counter(e.act for e in examples)),
                 "sources": dict(Counter(e.source for e in examples))},
        "metrics": {"heldout_percent": 20, "train_examples": len(train_ex), "cv_macro_f1_by_l2": cv, **heldout},
    })
    latency = latency_ms(final, embedder, held_texts[:50])
    if not args.no_save:
        final.save(args.out)
    print(json.dumps({"data": final.record["data"], "l2": config.l2, "heldout": heldout, "cv_macro_f1_by_l2": cv,
                      "latency_ms": latency, "artifact": None if args.no_save else str(args.out)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
