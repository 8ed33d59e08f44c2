"""django-allauth adapters: sign-up follows ``REGISTRATION_MODE`` for e-mail and OpenID Connect alike."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.conf import settings
from django.http import HttpRequest


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return settings.REGISTRATION_MODE == "open"


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest, sociallogin) -> bool:
        # Invite-only deployments still let existing users (matched by verified e-mail) sign in.
        return settings.REGISTRATION_MODE == "open"
