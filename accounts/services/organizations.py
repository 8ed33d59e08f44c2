"""Organisations, memberships and invitations."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts._keycache import publish_key_state
from accounts.exceptions import Conflict, InvalidInput, InvitationInvalid, NotFound
from accounts.models import ApiKey, AuditEvent, Invitation, Membership, Organization, User
from accounts.roles import OWNER, ROLES
from accounts.selectors import invitation_pending_for_email
from accounts.services._checks import require_action
from accounts.services.audit import audit_event_record

_INVITATION_SALT = "accounts.invitation"


def _check_role(role: str, param: str = "role") -> str:
    if role not in ROLES:
        raise InvalidInput(f"Unknown role {role!r}: use one of {', '.join(ROLES)}.", param=param)
    return role


@transaction.atomic
def organization_create(
    *, name: str, slug: str | None = None, owner: User | None = None, ip: str | None = None
) -> Organization:
    """Create an organisation; ``owner`` (if given) becomes its first owner."""
    name = (name or "").strip()
    if not 1 <= len(name) <= 150:
        raise InvalidInput("An organisation needs a name of 1 to 150 characters.", param="name")
    slug = slugify(slug or name)[:50]
    if not slug:
        raise InvalidInput(
            "Choose a slug with a letter or digit in it (letters, digits, hyphens, underscores).", param="slug"
        )
    organization = Organization(name=name, slug=slug)
    organization.full_clean(validate_unique=False)
    try:
        with transaction.atomic():
            organization.save()
    except IntegrityError as exc:
        raise Conflict(f"The slug {slug!r} is taken: choose another.", param="slug") from exc
    audit_event_record(
        action=AuditEvent.Action.ORGANIZATION_CREATED,
        actor=owner,
        organization=organization,
        ip=ip,
        target=f"organization:{organization.pk}",
        detail={"slug": slug},
    )
    if owner is not None:
        membership_add(organization=organization, user=owner, role=OWNER, ip=ip)
    return organization


def organization_set_active(*, organization: Organization, active: bool) -> Organization:
    """Activate or deactivate; a deactivated organisation's keys are refused everywhere within seconds."""
    organization.is_active = active
    organization.save(update_fields=["is_active"])
    keys = list(ApiKey.objects.select_related("organization").filter(organization=organization, revoked_at=None))

    def publish() -> None:
        for key in keys:
            publish_key_state(key)

    transaction.on_commit(publish)
    return organization


@transaction.atomic
def organization_update(
    *,
    organization: Organization,
    actor: User | None = None,
    name: str | None = None,
    is_active: bool | None = None,
    ip: str | None = None,
) -> Organization:
    """Rename and/or (de)activate an organisation (role action ``manage_organization``).

    Deactivating refuses every key of the organisation on every replica within seconds (as
    revocation does) and hides it from its members' management API and dashboard; an operator
    reactivates it (admin, or this service with ``actor=None``).

    :param name: the new display name (1 to 150 characters); the slug never changes.
    :raises InvalidInput: naming the field at fault.
    """
    require_action(actor=actor, organization=organization, action="manage_organization")
    changes: dict[str, object] = {}
    if name is not None:
        name = name.strip()
        if not 1 <= len(name) <= 150:
            raise InvalidInput("An organisation needs a name of 1 to 150 characters.", param="name")
        if name != organization.name:
            changes["name"] = name
    if is_active is not None and is_active != organization.is_active:
        changes["is_active"] = is_active
    if not changes:
        return organization
    if "name" in changes:
        organization.name = str(changes["name"])
        organization.full_clean(validate_unique=False)
        organization.save(update_fields=["name"])
    if "is_active" in changes:
        organization_set_active(organization=organization, active=bool(changes["is_active"]))
    audit_event_record(
        action=AuditEvent.Action.ORGANIZATION_UPDATED,
        actor=actor,
        organization=organization,
        ip=ip,
        target=f"organization:{organization.pk}",
        detail=changes,
    )
    return organization


