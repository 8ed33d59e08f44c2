"""Provider instances configured by operators in the admin."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from plugins.types import MODALITIES


def _validate_object(value: object) -> None:
    if not isinstance(value, dict):
        raise ValidationError('Use a JSON object, e.g. {"deployment": "eastus"}.')


def _mapping_of_strings(value: object) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValidationError('Use a JSON object of strings, e.g. {"gpt-4o": "openai"}.')
    return value


def _validate_mapping_of_strings(value: object) -> None:
    _mapping_of_strings(value)


def _validate_models(value: object) -> None:
    bad = sorted(m for m in _mapping_of_strings(value).values() if m not in MODALITIES)
    if bad:
        raise ValidationError(f"Unknown modality {bad[0]!r}: use one of {', '.join(MODALITIES)}.")


class ProviderConfig(models.Model):
    """One provider instance. A row named like a built-in (``pollinations-text``) overrides its defaults."""

    name = models.SlugField(max_length=64, unique=True, help_text="Unique name, e.g. azure-eastus.")
    kind = models.CharField(max_length=64, help_text="The provider class, as declared by its plugin.")
    enabled = models.BooleanField(default=True)
    priority = models.PositiveIntegerField(default=100, help_text="Lower is tried first for the same model.")
    base_url = models.URLField(max_length=500, blank=True)
    credential_encrypted = models.TextField(blank=True, editable=False)
    connect_timeout = models.FloatField(default=5.0, validators=[MinValueValidator(0.1), MaxValueValidator(60)])
    read_timeout = models.FloatField(default=300.0, validators=[MinValueValidator(1), MaxValueValidator(3600)])
    model_aliases = models.JSONField(default=dict, blank=True, validators=[_validate_mapping_of_strings])
    served_models = models.JSONField(
        default=dict, blank=True, validators=[_validate_models], help_text='Extra models served: {"id": "text"}.'
    )
    options = models.JSONField(
        default=dict, blank=True, validators=[_validate_object], help_text="The kind's own settings (see its plugin)."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["priority", "name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Empty JSON means none; only plain HTTP(S) base URLs (the installed-kind check is the service's).

        Base URLs are trusted operator input: the gateway sends requests, credential included, to
        whatever host is set here, internal addresses too. Only staff allowed to change provider
        configurations can set them.
        """
        # An emptied JSON box in a form arrives as None; the columns are NOT NULL and mean "none".
        self.model_aliases = {} if self.model_aliases is None else self.model_aliases
        self.served_models = {} if self.served_models is None else self.served_models
        self.options = {} if self.options is None else self.options
        if self.base_url and urlsplit(self.base_url).scheme not in ("http", "https"):
            raise ValidationError({"base_url": "Use an http:// or https:// URL."})
