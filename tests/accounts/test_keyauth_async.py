"""resolve_api_key called natively from a running event loop, as the gateway does."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from accounts.exceptions import InvalidApiKey
from accounts.keyauth import resolve_api_key
from tests.accounts.factories import api_key_create_for_tests


@pytest.mark.django_db(transaction=True)
async def test_resolution_works_inside_the_event_loop_and_refuses_other_modalities():
    _, raw = await sync_to_async(api_key_create_for_tests)(scopes=["text"])
    identity = await resolve_api_key(raw)
    assert identity.allows_modality("text")
    assert not identity.allows_modality("image")
    assert (await resolve_api_key(raw)) == identity
    with pytest.raises(InvalidApiKey):
        await resolve_api_key(raw[:-1] + ("0" if raw[-1] != "0" else "1"))
    # The ORM ran in asgiref's worker thread; give its connection back before the database is dropped.
    await sync_to_async(connections.close_all)()