@transaction.atomic
def membership_add(
    *, organization: Organization, user: User, role: str, actor: User | None = None, ip: str | None = None
) -> Membership:
    """Add ``user`` with ``role`` (an operator, or an actor allowed to manage members)."""
    _check_role(role)
    require_action(
        actor=actor, organization=organization, action="manage_owners" if role == OWNER else "manage_members"
    )
    membership = Membership(organization=organization, user=user, role=role)
    try:
        with transaction.atomic():
            membership.save()
    except IntegrityError as exc:
        raise Conflict(f"{user.email} is already a member of this organisation.", param="email") from exc
    audit_event_record(
        action=AuditEvent.Action.MEMBER_ADDED,
        actor=actor or user,
        organization=organization,
        ip=ip,
        target=f"user:{user.pk}",
        detail={"email": user.email, "role": role},
    )
    return membership


def _require_another_owner(membership: Membership) -> None:
    owners = Membership.objects.filter(organization=membership.organization, role=OWNER).exclude(pk=membership.pk)
    if membership.role == OWNER and not owners.exists():
        raise Conflict("An organisation keeps at least one owner: make someone else owner first.", param="role")


@transaction.atomic
def membership_role_change(
    *, membership: Membership, role: str, actor: User | None = None, ip: str | None = None
) -> Membership:
    """Change a member's role; granting or removing ``owner`` needs the ``manage_owners`` action."""
    _check_role(role)
    membership = Membership.objects.select_for_update().select_related("user", "organization").get(pk=membership.pk)
    touches_owner = OWNER in (role, membership.role)
    require_action(
        actor=actor,
        organization=membership.organization,
        action="manage_owners" if touches_owner else "manage_members",
    )
    if role == membership.role:
        return membership
    if role != OWNER:
        _require_another_owner(membership)
    previous = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit_event_record(
        action=AuditEvent.Action.ROLE_CHANGED,
        actor=actor,
        organization=membership.organization,
        ip=ip,
        target=f"user:{membership.user_id}",
        detail={"email": membership.user.email, "from": previous, "to": role},
    )
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor: User | None = None, ip: str | None = None) -> None:
    membership = Membership.objects.select_for_update().select_related("user", "organization").get(pk=membership.pk)
    require_action(
        actor=actor,
        organization=membership.organization,
        action="manage_owners" if membership.role == OWNER else "manage_members",
    )
    _require_another_owner(membership)
    audit_event_record(
        action=AuditEvent.Action.MEMBER_REMOVED,
        actor=actor,
        organization=membership.organization,
        ip=ip,
        target=f"user:{membership.user_id}",
        detail={"email": membership.user.email, "role": membership.role},
    )
    membership.delete()


def invitation_token(invitation: Invitation) -> str:
    """The signed token e-mailed to the invitee (also valid only while the row is pending)."""
    return signing.dumps({"i": invitation.pk, "n": invitation.nonce}, salt=_INVITATION_SALT, compress=True)


