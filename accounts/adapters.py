"""django-allauth adapters: who may sign up, where people land, and what a failed third-party sign-in does.

Sign-up follows ``REGISTRATION_MODE`` for e-mail and OpenID Connect alike: in ``invite`` mode a pending
invitation for the e-mail the provider verified lets the person in and into the organisation.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialLogin
from allauth.socialaccount.providers.base.constants import AuthError
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme
from requests import HTTPError, RequestException

from accounts.models import AuditEvent, User
from accounts.oidc.failures import Reason, sign_in_failed
from accounts.selectors import invitation_pending_for_email
from accounts.services import audit_event_record, invitation_accept_for_verified_email
from accounts.throttling import client_ip

_NAME_LENGTH = User._meta.get_field("full_name").max_length


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return settings.REGISTRATION_MODE == "open"

    def is_safe_url(self, url: str) -> bool:
        """Only our own origin: a path, or an absolute URL with this request's scheme and host."""
        request = context.request
        if urlsplit(url).scheme not in ("", request.scheme):
            return False
        return url_has_allowed_host_and_scheme(
            url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )


def _verified_email(sociallogin: SocialLogin) -> str:
    """The e-mail the provider vouches for (``email_verified``), lower-cased; empty when there is none."""
    return next((a.email.strip().lower() for a in sociallogin.email_addresses if a.verified), "")


def _claimed_email(sociallogin: SocialLogin) -> str:
    return next((a.email.strip().lower() for a in sociallogin.email_addresses), "")


def _refuse(request: HttpRequest, sociallogin: SocialLogin, reason: Reason) -> ImmediateHttpResponse:
    response = sign_in_failed(request, reason=reason, provider=sociallogin.provider, email=_claimed_email(sociallogin))
    return ImmediateHttpResponse(response)


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        """Refuse a new account or a link by e-mail unless the provider verified the address.

        Someone already linked (matched by the provider's subject) signs in as before; an existing account
        is linked only through a verified address (allauth's e-mail authentication).
        """
        if not sociallogin.is_existing and not _verified_email(sociallogin):
            raise _refuse(request, sociallogin, Reason.EMAIL_UNVERIFIED)
        user = sociallogin.user
        if sociallogin.is_existing and user is not None and not user.full_name:
            name = _name_claim(sociallogin)
            if name:
                user.full_name = name
                user.save(update_fields=["full_name"])

    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        if settings.REGISTRATION_MODE == "open":
            return True
        if invitation_pending_for_email(email=_verified_email(sociallogin)).exists():
            return True
        raise _refuse(request, sociallogin, Reason.SIGNUP_REFUSED)

    def populate_user(self, request: HttpRequest, sociallogin: SocialLogin, data: dict[str, Any]) -> User:
        user = super().populate_user(request, sociallogin, data)
        user.full_name = (data.get("name") or "").strip()[:_NAME_LENGTH]
        return user

    @transaction.atomic
    def save_user(self, request: HttpRequest, sociallogin: SocialLogin, form: Any = None) -> User:
        """Create the account, audit it, and join the organisations that invited the verified address."""
        user = super().save_user(request, sociallogin, form)
        ip = client_ip(request)
        audit_event_record(
            action=AuditEvent.Action.USER_REGISTERED,
            actor=user,
            ip=ip,
            target=f"user:{user.pk}",
            detail={"via": "oidc", "provider": sociallogin.account.provider},
        )
        invitation_accept_for_verified_email(user=user, ip=ip)
        return user

    def on_authentication_error(
        self,
        request: HttpRequest,
        provider: Any,
        error: str | None = None,
        exception: BaseException | None = None,
        extra_context: dict[str, Any] | None = None,
    ) -> None:
        """Every failure before the provider's answer is accepted: log, audit, and show the one failure page."""
        raise ImmediateHttpResponse(
            sign_in_failed(
                request, reason=_reason(error, exception, extra_context or {}), provider=provider, exception=exception
            )
        )


def _name_claim(sociallogin: SocialLogin) -> str:
    data = sociallogin.account.get_provider_account().get_user_data() if sociallogin.account else None
    return str((data or {}).get("name") or "").strip()[:_NAME_LENGTH]


def _reason(error: str | None, exception: BaseException | None, extra_context: dict[str, Any]) -> Reason:
    if isinstance(exception, RequestException) and not isinstance(exception, HTTPError):
        return Reason.PROVIDER_UNREACHABLE  # no answer at all (an HTTP error is an answer: PROVIDER_ERROR)
    if exception is None and error == AuthError.CANCELLED:
        return Reason.CANCELLED
    if exception is None and "state" not in extra_context:
        return Reason.STATE_MISMATCH
    return Reason.PROVIDER_ERROR
