"""OpenTelemetry traces, configured only by the standard ``OTEL_*`` variables; off, and free, without them.

``mcp_site.config`` decides whether tracing is on (an exporter is named by
``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or ``OTEL_TRACES_EXPORTER``,
and ``OTEL_SDK_DISABLED`` is not true). Everything else — service name and resource attributes, the
sampler (``OTEL_TRACES_SAMPLER=parentbased_traceidratio``, ``OTEL_TRACES_SAMPLER_ARG=0.1``),
propagators, the exporter's endpoint, headers and timeout, batching — the SDK reads itself.

The hot path calls the helpers below, never the tracer directly: while tracing is off each helper
is one global read returning ``None`` or a shared no-op context, so a request makes no tracer call.

The sampling decision is taken once, at the request's server span, and everything after it obeys:
inside a request that is not sampled, :func:`span` and :func:`start_span` create nothing, and the
library instrumentations (aiohttp, Redis, psycopg) are suppressed, so an unsampled request costs
its server span and little more. The trace context still travels on — to the upstream, into jobs —
with its "not sampled" flag, so the rest of the system agrees with the decision. What an unsampled
request sends on and logs never changes while it runs (it has no span but its server span), so it
is formatted once, when that span starts: nine requests in ten at the default ratio, and each call
through the OpenTelemetry API costs a cold interpreter far more than a loop over it suggests. The
spans of a sampled request are :class:`_LightSpan` objects, which the exporters receive as the SDK's own.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from contextvars import ContextVar, Token
from typing import Any, NamedTuple

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, Context
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, SpanKind, Status, StatusCode, TraceFlags, Tracer
from opentelemetry.trace.propagation import _SPAN_KEY

__all__ = [
    "INSTRUMENTATIONS",
    "ServerSpan",
    "SpanKind",
    "add_trace_ids",
    "annotate",
    "carrier_context",
    "configure",
    "disable",
    "enabled",
    "end_server_span",
    "end_span",
    "exemplar",
    "inject",
    "span",
    "start_server_span",
    "start_span",
    "trace_ids",
]

SERVICE_NAME = "mcp-gateway"
INSTRUMENTATION_NAME = "mcp_gateway"
#: Libraries traced by their standard OpenTelemetry instrumentation when tracing is on, by the names
#: ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` uses for them.
INSTRUMENTATIONS = ("redis", "psycopg", "django")
#: The request headers that carry a caller's trace context (W3C Trace Context and Baggage).
_CONTEXT_HEADERS = (b"traceparent", b"tracestate", b"baggage")
_NOOP: contextlib.nullcontext[None] = contextlib.nullcontext()
_tracer: Tracer | None = None
_provider: Any = None
_instrumentors: list[Any] = []

#: Whether the current request's trace is sampled, set with its server span: the hot path's spans
#: ask this instead of looking the decision up through the OpenTelemetry context each time.
_request_sampled: ContextVar[bool | None] = ContextVar("mcp_request_sampled", default=None)


class _UnsampledIds(NamedTuple):
    """An unsampled request's ids as its log lines carry them, and the headers that carry its context on."""

    trace_id: str
    span_id: str
    headers: dict[str, str] | None  # None: the configured propagators write them (not W3C alone, or baggage)


_unsampled_ids: ContextVar[_UnsampledIds | None] = ContextVar("mcp_unsampled_ids", default=None)
#: Whether the global propagator is the default one (W3C Trace Context and Baggage): only then can an
#: unsampled request's ``traceparent`` be written without asking it.
_w3c_propagation = False

#: When the sampler decides a new trace by its id alone (TraceIdRatioBased, as the root of the default
#: ParentBased): the bound it compares the id's low 64 bits with. ``None``: ask the SDK every time.
_root_bound: int | None = None
_TRACE_ID_LIMIT = (1 << 64) - 1
_trace_ids = RandomIdGenerator()
_SCOPE = InstrumentationScope(INSTRUMENTATION_NAME)
_UNSET = Status(StatusCode.UNSET)

