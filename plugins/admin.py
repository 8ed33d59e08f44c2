"""Back-office for providers: their configuration, the installed plugins and the circuit breakers.

Edits go through :mod:`plugins.services`, so they are validated, encrypted and reloaded the same way
everywhere. The stored credential is write-only: the form shows whether one is set, never its value.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from core import breakers
from core.admin import ModelAdmin
from plugins import manager, services
from plugins.models import ProviderConfig
from plugins.registry import (
    build_registry,
    builtin_provider_settings,
    duplicate_provider_kinds,
    incompatible_provider_classes,
    plugin_manager,
    provider_classes,
)
from plugins.selectors import provider_settings_list_sync
from plugins.types import Provider


class ProviderConfigForm(forms.ModelForm):
    kind = forms.ChoiceField(help_text="The provider class, as declared by an installed plugin.")
    base_url = forms.URLField(required=False, max_length=500, assume_scheme="https")
    credential = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only: leave empty to keep the stored credential. Stored encrypted.",
    )
    clear_credential = forms.BooleanField(required=False, help_text="Remove the stored credential.")

    class Meta:
        model = ProviderConfig
        fields = [
            "name",
            "kind",
            "enabled",
            "priority",
            "base_url",
            "connect_timeout",
            "read_timeout",
            "model_aliases",
            "served_models",
            "options",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kinds = sorted(provider_classes())
        current = self.instance.kind
        if current and current not in kinds:
            # Keep a row whose plugin was uninstalled editable: the service still refuses to save it.
            kinds.append(current)
        kind_field = self.fields["kind"]
        assert isinstance(kind_field, forms.ChoiceField)  # declared above
        kind_field.choices = [(kind, kind) for kind in kinds]

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if cleaned.get("kind"):
            try:
                services.provider_kind_validate(kind=cleaned["kind"])
            except ValidationError as exc:
                self.add_error(None, exc)  # the error names its field: shown next to "kind"
        return cleaned

    def credential_to_save(self) -> str | None:
        """What to hand the service: ``None`` keeps the stored credential, ``""`` clears it."""
        if self.cleaned_data.get("clear_credential"):
            return ""
        return self.cleaned_data.get("credential") or None


@admin.register(ProviderConfig)
class ProviderConfigAdmin(ModelAdmin):
    form = ProviderConfigForm
    list_display = ["name", "kind", "enabled", "priority", "base_url", "credential_state", "circuit_state"]
    list_filter = ["enabled", "kind"]
    search_fields = ["name", "kind", "base_url"]
    readonly_fields = ["credential_state", "updated_at"]
    fieldsets = (
        (None, {"fields": ("name", "kind", "enabled", "priority")}),
        (
            "Upstream",
            {
                "fields": (
                    "base_url",
                    "credential_state",
                    "credential",
                    "clear_credential",
                    "connect_timeout",
                    "read_timeout",
                ),
                "description": "Base URLs are trusted operator input: the gateway connects to whatever "
                "host is set, internal ones included.",
            },
        ),
        ("Models", {"fields": ("model_aliases", "served_models")}),
        ("Provider options", {"fields": ("options",)}),
        (None, {"fields": ("updated_at",)}),
    )
    actions = ["reset_circuit_breakers"]

    @admin.display(description="credential")
    def credential_state(self, obj: ProviderConfig) -> str:
        return "set" if obj.credential_encrypted else "not set"

    @admin.display(description="circuit")
    def circuit_state(self, obj: ProviderConfig) -> str:
        return breakers.states().get(obj.name, "closed")

    def save_model(self, request: HttpRequest, obj: ProviderConfig, form: ProviderConfigForm, change: bool) -> None:
        try:
            services.provider_config_save(config=obj, credential=form.credential_to_save())
        except ValidationError as exc:
            # The form validated the same rules; this only happens when the plugins changed meanwhile.
            self.message_user(request, "; ".join(exc.messages), level=messages.ERROR)

    def delete_model(self, request: HttpRequest, obj: ProviderConfig) -> None:
        services.provider_config_delete(config=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ProviderConfig]) -> None:
        for config in queryset:
            services.provider_config_delete(config=config)

    @admin.action(description="Reset the circuit breakers (every provider, this process)", permissions=["change"])
    def reset_circuit_breakers(self, request: HttpRequest, queryset: QuerySet[ProviderConfig]) -> None:
        # Breakers live in each process's memory: other replicas close theirs after their own trial call.
        breakers.reset()
        self.message_user(request, "Circuit breakers reset in this process.")

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        """The rows, and under them the built-in providers, which run without a row until one overrides them."""
        rows = {
            name: (pk, enabled) for pk, name, enabled in ProviderConfig.objects.values_list("pk", "name", "enabled")
        }
        builtins = []
        for instance in builtin_provider_settings():
            pk, enabled = rows.get(instance.name, (None, instance.enabled))
            builtins.append(
                {
                    "name": instance.name,
                    "kind": instance.kind,
                    "enabled": enabled,
                    "override": pk,
                    "priority": instance.priority,
                    "base_url": instance.base_url,
                }
            )
        return super().changelist_view(request, {**(extra_context or {}), "builtin_providers": builtins})

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.installed_plugins_view)
        return [path("installed-plugins/", view, name="plugins_installed_plugins"), *super().get_urls()]

    def installed_plugins_view(self, request: HttpRequest) -> HttpResponse:
        """Every plugin (name, package, version, hooks, state), skipped classes, and the providers configured now."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        # Built from the configuration as saved now: this process may not have loaded a registry yet.
        configured = build_registry(provider_settings_list_sync())
        circuits = breakers.states()
        context = {
            **self.admin_site.each_context(request),
            "title": "Installed plugins",
            "opts": self.model._meta,
            "plugins": manager.plugin_infos(plugin_manager()),
            "broken": manager.BROKEN,
            "incompatible": sorted(incompatible_provider_classes().items()),
            "duplicates": sorted(duplicate_provider_kinds().items()),
            "kinds": sorted(provider_classes()),
            "providers": [
                {
                    "name": p.name,
                    "kind": p.settings.kind,
                    "priority": p.settings.priority,
                    "models": _model_ids(p),
                    "circuit": circuits.get(p.name, "closed"),
                }
                for p in configured.providers
            ],
            "configuration_errors": configured.errors,
        }
        return TemplateResponse(request, "admin/plugins/installed_plugins.html", context)


def _model_ids(provider: Provider) -> str:
    try:
        return ", ".join(model.id for model in provider.models())
    except Exception as exc:  # noqa: BLE001 - the page shows the failure instead of failing itself.
        return f"models() failed: {type(exc).__name__}"
