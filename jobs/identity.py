"""The API key identity a job runs under, re-read when each attempt starts.

A key revoked (or an organisation deactivated) after a job was submitted stops its next attempt:
the worker checks the key row, not the identity the web process saw at submission.
"""

from __future__ import annotations

from types import MappingProxyType

from accounts.models import ApiKey
from accounts.roles import MODALITIES
from accounts.types import KeyIdentity
from core.errors import unauthenticated
from jobs.models import Job


async def job_identity(job: Job) -> KeyIdentity:
    """The submitting key's current identity.

    :raises HttpError: 401 when the key is gone, revoked, expired or its organisation inactive.
    """
    key = (
        None
        if job.key_id is None
        else await ApiKey.objects.select_related("organization").filter(id=job.key_id).afirst()
    )
    if key is None or not key.is_active or not key.organization.is_active:
        raise unauthenticated()
    return KeyIdentity(
        key_id=key.pk,
        key_prefix=key.prefix,
        organization_id=key.organization_id,
        organization_slug=key.organization.slug,
        user_id=key.created_by_id,
        scopes=frozenset(key.scopes) & frozenset(MODALITIES),
        allowed_models=frozenset(key.allowed_models),
        limits=MappingProxyType({str(k): int(v) for k, v in key.limits.items()}),
        expires_at=key.expires_at.timestamp() if key.expires_at else None,
    )
