"""Management API URLs, mounted at ``/api/``.

Organisation-scoped resources exist twice: under ``orgs/<slug>/`` and at the top level, where the
organisation comes from the ``X-Organization`` header. Both reach the same view.
"""

from django.urls import path

from accounts.apis import audit, auth, keys, organizations

_org_scoped = [
    ("", organizations.OrganizationDetailApi, "organization"),
    ("members", organizations.MemberListApi, "members"),
    ("members/<int:member_id>", organizations.MemberDetailApi, "member"),
    ("invitations", organizations.InvitationCollectionApi, "invitations"),
    ("invitations/<int:invitation_id>", organizations.InvitationDetailApi, "invitation"),
    ("keys", keys.ApiKeyCollectionApi, "keys"),
    ("keys/<int:key_id>", keys.ApiKeyDetailApi, "key"),
    ("keys/<int:key_id>/rotate", keys.ApiKeyRotateApi, "key-rotate"),
    ("keys/<int:key_id>/revoke", keys.ApiKeyRevokeApi, "key-revoke"),
    ("audit-events", audit.AuditEventListApi, "audit-events"),
]

app_name = "accounts"
urlpatterns = [
    path("auth/register", auth.UserRegisterApi.as_view(), name="register"),
    path("auth/token", auth.TokenObtainApi.as_view(), name="token"),
    path("auth/token/refresh", auth.TokenRefreshApi.as_view(), name="token-refresh"),
    path("auth/logout", auth.LogoutApi.as_view(), name="logout"),
    path("auth/password/change", auth.PasswordChangeApi.as_view(), name="password-change"),
    path("auth/password/reset", auth.PasswordResetApi.as_view(), name="password-reset"),
    path("auth/password/reset/confirm", auth.PasswordResetConfirmApi.as_view(), name="password-reset-confirm"),
    path("me", organizations.MeApi.as_view(), name="me"),
    path("orgs", organizations.OrganizationCollectionApi.as_view(), name="organizations"),
    path("invitations/accept", organizations.InvitationAcceptApi.as_view(), name="invitation-accept"),
    *[path(f"orgs/<slug:org_slug>/{p}".rstrip("/"), v.as_view(), name=f"org-{n}") for p, v, n in _org_scoped],
    *[path(f"org/{p}".rstrip("/"), v.as_view(), name=f"current-{n}") for p, v, n in _org_scoped],
]
