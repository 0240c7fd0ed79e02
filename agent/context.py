"""What a turn works with: the settings, the catalog and its vocabulary, the interest model and the LLM.

`Agent` builds one `Context`; the guided turn (agent/guided.py) and the agentic turn (agent/agentic.py) both take
it, so neither reaches into the other or into `Agent`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from agent.config import Settings
from agent.interest import InterestScorer
from agent.llm import LLM
from agent.state import Session
from agent.tools import ToolBox
from retrieval.search import CatalogIndex
from retrieval.vocabulary import Speller, Vocabulary, speller
from training.acts import ActClassifier, ActModelMissing

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Context:
    """The parts shared by every turn of every session (sessions themselves carry all per-shopper data)."""

    settings: Settings
    index: CatalogIndex
    vocab: Vocabulary
    interest: InterestScorer
    llm: LLM | None = None
    speller: Speller | None = field(default=None, repr=False)

    @classmethod
    def build(cls, settings: Settings, index: CatalogIndex, vocab: Vocabulary, interest: InterestScorer,
              llm: LLM | None = None) -> "Context":
        """The context with the catalog's speller."""
        return cls(settings, index, vocab, interest, llm, speller(index))

    def leaf_vectors(self) -> tuple[list[str], np.ndarray]:
        """The catalog's leaf categories and their MiniLM vectors (computed once per catalog)."""
        return _leaf_vectors(self.index)

    def act_scores(self, text: str) -> dict[str, float] | None:
        """The dialogue-act classifier's probabilities for a message (None without a classifier or a model)."""
        classifier = _act_classifier()
        if classifier is None or self.index.embedder is None or not text.strip():
            return None
        return classifier.predict(self.index.embedder.encode_one(text[:500])[None, :], [text[:500]])[0]

    def toolbox(self, session: Session) -> ToolBox:
        """The tools bound to one session for one turn."""
        return ToolBox(self.index, self.interest, self.vocab, self.settings, session)


@lru_cache(maxsize=8)
def _leaf_vectors(index: CatalogIndex) -> tuple[list[str], np.ndarray]:
    leaves = sorted({i.category_path[-1] for i in index.items if i.category_path})
    if index.embedder is None or not leaves:
        return leaves, np.zeros((len(leaves), 384), dtype=np.float32)
    return leaves, index.embedder.encode(leaves)


@lru_cache(maxsize=1)
def _act_classifier() -> ActClassifier | None:
    """The shipped dialogue-act classifier, loaded once; None (rules alone) when its files are missing."""
    try:
        return ActClassifier.load()
    except ActModelMissing as e:
        log.warning("dialogue-act classifier not loaded (%s); reading messages by rules alone", e)
        return None
