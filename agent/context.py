"""What a turn works with: the settings, the catalog and its vocabulary, the interest model and the LLM.

`Agent` builds one `Context`; the guided turn (agent/guided.py) and the agentic turn (agent/agentic.py) both take
it, so neither reaches into the other or into `Agent`.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.config import Settings
from agent.interest import InterestScorer
from agent.llm import LLM
from agent.state import Session
from agent.tools import ToolBox
from retrieval.search import CatalogIndex
from retrieval.vocabulary import Vocabulary


@dataclass(frozen=True)
class Context:
    """The parts shared by every turn of every session (sessions themselves carry all per-shopper data)."""

    settings: Settings
    index: CatalogIndex
    vocab: Vocabulary
    interest: InterestScorer
    llm: LLM | None = None

    def toolbox(self, session: Session) -> ToolBox:
        """The tools bound to one session for one turn."""
        return ToolBox(self.index, self.interest, self.vocab, self.settings, session)
