"""Dashboard forms: they only shape input; every rule is the service's (its errors land on the field it names)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

from django import forms
from django.utils import timezone

from accounts.models import ApiKey
from accounts.roles import MODALITIES
from accounts.services import KNOWN_LIMITS
from core.errors import ApplicationError

LIMIT_LABELS = {
    "requests_per_minute": "Requests per minute",
    "requests_per_day": "Requests per day",
    "concurrent": "Concurrent requests",
    "tokens_per_minute": "Tokens per minute",
    "credits_per_month": "Credits per month (micro-units)",
    "job_priority": "Job priority (0–100)",
    "max_running_jobs": "Jobs running at once",
}


def service_error_to_form(form: forms.Form, error: ApplicationError) -> None:
    """Show a service's refusal on the field it names (``param``, or the form's own name for it), or above the form."""
    param = error.param or ""
    field_for_param = getattr(form, "field_for_param", None)
    field = field_for_param(param) if field_for_param else param
    form.add_error(field if field in form.fields else None, error.message)


_T = TypeVar("_T")

#: The status of a page showing a refused form again, its errors on the fields. 200, not 400: a
#: refusal is an expected answer the person acts on, and browsers report every page that loads
#: with a 4xx status as a console error.
REFUSED_FORM_STATUS = 200


def form_submit(form: forms.Form, call: Callable[[dict[str, Any]], _T]) -> _T | None:
    """Validate ``form`` and hand its cleaned data to one service call.

    :returns: what the service returned, or ``None`` when the form is invalid or the service
        refused (its error then shows on the field it names, for the page to render again).
    """
    if not form.is_valid():
        return None
    try:
        return call(form.cleaned_data)
    except ApplicationError as exc:
        service_error_to_form(form, exc)
        return None


class ApiKeyForm(forms.Form):
    """Create or edit an API key: name, scopes, models, per-key limits and expiry (empty limits: the plan's)."""

    name = forms.CharField(label="Name", max_length=100)
    scopes = forms.MultipleChoiceField(
        label="Scopes",
        choices=[(m, m.title()) for m in MODALITIES],
        widget=forms.CheckboxSelectMultiple,
        initial=list(MODALITIES),
    )
    allowed_models = forms.CharField(
        label="Allowed models",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One model per line; empty: every model the plan allows.",
    )
    expires_on = forms.DateField(
        label="Expires on", required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="Empty: never."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in KNOWN_LIMITS:
            self.fields[f"limit_{name}"] = forms.IntegerField(
                label=LIMIT_LABELS.get(name, name), required=False, min_value=0
            )

    @staticmethod
    def initial_for(api_key: ApiKey) -> dict[str, Any]:
        """The form's values for an existing key (to edit it)."""
        expires = api_key.expires_at
        return {
            "name": api_key.name,
            "scopes": list(api_key.scopes),
            "allowed_models": "\n".join(api_key.allowed_models),
            "expires_on": None if expires is None else timezone.localtime(expires).date(),
            **{f"limit_{name}": value for name, value in (api_key.limits or {}).items()},
        }

    @staticmethod
    def field_for_param(param: str) -> str:
        """The field showing a service error about ``param`` (``limits.concurrent`` → ``limit_concurrent``)."""
        if param.startswith("limits."):
            return f"limit_{param.removeprefix('limits.')}"
        return {"expires_at": "expires_on"}.get(param, param)

    def limit_fields(self) -> list:
        return [self[f"limit_{name}"] for name in KNOWN_LIMITS]

    def service_arguments(self) -> dict:
        """The cleaned data as :func:`accounts.services.api_key_create` takes it."""
        data = self.cleaned_data
        expires = data.get("expires_on")
        return {
            "name": data["name"],
            "scopes": data["scopes"],
            "allowed_models": [line.strip() for line in data.get("allowed_models", "").splitlines() if line.strip()],
            "limits": {name: data[f"limit_{name}"] for name in KNOWN_LIMITS if data.get(f"limit_{name}") is not None},
            "expires_at": None
            if expires is None
            else dt.datetime.combine(expires, dt.time(23, 59, 59), tzinfo=timezone.get_current_timezone()),
        }

    def update_arguments(self, api_key: ApiKey) -> dict:
        """The cleaned data as :func:`accounts.services.api_key_update` takes it.

        An expiry left on the key's own day is not sent, so saving another change never moves it
        to the end of that day (nor trips over a key that has already expired).
        """
        arguments = self.service_arguments()
        current = api_key.expires_at
        if current is not None and self.cleaned_data.get("expires_on") == timezone.localtime(current).date():
            del arguments["expires_at"]
        return arguments
