"""The models the live registry serves, per operation (the dashboard's model pickers)."""

from __future__ import annotations

from collections.abc import Iterable

from plugins.registry import get_registry

__all__ = ["model_catalog"]

#: The modality whose models an operation's picker lists first: a chat picker starts with a text
#: model, not with an audio model that also chats.
_OWN_MODALITY = {"chat": "text"}


async def model_catalog(operations: Iterable[str], allowed: Iterable[str] = ()) -> dict[str, list[str]]:
    """Model ids serving each operation, in the registry's order (providers by priority, each one's
    catalogue as it lists it, its default model first, so a form's first choice is the usual one);
    limited to ``allowed`` when it is not empty (a plan's list). A chat picker lists text models
    before the models of other modalities that also chat."""
    wanted: dict[str, list[tuple[bool, str]]] = {operation: [] for operation in operations}
    permitted = set(allowed)
    for _provider, model in (await get_registry()).models():
        if permitted and model.id not in permitted:
            continue
        for operation in model.operations & wanted.keys():
            # each model once: the registry lists it from one provider
            wanted[operation].append((model.modality != _OWN_MODALITY.get(operation, model.modality), model.id))
    return {operation: [model for _, model in sorted(found, key=lambda m: m[0])] for operation, found in wanted.items()}
