"""Shapes shared by the accounts modules and their callers (the gateway)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["KeyIdentity"]


@dataclass(frozen=True, slots=True)
class KeyIdentity:
    """Who is calling: the key, its organisation, and what the key may do."""

    key_id: int
    key_prefix: str
    organization_id: int
    organization_slug: str
    user_id: int | None
    scopes: frozenset[str]
    allowed_models: frozenset[str]
    limits: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    expires_at: float | None = None

    def allows_modality(self, modality: str) -> bool:
        return modality in self.scopes

    def allows_model(self, model: str) -> bool:
        return not self.allowed_models or model in self.allowed_models
