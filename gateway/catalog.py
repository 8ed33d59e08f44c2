"""The models the live registry serves, per operation (the dashboard's model pickers)."""

from __future__ import annotations

from collections.abc import Iterable

from plugins.registry import get_registry

__all__ = ["model_catalog"]


async def model_catalog(operations: Iterable[str], allowed: Iterable[str] = ()) -> dict[str, list[str]]:
    """Model ids serving each operation, sorted; limited to ``allowed`` when it is not empty (a plan's list)."""
    wanted: dict[str, list[str]] = {operation: [] for operation in operations}
    permitted = set(allowed)
    for _provider, model in (await get_registry()).models():
        if permitted and model.id not in permitted:
            continue
        for operation in model.operations & wanted.keys():
            wanted[operation].append(model.id)
    return {operation: sorted(ids) for operation, ids in wanted.items()}
