"""Compiled artifacts (ABI and bytecode) as the Python side sees them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ArtifactsMissing(RuntimeError):
    """No compiled artifacts where the settings point; `crda compile` makes them."""


@dataclass(frozen=True)
class Artifacts:
    contracts: dict[str, dict[str, Any]]

    @classmethod
    def load(cls, path: Path) -> Artifacts:
        if not path.exists():
            raise ArtifactsMissing(f"no compiled contracts at {path}: run `crda compile`")
        return cls.from_compiled(json.loads(path.read_text()))

    @classmethod
    def from_compiled(cls, compiled: dict[str, Any]) -> Artifacts:
        return cls(contracts=compiled["contracts"])

    def abi(self, name: str) -> list[dict[str, Any]]:
        return list(self._get(name)["abi"])

    def bytecode(self, name: str) -> str:
        return str(self._get(name)["bytecode"])

    def all_abis(self) -> list[list[dict[str, Any]]]:
        return [c["abi"] for c in self.contracts.values()]

    def _get(self, name: str) -> dict[str, Any]:
        try:
            return self.contracts[name]
        except KeyError:
            raise ArtifactsMissing(f"no compiled contract named {name}") from None
