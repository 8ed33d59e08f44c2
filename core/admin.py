"""The back-office's base classes: a forged form value is a refusal on the page, never a 500.

Django's admin passes two posted values to the database without converting them first: the ids
an action is applied to (``_selected_action``) and, when an invalid form is shown again, the value
of an autocomplete field. A value that is not an id of that model (``"zzz"`` for an integer or
UUID key) then raised inside the query. Here such values are dropped before they reach a query:
an action on them selects nothing ("Items must be selected…"), and the form shows its
"Select a valid choice" error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.core.exceptions import ValidationError
from django.db.models import Field, ForeignKey, ManyToManyField, QuerySet
from django.forms import ModelChoiceField, ModelMultipleChoiceField
from django.http import HttpRequest, HttpResponse


def _is_value_of(field: Field[Any, Any], value: object) -> bool:
    try:
        field.to_python(value)
    except ValidationError:
        return False
    return True


def _known_values(field: ForeignKey[Any, Any] | ManyToManyField[Any, Any], value: Sequence[str]) -> list[str]:
    """The selected values that the field's target can hold (the others cannot name a row)."""
    return [item for item in value if _is_value_of(field.target_field, item)]


class SafeAutocompleteSelect(AutocompleteSelect):
    """An autocomplete widget that looks up only the selected values its field can hold."""

    def optgroups(
        self, name: str, value: Sequence[str], attr: dict[str, Any] | None = None
    ) -> list[tuple[str | None, list[dict[str, Any]], int | None]]:
        return super().optgroups(name, _known_values(self.field, value), attr)


class SafeAutocompleteSelectMultiple(AutocompleteSelectMultiple):
    """The same for a many-to-many field."""

    def optgroups(
        self, name: str, value: Sequence[str], attr: dict[str, Any] | None = None
    ) -> list[tuple[str | None, list[dict[str, Any]], int | None]]:
        return super().optgroups(name, _known_values(self.field, value), attr)


class ModelAdmin(admin.ModelAdmin):
    """The project's ``ModelAdmin``: ids that are not ids never reach a query (put it before another base)."""

    def response_action(
        self, request: HttpRequest, queryset: QuerySet[Any], *args: Any, **kwargs: Any
    ) -> HttpResponse | None:
        selected = request.POST.getlist(ACTION_CHECKBOX_NAME)
        valid = [item for item in selected if _is_value_of(self.model._meta.pk, item)]
        if valid != selected:
            post = request.POST.copy()
            post.setlist(ACTION_CHECKBOX_NAME, valid)
            request.POST = post  # type: ignore[assignment]
        return super().response_action(request, queryset, *args, **kwargs)

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField[Any] | None:
        return _guarded(super().formfield_for_foreignkey(db_field, request, **kwargs))

    def formfield_for_manytomany(
        self, db_field: ManyToManyField[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelMultipleChoiceField[Any] | None:
        return _guarded(super().formfield_for_manytomany(db_field, request, **kwargs))


#: Django's autocomplete widgets and the guarded ones that replace them.
_SAFE_WIDGETS: dict[type, type] = {
    AutocompleteSelect: SafeAutocompleteSelect,
    AutocompleteSelectMultiple: SafeAutocompleteSelectMultiple,
}
_FormField = TypeVar("_FormField", ModelChoiceField, ModelMultipleChoiceField)


def _guarded(formfield: _FormField | None) -> _FormField | None:
    """``formfield`` with its autocomplete widget (if any) swapped for the guarded one."""
    if formfield is not None and (safe := _SAFE_WIDGETS.get(type(formfield.widget))) is not None:
        formfield.widget.__class__ = safe
    return formfield


def guard_installed_admins(site: admin.AdminSite) -> None:
    """Give the installed apps' admins (allauth, the token blacklist, Django's groups…) the same guard.

    Called once the admin modules are loaded (:mod:`mcp_site.urls`): each ``ModelAdmin`` registered
    without :class:`ModelAdmin` is registered again as a subclass of both.
    """
    for model, model_admin in list(site._registry.items()):
        if isinstance(model_admin, ModelAdmin):
            continue
        admin_class = type(model_admin)
        site.unregister(model)
        site.register(model, type(admin_class.__name__, (ModelAdmin, admin_class), {"__module__": __name__}))


__all__ = ["ModelAdmin", "SafeAutocompleteSelect", "SafeAutocompleteSelectMultiple", "guard_installed_admins"]