ServerSpan = tuple["Span | _LightSpan", Token[Context], Token[bool | None], Token[_UnsampledIds | None] | None]


def enabled() -> bool:
    return _tracer is not None


def configure(
    *,
    exporters: Iterable[str] = ("otlp",),
    exporter: Any = None,
    sampler: Any = None,
    instrument: Iterable[str] = INSTRUMENTATIONS,
) -> None:
    """Turn tracing on in this process: an SDK tracer provider, its exporters, the instrumentations.

    :param exporters: ``otlp`` (OTLP over HTTP/protobuf) and/or ``console``, batched.
    :param exporter: a span exporter used instead, unbatched (tests pass an in-memory one).
    :param sampler: default: the SDK's, from ``OTEL_TRACES_SAMPLER`` (parent-based always-on when unset).
    :param instrument: which of :data:`INSTRUMENTATIONS` to switch on.
    """
    global _tracer, _provider, _w3c_propagation, _root_bound
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    disable()
    resource = Resource.create()  # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": SERVICE_NAME}))
    provider = TracerProvider(resource=resource, sampler=sampler)
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    for name in exporters if exporter is None else ():
        provider.add_span_processor(BatchSpanProcessor(_exporter(name)))
    _provider = provider
    _tracer = provider.get_tracer(INSTRUMENTATION_NAME)
    _w3c_propagation = _is_w3c(propagate.get_global_textmap())
    _root_bound = _ratio_bound(provider.sampler)
    _instrument(provider, set(instrument))


def disable() -> None:
    """Turn tracing off again (tests): remove the instrumentations, flush and shut the provider down."""
    global _tracer, _provider
    for instrumentor in _instrumentors:
        instrumentor.uninstrument()
    _instrumentors.clear()
    if _provider is not None:
        _provider.shutdown()
    _tracer = _provider = None


def _is_w3c(propagator: Any) -> bool:
    from opentelemetry.baggage.propagation import W3CBaggagePropagator
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    kinds = [type(each) for each in getattr(propagator, "_propagators", [propagator])]
    return kinds == [TraceContextTextMapPropagator, W3CBaggagePropagator]


def _ratio_bound(sampler: Any) -> int | None:
    """The bound a new trace's id is sampled under, if ``sampler`` decides new traces by their id alone."""
    from opentelemetry.sdk.trace.sampling import Decision, ParentBased, StaticSampler, TraceIdRatioBased

    if isinstance(sampler, ParentBased) and type(sampler).should_sample is ParentBased.should_sample:
        sampler = sampler._root  # with no parent, ParentBased asks its root
    if type(sampler) is TraceIdRatioBased:
        return sampler.bound
    if type(sampler) is StaticSampler:
        return 0 if sampler._decision is Decision.DROP else _TRACE_ID_LIMIT + 1  # never, or always
    return None  # a sampler of its own: the SDK asks it


def _exporter(name: str) -> Any:
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    from core.otlp_encoding import OtlpHttpSpanExporter

    return OtlpHttpSpanExporter()


def _instrument(provider: Any, names: set[str]) -> None:
    instrumentors = []
    if "redis" in names:
        from opentelemetry.instrumentation.redis import RedisInstrumentor

        instrumentors.append(RedisInstrumentor())
    if "psycopg" in names:
        from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

        instrumentors.append(PsycopgInstrumentor())
    if "django" in names:
        # Only the stock handler's middleware stack (admin, management API, dashboard): the hot path
        # has no middleware and opens its server span itself (start_server_span).
        from opentelemetry.instrumentation.django import DjangoInstrumentor

        instrumentors.append(DjangoInstrumentor())
    for instrumentor in instrumentors:
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(tracer_provider=provider)
            _instrumentors.append(instrumentor)


# --- Spans ---------------------------------------------------------------------------------------


