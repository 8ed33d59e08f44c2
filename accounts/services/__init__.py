"""Accounts write operations (the app's public surface, with :mod:`accounts.selectors`)."""

from accounts.services.api_keys import (
    KNOWN_LIMITS,
    api_key_create,
    api_key_last_used_record,
    api_key_revoke,
    api_key_rotate,
    api_key_update,
)
from accounts.services.audit import audit_event_record
from accounts.services.organizations import (
    invitation_accept,
    invitation_accept_for_verified_email,
    invitation_create,
    invitation_get_by_token,
    invitation_revoke,
    invitation_token,
    membership_add,
    membership_remove,
    membership_role_change,
    organization_create,
    organization_set_active,
    organization_update,
)
from accounts.services.people import (
    auth_logout,
    auth_token_obtain,
    auth_token_refresh,
    password_change,
    password_reset_confirm,
    password_reset_request,
    user_register,
)

__all__ = [
    "KNOWN_LIMITS",
    "api_key_create",
    "api_key_last_used_record",
    "api_key_revoke",
    "api_key_rotate",
    "api_key_update",
    "audit_event_record",
    "auth_logout",
    "auth_token_obtain",
    "auth_token_refresh",
    "invitation_accept",
    "invitation_accept_for_verified_email",
    "invitation_create",
    "invitation_get_by_token",
    "invitation_revoke",
    "invitation_token",
    "membership_add",
    "membership_remove",
    "membership_role_change",
    "organization_create",
    "organization_set_active",
    "organization_update",
    "password_change",
    "password_reset_confirm",
    "password_reset_request",
    "user_register",
]