@transaction.atomic
def invitation_create(
    *, organization: Organization, email: str, role: str, invited_by: User | None = None, ip: str | None = None
) -> tuple[Invitation, str]:
    """Invite ``email`` with ``role`` and e-mail the link; nothing is kept if sending fails.

    :returns: the invitation and its token (also sent by e-mail).
    """
    _check_role(role)
    require_action(
        actor=invited_by, organization=organization, action="manage_owners" if role == OWNER else "manage_members"
    )
    email = User.objects.normalize_email((email or "").strip()).lower()
    invitation = Invitation(
        organization=organization,
        email=email,
        role=role,
        nonce=secrets.token_hex(16),
        invited_by=invited_by,
        expires_at=timezone.now() + timedelta(seconds=settings.INVITATION_MAX_AGE_SECONDS),
    )
    invitation.full_clean()
    if Membership.objects.filter(organization=organization, user__email=email).exists():
        raise Conflict(f"{email} is already a member of this organisation.", param="email")
    invitation.save()
    token = invitation_token(invitation)
    audit_event_record(
        action=AuditEvent.Action.INVITATION_CREATED,
        actor=invited_by,
        organization=organization,
        ip=ip,
        target=f"invitation:{invitation.pk}",
        detail={"email": email, "role": role},
    )
    # Inside the transaction on purpose: if the mail server refuses, the invitation is rolled back.
    send_mail(
        subject=f"You are invited to {organization.name} on MCP Gateway",
        message=(
            f"{invited_by.email if invited_by else 'An administrator'} invited you to join {organization.name} "
            f"as {role}.\n\nAccept with this token (valid {settings.INVITATION_MAX_AGE_SECONDS // 86_400} days):\n\n"
            f"{token}\n\nPOST it to /api/invitations/accept once signed in, or to /api/auth/register with your "
            "new password.\n"
        ),
        from_email=None,
        recipient_list=[email],
    )
    return invitation, token


def invitation_get_by_token(*, token: str) -> Invitation:
    """The pending invitation behind ``token``.

    :raises InvitationInvalid: bad signature, expired, revoked or already accepted.
    """
    try:
        data = signing.loads(token, salt=_INVITATION_SALT, max_age=settings.INVITATION_MAX_AGE_SECONDS)
        invitation = Invitation.objects.select_related("organization").get(pk=int(data["i"]))
    except (signing.BadSignature, Invitation.DoesNotExist, KeyError, TypeError, ValueError) as exc:
        raise InvitationInvalid(param="token") from exc
    if not invitation.is_pending or not secrets.compare_digest(invitation.nonce, str(data.get("n", ""))):
        raise InvitationInvalid(param="token")
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, user: User, ip: str | None = None) -> Membership:
    """Join the organisation of the invitation; the signed-in user's e-mail must be the invited one."""
    return _invitation_accept(invitation=invitation_get_by_token(token=token), user=user, ip=ip)


@transaction.atomic
def invitation_accept_for_verified_email(*, user: User, ip: str | None = None) -> list[Membership]:
    """Join every organisation with a pending invitation to ``user.email``, whose address a provider verified.

    Used by OpenID Connect sign-up: the provider's ``email_verified`` claim proves the address as the
    e-mailed token would. Organisations the user already belongs to are skipped.
    """
    memberships = []
    joined = set(Membership.objects.filter(user=user).values_list("organization_id", flat=True))
    for invitation in invitation_pending_for_email(email=user.email):
        if invitation.organization_id not in joined:
            memberships.append(_invitation_accept(invitation=invitation, user=user, ip=ip))
            joined.add(invitation.organization_id)
    return memberships


def _invitation_accept(*, invitation: Invitation, user: User, ip: str | None) -> Membership:
    invitation = Invitation.objects.select_for_update().select_related("organization").get(pk=invitation.pk)
    if not invitation.is_pending or invitation.email != user.email.lower():
        raise InvitationInvalid(param="token")
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    membership = membership_add(organization=invitation.organization, user=user, role=invitation.role, ip=ip)
    audit_event_record(
        action=AuditEvent.Action.INVITATION_ACCEPTED,
        actor=user,
        organization=invitation.organization,
        ip=ip,
        target=f"invitation:{invitation.pk}",
        detail={"email": user.email, "role": invitation.role},
    )
    return membership


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: User | None = None, ip: str | None = None) -> Invitation:
    require_action(actor=actor, organization=invitation.organization, action="manage_members")
    if invitation.accepted_at is not None:
        raise NotFound()
    if invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        audit_event_record(
            action=AuditEvent.Action.INVITATION_REVOKED,
            actor=actor,
            organization=invitation.organization,
            ip=ip,
            target=f"invitation:{invitation.pk}",
            detail={"email": invitation.email},
        )
    return invitation
