"""Account models. ``User`` logs in with its e-mail address; there is no username."""

from __future__ import annotations

from typing import Any, ClassVar, NoReturn, Self

from django.contrib.auth.models import AbstractBaseUser, PermissionsMixin
from django.db import models
from django.utils import timezone

from accounts.managers import UserManager
from accounts.roles import MODALITIES, ROLE_LABELS, ROLES


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField("e-mail address", unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="Can sign in to the admin back-office.")
    date_joined = models.DateTimeField(default=timezone.now)

    objects: ClassVar[UserManager[Self]] = UserManager()
    #: Whether a save is deactivating the user (set before the save by ``accounts.signals``).
    _was_active: bool = False

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()


class Organization(models.Model):
    """A tenant: every gateway request and every management action belongs to one."""

    name = models.CharField(max_length=150)
    slug = models.SlugField(max_length=50, unique=True, help_text="Used in URLs and the X-Organization header.")
    is_active = models.BooleanField(default=True, help_text="An inactive organisation's keys are refused.")
    created_at = models.DateTimeField(default=timezone.now)
    members = models.ManyToManyField(User, through="Membership", related_name="organizations")

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Membership(models.Model):
    """A user's role in one organisation (see :mod:`accounts.roles`)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=[(r, ROLE_LABELS[r]) for r in ROLES])
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["organization__slug", "user__email"]
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="membership_unique_user_org"),
            models.CheckConstraint(condition=models.Q(role__in=ROLES), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} as {self.role}"


class ApiKey(models.Model):
    """A machine credential for one organisation. Only a hash of the secret is stored."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="The public start of the key, shown in lists and logs.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list, help_text=f"Modalities among {', '.join(MODALITIES)}.")
    allowed_models = models.JSONField(default=list, blank=True, help_text="Empty: any model.")
    limits = models.JSONField(default=dict, blank=True, help_text="Per-key limits, each at most the plan's.")
    is_service = models.BooleanField(
        default=False,
        help_text="An organisation (service) key: kept when its creator is deactivated or leaves the organisation; "
        "a personal key is then revoked.",
    )
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["organization__slug", "-created_at"]
        verbose_name = "API key"
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"],
                condition=models.Q(revoked_at__isnull=True),
                name="api_key_unique_active_name",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())


class Invitation(models.Model):
    """An invitation to join an organisation with a role; accepted once, through a signed, expiring token."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=20, choices=[(r, ROLE_LABELS[r]) for r in ROLES])
    nonce = models.CharField(max_length=32, editable=False)
    invited_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=models.Q(role__in=ROLES), name="invitation_role_valid")]

    def __str__(self) -> str:
        return f"{self.email} → {self.organization} ({self.role})"

    @property
    def is_pending(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > timezone.now()


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> NoReturn:
        raise TypeError("The security audit log is append-only.")

    def delete(self) -> NoReturn:
        raise TypeError("The security audit log is append-only.")


class AuditEvent(models.Model):
    """One security event. Append-only: rows are never changed or deleted through the ORM."""

    class Action(models.TextChoices):
        LOGIN_SUCCEEDED = "login_succeeded"
        LOGIN_FAILED = "login_failed"
        LOGIN_LOCKED_OUT = "login_locked_out"
        LOGOUT = "logout"
        USER_REGISTERED = "user_registered"
        PASSWORD_CHANGED = "password_changed"  # noqa: S105 - an event name, not a password  # pragma: allowlist secret
        PASSWORD_RESET_REQUESTED = "password_reset_requested"  # noqa: S105 - an event name, not a password  # pragma: allowlist secret
        PASSWORD_RESET_COMPLETED = "password_reset_completed"  # noqa: S105 - an event name, not a password  # pragma: allowlist secret
        ORGANIZATION_CREATED = "organization_created"
        ORGANIZATION_UPDATED = "organization_updated"
        MEMBER_ADDED = "member_added"
        ROLE_CHANGED = "role_changed"
        MEMBER_REMOVED = "member_removed"
        INVITATION_CREATED = "invitation_created"
        INVITATION_ACCEPTED = "invitation_accepted"
        INVITATION_REVOKED = "invitation_revoked"
        KEY_CREATED = "key_created"
        KEY_ROTATED = "key_rotated"
        KEY_REVOKED = "key_revoked"
        KEY_UPDATED = "key_updated"
        RESULT_DELETED = "result_deleted"

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    action = models.CharField(max_length=40, choices=Action.choices, db_index=True)
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_email = models.CharField(max_length=254, blank=True, help_text="Kept when the user is deleted.")
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    target = models.CharField(max_length=200, blank=True, help_text="What the event is about, e.g. api_key:12.")
    detail = models.JSONField(default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="audit_org_time")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action} {self.actor_email}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise TypeError("The security audit log is append-only: an event cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("The security audit log is append-only: an event cannot be deleted.")
