"""Shapes shared by the gateway and provider plugins.

Plugins know nothing of Django: they receive a :class:`ProviderCall`, answer with an
:class:`UpstreamResponse` whose body is an async iterator of bytes, and report :class:`Usage`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any, ClassVar, Literal, Protocol, TypeGuard

from plugins.errors import PluginConfigurationError

Modality = Literal["text", "image", "audio"]
MODALITIES: tuple[Modality, ...] = ("text", "image", "audio")


def is_modality(value: str) -> TypeGuard[Modality]:
    """Whether ``value`` names a modality (an operator's setting, a model row)."""
    return value in MODALITIES


#: What the gateway asks a provider to do. ``native`` forwards a Pollinations URL as it came.
Operation = Literal["chat", "image", "speech", "transcription", "native"]
OPERATION_MODALITY: dict[str, Modality] = {
    "chat": "text",
    "image": "image",
    "speech": "audio",
    "transcription": "audio",
}


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A model a provider serves, under the id clients use."""

    id: str
    modality: Modality
    operations: frozenset[str]
    aliases: tuple[str, ...] = ()
    owned_by: str = ""
    #: Free-form capability flags shown in model lists: ``tools``, ``json``, ``vision``, ``stream``, ``voices``…
    capabilities: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PriceRule:
    """Price of one model in credit micro-units (1 credit = 1,000,000 units), read by billing."""

    model: str
    per_1k_input_tokens: int = 0
    per_1k_output_tokens: int = 0
    per_image: int = 0
    per_audio_second: int = 0
    per_1k_characters: int = 0


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """One configured instance of a provider class (from the environment or the admin)."""

    name: str
    kind: str
    base_url: str
    credential: str = ""
    enabled: bool = True
    priority: int = 100
    connect_timeout: float = 5.0
    read_timeout: float = 300.0
    #: client-facing model id → upstream model id
    model_aliases: Mapping[str, str] = field(default_factory=dict)
    #: extra models served (for generic providers): id → modality
    extra_models: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    #: why the stored credential could not be read: the provider is then skipped, loudly
    credential_error: str = ""


_SETTINGS_FIELDS = frozenset(f.name for f in fields(ProviderSettings))


@dataclass(slots=True)
class ProviderCall:
    """One request to an upstream, as the gateway has validated and (possibly) amended it."""

    operation: Operation
    model: str
    modality: Modality
    request_id: str
    #: Parsed JSON body for OpenAI-shaped operations (plugins may amend it in ``mcp_request``).
    payload: dict[str, Any] | None = None
    #: Raw body for multipart uploads and native passthrough.
    body: bytes | None = None
    content_type: str | None = None
    stream: bool = False
    #: Native passthrough: HTTP method, the upstream-relative raw path and query (already stripped of keys).
    method: str = "POST"
    raw_path: str = ""
    raw_query: str = ""
    #: Which Pollinations host family a native path belongs to: ``gen``, ``image`` or ``text``.
    host: str = "gen"
    #: Client headers the operator chose to forward upstream (``MCP_FORWARD_HEADERS``), e.g. tracing.
    forward_headers: dict[str, str] = field(default_factory=dict)
    #: The organisation the call is made for, set by the gateway (breakers count failures per organisation).
    organization_id: int | None = None
    #: ``time.monotonic()`` by which the whole answer must have arrived (0: none); set by the gateway.
    deadline: float = 0.0


@dataclass(slots=True)
class Usage:
    """What an answer consumed, as reported by the upstream or counted by the gateway."""

    input_tokens: int = 0
    output_tokens: int = 0
    images: int = 0
    audio_seconds: float = 0.0
    characters: int = 0
    #: ``upstream`` when the provider reported it, ``counted`` when the gateway estimated it.
    source: str = "upstream"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who made a request: the organisation it is billed to, the API key and the person behind it."""

    organization_id: int
    key_id: int | None = None
    user_id: int | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a request ended, as the ``mcp_response`` hook sees it."""

    provider: str
    status: int
    usage: Usage | None
    cache_hit: bool = False
    latency_ms: float = 0.0


@dataclass(slots=True)
class UpstreamResponse:
    """An upstream answer whose body has not been read yet."""

    status: int
    content_type: str
    headers: list[tuple[str, str]]
    body: AsyncIterator[bytes]
    close: Callable[[], Awaitable[None]]
    #: The body's declared length (``Content-Length``), when the upstream declared one.
    length: int | None = None
    #: The whole body, when the gateway has already read it (a JSON answer checked before relaying).
    buffered: bytes | None = None


class Provider:
    """Base class of every provider; plugins subclass it, or ``OpenAICompatibleProvider`` for OpenAI-like APIs.

    A class describes a *kind* of provider; each configured instance (:class:`ProviderSettings`)
    becomes one object. Subclasses set the class attributes and implement :meth:`open`.
    """

    kind: ClassVar[str] = ""
    version: ClassVar[str] = "0"
    #: Inclusive range of gateway versions this provider was written for.
    min_gateway_version: ClassVar[str] = "0.1"
    max_gateway_version: ClassVar[str | None] = None
    modalities: ClassVar[frozenset[str]] = frozenset()
    #: Settings the instance cannot work without (validated at start-up) and defaults for the rest.
    required_settings: ClassVar[tuple[str, ...]] = ()
    default_options: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, settings: ProviderSettings) -> None:
        self.settings = type(self).validate(settings)
        self.name = settings.name

    @classmethod
    def supports_gateway(cls, gateway_version: str) -> bool:
        """Whether ``gateway_version`` lies in ``[min_gateway_version, max_gateway_version]``.

        Versions compare by their first three numbers, missing ones read as 0: a maximum of
        ``"0.1"`` admits ``0.1.0`` but not ``0.1.1``.
        """
        version = version_tuple(gateway_version)
        if version < version_tuple(cls.min_gateway_version):
            return False
        return cls.max_gateway_version is None or version <= version_tuple(cls.max_gateway_version)

    @classmethod
    def validate(cls, settings: ProviderSettings) -> ProviderSettings:
        """A new, frozen copy of ``settings`` with :attr:`default_options` applied under its options.

        :raises plugins.errors.PluginConfigurationError: naming every required setting that is empty. A
            required setting is a :class:`ProviderSettings` field (``base_url``, ``credential``) or a key
            of its ``options``.
        """
        options = {**cls.default_options, **settings.options}
        missing = [
            name
            for name in cls.required_settings
            if not (getattr(settings, name) if name in _SETTINGS_FIELDS else options.get(name))
        ]
        if missing:
            raise PluginConfigurationError(
                f"Provider {settings.name!r} ({cls.kind}) needs {', '.join(missing)}: set it in the admin."
            )
        return replace(
            settings,
            options=MappingProxyType(options),
            model_aliases=MappingProxyType(dict(settings.model_aliases)),
            extra_models=MappingProxyType(dict(settings.extra_models)),
        )

    @classmethod
    def default_instances(cls, env: Mapping[str, Any]) -> list[ProviderSettings]:
        """Instances that exist without any admin configuration (e.g. Pollinations from the environment)."""
        return []

    def models(self) -> list[ModelInfo]:
        """The models this instance serves."""
        raise NotImplementedError

    def prices(self) -> list[PriceRule]:
        """Default price rules; billing lets operators override them."""
        return []

    async def open(self, call: ProviderCall) -> UpstreamResponse:
        """Send the call upstream and return once the status and headers are known.

        :raises plugins.errors.UpstreamError: for failures; ``retryable`` says if another try may help.
        """
        raise NotImplementedError

    def usage(self, call: ProviderCall, status: int, headers: list[tuple[str, str]], body_tail: bytes) -> Usage | None:
        """Usage of a completed answer, from the upstream's headers or the tail of its body."""
        return None

    async def health(self) -> dict[str, Any]:
        """A cheap probe of the upstream; raise on failure."""
        return {}

    async def aclose(self) -> None:
        """Release connections (called at shutdown and when the configuration changes)."""

    async def close_loop_sessions(self) -> None:
        """Release connections bound to the running event loop (called when that loop is about to end)."""


@dataclass(frozen=True, slots=True)
class JobCallback:
    """A provider's report that an asynchronous job finished (see the ``mcp_job_callback`` hook)."""

    #: The gateway job id (the provider received ``job-<id>`` as the request id).
    job_id: str
    succeeded: bool
    content_type: str = "application/octet-stream"
    result: bytes | None = None
    error_message: str = ""


@dataclass(frozen=True, slots=True)
class Collected:
    """What a payment collector obtained: an amount (micro-credits) and the payment provider's reference."""

    amount: int
    reference: str


class PaymentCollector(Protocol):
    """A way to charge invoices (see the ``mcp_payment_collectors`` hook)."""

    #: The name operators choose it by (``manual`` is built in; a plugin's may replace it).
    name: str

    def collect(self, invoice: Any) -> Collected | None:
        """Charge ``invoice``'s outstanding total (a ``billing.models.Invoice``).

        :returns: what was collected, or ``None`` when nothing was (e.g. awaiting a transfer).
        """


def version_tuple(version: str) -> tuple[int, int, int]:
    """``"0.1"`` → ``(0, 1, 0)``; anything after the numbers (``rc1``, ``.dev0``) is ignored."""
    numbers = [int(n) for n in re.findall(r"\d+", version.split("+")[0])[:3]]
    major, minor, patch = [*numbers, 0, 0, 0][:3]
    return major, minor, patch
