"""People: registration, JWT sign-in / refresh / sign-out, password change and reset."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import update_last_login
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from rest_framework.exceptions import APIException
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.exceptions import AuthenticationFailed, Conflict, InvalidInput, RegistrationClosed
from accounts.models import AuditEvent, User
from accounts.services.audit import audit_event_record
from accounts.services.organizations import invitation_accept, invitation_get_by_token


def _validate_new_password(password: str, *, user: User | None, param: str) -> None:
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages), param=param) from exc


@transaction.atomic
def user_register(
    *, email: str, password: str, full_name: str = "", invitation_token: str | None = None, ip: str | None = None
) -> User:
    """Create an account; with ``REGISTRATION_MODE=invite`` only through a pending invitation to that e-mail.

    With a token, the new user joins the inviting organisation in the same transaction.
    """
    email = User.objects.normalize_email((email or "").strip()).lower()
    invitation = invitation_get_by_token(token=invitation_token) if invitation_token else None
    if settings.REGISTRATION_MODE == "invite" and invitation is None:
        raise RegistrationClosed()
    if invitation is not None and invitation.email != email:
        raise InvalidInput("Register with the e-mail address the invitation was sent to.", param="email")
    candidate = User(email=email, full_name=(full_name or "").strip())
    try:
        candidate.full_clean(exclude=["password"], validate_unique=False)
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise InvalidInput(" ".join(messages), param=field) from exc
    _validate_new_password(password, user=candidate, param="password")
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=email, password=password, full_name=candidate.full_name)
    except (IntegrityError, ValidationError) as exc:
        raise Conflict(
            "An account with this e-mail already exists: sign in or reset the password.", param="email"
        ) from exc
    audit_event_record(action=AuditEvent.Action.USER_REGISTERED, actor=user, ip=ip, target=f"user:{user.pk}")
    if invitation_token:
        invitation_accept(token=invitation_token, user=user, ip=ip)
    return user


def auth_token_obtain(*, request: HttpRequest, email: str, password: str, ip: str | None = None) -> dict[str, str]:
    """Check the password and issue a short-lived access token and a rotating refresh token.

    A failure is audited by the ``user_login_failed`` signal (:mod:`accounts.signals`).

    :raises AuthenticationFailed: wrong e-mail or password, or an inactive account (not told apart).
    """
    user = authenticate(request, email=(email or "").strip().lower(), password=password)
    if user is None:
        raise AuthenticationFailed("Invalid e-mail or password.")
    refresh = RefreshToken.for_user(user)
    update_last_login(type(user), user)
    audit_event_record(
        action=AuditEvent.Action.LOGIN_SUCCEEDED, actor=user, ip=ip, target=f"user:{user.pk}", detail={"via": "jwt"}
    )
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def auth_token_refresh(*, refresh: str) -> dict[str, str]:
    """Exchange a refresh token for a new pair; the old refresh token is blacklisted (rotation)."""
    serializer = TokenRefreshSerializer(data={"refresh": refresh})
    try:
        serializer.is_valid(raise_exception=True)
    except (TokenError, APIException) as exc:  # InvalidToken, AuthenticationFailed (inactive user), ValidationError
        raise AuthenticationFailed() from exc
    return {"access": serializer.validated_data["access"], "refresh": serializer.validated_data["refresh"]}


def auth_logout(*, refresh: str, ip: str | None = None) -> None:
    """Blacklist a refresh token so it can never be used again (access tokens expire on their own)."""
    try:
        token = RefreshToken(refresh)  # type: ignore[arg-type]  # simplejwt annotates the encoded token as Token
        token.blacklist()
    except TokenError as exc:
        raise AuthenticationFailed() from exc
    user = User.objects.filter(pk=token.get("user_id")).first()
    audit_event_record(action=AuditEvent.Action.LOGOUT, actor=user, ip=ip, target=f"user:{user.pk}" if user else "")


def _blacklist_all_refresh_tokens(user: User) -> None:
    for outstanding in OutstandingToken.objects.filter(user=user):
        BlacklistedToken.objects.get_or_create(token=outstanding)


@transaction.atomic
def password_change(*, user: User, old_password: str, new_password: str, ip: str | None = None) -> None:
    """Change the password and sign the user out everywhere (all refresh tokens blacklisted)."""
    if not user.check_password(old_password):
        raise InvalidInput("The current password is not correct.", param="old_password")
    _validate_new_password(new_password, user=user, param="new_password")
    user.set_password(new_password)
    user.save(update_fields=["password"])
    _blacklist_all_refresh_tokens(user)
    audit_event_record(action=AuditEvent.Action.PASSWORD_CHANGED, actor=user, ip=ip, target=f"user:{user.pk}")


def password_reset_request(*, email: str, ip: str | None = None) -> None:
    """E-mail a reset token if an active account has this address; say nothing either way."""
    user = User.objects.filter(email=(email or "").strip().lower(), is_active=True).first()
    if user is None:
        return
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    send_mail(
        subject="Reset your MCP Gateway password",
        message=(
            "Someone asked to reset the password of this account. If it was you, POST these to "
            f"/api/auth/password/reset/confirm within {settings.PASSWORD_RESET_TIMEOUT // 60} minutes:\n\n"
            f"uid: {uid}\ntoken: {token}\n\nIf it was not you, ignore this e-mail.\n"
        ),
        from_email=None,
        recipient_list=[user.email],
    )
    audit_event_record(action=AuditEvent.Action.PASSWORD_RESET_REQUESTED, actor=user, ip=ip, target=f"user:{user.pk}")


@transaction.atomic
def password_reset_confirm(*, uid: str, token: str, new_password: str, ip: str | None = None) -> None:
    """Set a new password with the e-mailed uid + token; signs the user out everywhere."""
    try:
        user = User.objects.get(pk=int(force_str(urlsafe_base64_decode(uid))), is_active=True)
    except (User.DoesNotExist, ValueError, TypeError, OverflowError) as exc:
        raise InvalidInput("The reset link is invalid or expired: ask for a new one.", param="token") from exc
    if not default_token_generator.check_token(user, token):
        raise InvalidInput("The reset link is invalid or expired: ask for a new one.", param="token")
    _validate_new_password(new_password, user=user, param="new_password")
    user.set_password(new_password)
    user.save(update_fields=["password"])
    _blacklist_all_refresh_tokens(user)
    audit_event_record(action=AuditEvent.Action.PASSWORD_RESET_COMPLETED, actor=user, ip=ip, target=f"user:{user.pk}")
