"""The trained model files convrec ships, found by name: one registry instead of paths worked out in each module.

    find("interest", catalog="amazon")  -> the interest model trained on that catalog's purchase sequences
    find("lora", base="gemma-3-270m")   -> the LoRA adapter for the embedded local model

Each artifact is a folder under training/artifacts/ with its own record (`config.json` for the interest model,
`training_config.json` for the adapter) saying how it was made.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent / "artifacts"


@dataclass(frozen=True)
class Artifact:
    """One shipped model: what it is, which catalog or base model it belongs to, and its folder."""

    name: str
    kind: str  # "interest" (scores a catalog's items) | "lora" (adapts a base language model) | "acts" (dialogue acts)
    catalog: str | None = None  # the catalog collection an interest model was trained on
    base: str | None = None  # the base model an adapter belongs to

    @property
    def folder(self) -> Path:
        """Where its files are."""
        return ROOT / self.name

    def present(self) -> bool:
        """Whether its files are there (a slim install may leave them out)."""
        marker = "config.json" if self.kind in ("interest", "acts") else "adapter_config.json"
        return (self.folder / marker).exists()


SHIPPED = (
    Artifact("amazon-scientific", "interest", catalog="amazon"),
    Artifact("redial-movies", "interest", catalog="redial"),
    Artifact("gemma-reasons", "lora", base="gemma-3-270m"),
    Artifact("dialogue-acts", "acts"),
)


def find(kind: str, catalog: str | None = None, base: str | None = None) -> Artifact | None:
    """The shipped artifact of this kind for the catalog / base model, or None."""
    for artifact in SHIPPED:
        if artifact.kind == kind and (catalog is None or artifact.catalog == catalog) \
                and (base is None or artifact.base == base):
            return artifact
    return None


def artifact(name: str) -> Artifact:
    """A shipped artifact by name; KeyError names the known ones."""
    for a in SHIPPED:
        if a.name == name:
            return a
    raise KeyError(f"no shipped artifact {name!r}; known: {', '.join(a.name for a in SHIPPED)}")
