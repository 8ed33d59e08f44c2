"""The OpenID Connect sign-in and callback URLs (allauth's, with our adapter).

allauth imports this module for the provider's URLs (``GatewayOpenIDConnectProvider.get_package()``). An
unreachable provider becomes the same authentication error page at the click and at the callback,
instead of an exception.
"""

from __future__ import annotations

from collections.abc import Callable

import requests
from allauth.account.internal.decorators import login_not_required
from allauth.socialaccount import app_settings
from allauth.socialaccount.helpers import render_authentication_error
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView, OAuth2View
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import include, path, re_path

from accounts.oidc.provider import GatewayOpenIDConnectAdapter


def _view(view_class: type[OAuth2View]) -> Callable[[HttpRequest, str], HttpResponse]:
    @login_not_required
    def view(request: HttpRequest, provider_id: str) -> HttpResponse:
        adapter = GatewayOpenIDConnectAdapter(request, provider_id)
        try:
            return view_class.adapter_view(adapter)(request)
        except SocialApp.DoesNotExist as exc:
            raise Http404 from exc
        except requests.RequestException as exc:
            # allauth catches these only around the token exchange; the discovery document is read earlier.
            return render_authentication_error(request, adapter.get_provider(), exception=exc)

    return view


login = _view(OAuth2LoginView)
callback = _view(OAuth2CallbackView)

urlpatterns = [
    re_path(
        r"^(?P<provider_id>[^/]+)/",
        include(
            [
                path("login/", login, name="openid_connect_login"),
                path("login/callback/", callback, name="openid_connect_callback"),
            ]
        ),
    )
]
if app_settings.OPENID_CONNECT_URL_PREFIX:
    urlpatterns = [path(f"{app_settings.OPENID_CONNECT_URL_PREFIX}/", include(urlpatterns))]