def start_server_span(method: str, headers: Mapping[bytes, bytes]) -> ServerSpan | None:
    """Open and make current the span of one HTTP request, continuing the caller's W3C trace context.

    The span is named and labelled by the route when it ends (:func:`end_server_span`); the raw path
    is never recorded (it may hold a prompt or a key).
    """
    if _tracer is None:
        return None
    carrier = {name.decode("latin-1"): headers[name].decode("latin-1") for name in _CONTEXT_HEADERS if name in headers}
    parent = propagate.extract(carrier) if carrier else None
    if parent is None and _root_bound is not None and not trace.get_current_span().get_span_context().is_valid:
        server = _new_trace(_tracer, _root_bound, method)
    else:
        server = _tracer.start_span(
            method, context=parent, kind=SpanKind.SERVER, attributes={"http.request.method": method}
        )
    sampled = server.is_recording()
    ids_token = None
    # The span current, in one copy of the context (set_span_in_context and set_value make one each).
    base = otel_context.get_current() if parent is None else parent
    if sampled:
        current = Context({**base, _SPAN_KEY: server})
    else:
        # Not sampled: the libraries' instrumentations would only build spans nobody keeps.
        current = Context({**base, _SPAN_KEY: server, _SUPPRESS_INSTRUMENTATION_KEY: True})
        ids_token = _unsampled_ids.set(_ids_of(server.get_span_context(), baggage=b"baggage" in headers))
    return server, otel_context.attach(current), _request_sampled.set(sampled), ids_token


def _new_trace(tracer: Tracer, bound: int, method: str) -> Span:
    """The server span of a request that starts a trace, sampled as the SDK's ratio sampler would.

    What the SDK's ``start_span`` does for a new trace, without its generic work: about half of what
    tracing costs a request that is not sampled, and a sampled one's server span is a :class:`_LightSpan`.
    """
    trace_id = _trace_ids.generate_trace_id()
    if trace_id & _TRACE_ID_LIMIT < bound:
        return _LightSpan(method, {"http.request.method": method}, SpanKind.SERVER, None, trace_id)
    context = SpanContext(
        trace_id,
        _trace_ids.generate_span_id(),
        is_remote=False,
        trace_flags=TraceFlags(TraceFlags.RANDOM_TRACE_ID),  # the SDK's flags for an unsampled random id
    )
    return NonRecordingSpan(context)


def _ids_of(context: trace.SpanContext, *, baggage: bool) -> _UnsampledIds:
    trace_id, span_id = format(context.trace_id, "032x"), format(context.span_id, "016x")
    headers = None
    if _w3c_propagation and not baggage:
        # What the W3C Trace Context propagator writes (the Baggage one writes nothing without baggage).
        headers = {"traceparent": f"00-{trace_id}-{span_id}-{context.trace_flags:02x}"}
        if context.trace_state:
            headers["tracestate"] = context.trace_state.to_header()
    return _UnsampledIds(trace_id, span_id, headers)


def end_server_span(handle: ServerSpan | None, *, method: str, route: str, status: int, request_id: str) -> None:
    if handle is None:
        return
    server, token, sampled, ids_token = handle
    if ids_token is None:
        server.update_name(f"{method} {route}")
        server.set_attributes({"http.route": route, "http.response.status_code": status, "mcp.request_id": request_id})
        if status >= 500:
            server.set_status(Status(StatusCode.ERROR))
        server.end()
    else:  # not sampled: the span records nothing
        _unsampled_ids.reset(ids_token)
    otel_context.detach(token)
    _request_sampled.reset(sampled)


def span(
    name: str, attributes: Mapping[str, Any] | None = None, *, kind: SpanKind = SpanKind.INTERNAL
) -> contextlib.AbstractContextManager[Span | _LightSpan | None]:
    """A child of the current span, current while the ``with`` block runs; yields ``None`` when off.

    An exception leaving the block is recorded on the span and marks it as an error.
    """
    recording = _child_recording()
    if recording:
        return _LightSpan.child(name, attributes, kind)
    if recording is None and _tracer is not None:  # None implies a tracer; the second test is for mypy
        return _tracer.start_as_current_span(name, attributes=attributes, kind=kind)
    return _NOOP


