"""The conversational recommender agent. Surfaces (ui, evals) import only these names.

    agent = build_agent(Settings.from_env())
    session = agent.new_session()
    turn = agent.reply(session, "a cordless drill under $100")
"""

from agent.config import Settings
from agent.core import Agent, build_agent
from agent.errors import AgentInputError, UnknownItem
from agent.llm import LLMUnavailable
from agent.state import DialogueState, FeedbackKind, Pick, Session, Turn
from retrieval.vocabulary import Preference

__all__ = ["Agent", "AgentInputError", "DialogueState", "FeedbackKind", "LLMUnavailable", "Pick", "Preference",
           "Session", "Settings", "Turn", "UnknownItem", "build_agent"]