def start_span(
    name: str, attributes: Mapping[str, Any] | None = None, *, kind: SpanKind = SpanKind.INTERNAL
) -> Span | _LightSpan | None:
    """A child of the current span that the caller ends with :func:`end_span`; ``None`` when off."""
    recording = _child_recording()
    if recording:
        return _LightSpan.child(name, attributes, kind)
    if recording is None and _tracer is not None:
        return _tracer.start_span(name, attributes=attributes, kind=kind)
    return None


def _child_recording() -> bool | None:
    """How a child span is made here: ``True`` a light span (inside a request that is sampled),
    ``False`` none (tracing off, or a trace not sampled), ``None`` the SDK's (outside a request:
    jobs, webhook deliveries)."""
    if _tracer is None:
        return False
    sampled = _request_sampled.get()
    if sampled is not None:
        return sampled
    return False if _unsampled() else None


def annotate(attributes: Mapping[str, Any]) -> None:
    """Add ``attributes`` to the current span (a request's server span, outside any child); nothing
    when off or not sampled."""
    if _tracer is None or _unsampled():
        return
    current = trace.get_current_span()
    if current.is_recording():
        current.set_attributes(attributes)


def _unsampled() -> bool:
    """Inside a trace whose sampling said no (a span with no valid context is a new trace's root)."""
    sampled = _request_sampled.get()
    if sampled is not None:
        return not sampled
    context = trace.get_current_span().get_span_context()
    return context.is_valid and not context.trace_flags.sampled


def end_span(
    span: Span | _LightSpan | None, attributes: Mapping[str, Any] | None = None, *, error: bool = False
) -> None:
    """Set the last attributes of a span from :func:`start_span` and end it; nothing for ``None``."""
    if span is None:
        return
    if attributes:
        span.set_attributes(attributes)
    if error:
        span.set_status(Status(StatusCode.ERROR))
    span.end()


class _LightSpan(Span):
    """A span of a sampled request, recorded without the SDK's generic span machinery.

    The SDK's ``start_span`` asks the sampler, builds a span with a lock and bounded attributes and
    tells every span processor; ``start_as_current_span`` adds a generator-based context manager.
    Inside a request whose sampling is decided, none of that is needed: this span keeps its fields
    in slots, and when it ends hands the span processors the SDK's own :class:`ReadableSpan`, so
    every exporter sees what an SDK span would give it. Span processors' ``on_start`` is not called
    (the batch and simple processors do nothing there). Used as a context manager it is the current
    span while the block runs, so the trace context sent upstream, the ids on log lines and the
    libraries' own spans all name it as their parent.
    """

    __slots__ = ("_token", "attributes", "context", "events", "kind", "name", "parent", "start_time", "status")

    def __init__(
        self,
        name: str,
        attributes: Mapping[str, Any] | None,
        kind: SpanKind,
        parent: SpanContext | None,
        trace_id: int = 0,
    ) -> None:
        self.name = name
        self.kind = kind
        self.attributes: dict[str, Any] = dict(attributes) if attributes else {}
        self.parent = parent
        span_id = _trace_ids.generate_span_id()
        if parent is None:  # a new trace's root, sampled: the SDK's flags for a sampled random id
            flags = TraceFlags(TraceFlags.SAMPLED | TraceFlags.RANDOM_TRACE_ID)
            self.context = SpanContext(trace_id, span_id, is_remote=False, trace_flags=flags)
        else:
            self.context = SpanContext(parent.trace_id, span_id, False, parent.trace_flags, parent.trace_state)
        self.events: tuple[Event, ...] = ()
        self.status = _UNSET
        self.start_time = time.time_ns()
        self._token: Token[Context] | None = None

    @classmethod
    def child(cls, name: str, attributes: Mapping[str, Any] | None, kind: SpanKind) -> _LightSpan:
        """A span whose parent is the current span."""
        return cls(name, attributes, kind, trace.get_current_span().get_span_context())

    def get_span_context(self) -> SpanContext:
        return self.context

    def is_recording(self) -> bool:
        return True

    def set_attribute(self, key: str, value: Any) -> None:
        self.attributes[key] = value

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        self.attributes.update(attributes)

    def update_name(self, name: str) -> None:
        self.name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        self.status = status if isinstance(status, Status) else Status(status, description)

    def add_event(self, name: str, attributes: Mapping[str, Any] | None = None, timestamp: int | None = None) -> None:
        self.events += (Event(name, attributes, timestamp),)

    def record_exception(
        self,
        exception: BaseException,
        attributes: Mapping[str, Any] | None = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        """As the SDK records an exception: an ``exception`` event (the status is the caller's)."""
        import traceback

        kind, module = type(exception).__qualname__, type(exception).__module__
        recorded = {
            "exception.type": kind if module in ("builtins", "") else f"{module}.{kind}",
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
            **(attributes or {}),
        }
        self.add_event("exception", recorded, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if _provider is None:  # tracing was turned off meanwhile (tests)
            return
        finished = ReadableSpan(
            name=self.name,
            context=self.context,
            parent=self.parent,
            resource=_provider.resource,
            attributes=self.attributes,
            events=self.events,
            kind=self.kind,
            status=self.status,
            start_time=self.start_time,
            end_time=end_time or time.time_ns(),
            instrumentation_scope=_SCOPE,
        )
        _provider._active_span_processor.on_end(finished)

    def __enter__(self) -> _LightSpan:
        self._token = otel_context.attach(trace.set_span_in_context(self))
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if self._token is not None:
            otel_context.detach(self._token)
        # As the SDK's start_as_current_span: an Exception is an error, a cancellation or an exit is not.
        if isinstance(exc, Exception):
            self.record_exception(exc)
            self.status = Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}")
        self.end()


# --- Context propagation -------------------------------------------------------------------------


@contextlib.contextmanager
def carrier_context(carrier: Mapping[str, str] | None) -> Iterator[None]:
    """Make the trace context found in ``carrier`` (``traceparent``/``tracestate``) current for the block.

    A job's worker and a webhook delivery use it to join the trace of the request that submitted them.
    """
    if _tracer is None or not carrier:
        yield
        return
    token = otel_context.attach(propagate.extract(carrier))
    ids_token = _unsampled_ids.set(None)  # an enclosing request's ids are not this context's
    try:
        yield
    finally:
        _unsampled_ids.reset(ids_token)
        otel_context.detach(token)


def inject(carrier: MutableMapping[str, str]) -> None:
    """Write the current span's trace context into ``carrier`` (W3C ``traceparent``); nothing when off."""
    if _tracer is None:
        return
    ids = _unsampled_ids.get()
    if ids is not None and ids.headers is not None:
        carrier.update(ids.headers)
    else:
        propagate.inject(carrier)


# --- Logs and metrics ----------------------------------------------------------------------------


def trace_ids() -> tuple[str, str] | None:
    """The current trace and span ids in hex, or ``None`` (tracing off, or no span)."""
    if _tracer is None:
        return None
    ids = _unsampled_ids.get()
    if ids is not None:
        return ids.trace_id, ids.span_id
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def add_trace_ids(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: ``trace_id`` and ``span_id`` on every line written inside a span."""
    ids = trace_ids()
    if ids is not None:
        event.setdefault("trace_id", ids[0])
        event.setdefault("span_id", ids[1])
    return event


def exemplar() -> dict[str, str] | None:
    """``{"trace_id": …}`` of the current span if it is sampled, for a histogram observation; else ``None``."""
    if _tracer is None or _request_sampled.get() is False:
        return None
    context = trace.get_current_span().get_span_context()
    if not context.trace_flags.sampled:
        return None
    return {"trace_id": format(context.trace_id, "032x")}
