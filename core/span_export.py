"""OTLP/HTTP span export that keeps no ended span alive: each sampled span is encoded when it ends.

The SDK's batch processor holds every ended span — a dozen container objects each — until its batch
is exported, a second or more later. On a busy worker the cyclic garbage collector walks them in every
young collection in between and promotes them to the oldest generation, so a traced worker collects
more, and longer, than an untraced one. Here a span is turned into its OTLP protobuf bytes as it ends
(the SDK's own encoder, so the wire format is the standard exporter's); the queue holds
``(group, bytes)`` pairs, which the collector stops tracking at their first collection, and the span
itself is freed at once. The batching thread joins the bytes into one ``ExportTraceServiceRequest``
and posts it with the standard exporter's transport, so every ``OTEL_EXPORTER_OTLP_*`` and
``OTEL_BSP_*`` variable means what it means for the stock exporter.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.common._internal import (
    _encode_instrumentation_scope,
    _encode_resource,
)
from opentelemetry.exporter.otlp.proto.common._internal.trace_encoder import _encode_span
from opentelemetry.exporter.otlp.proto.http._common import RequestPayloadTooLargeError, _is_request_too_large
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

__all__ = ["EncodedSpan", "EncodedSpanExporter", "EncodingSpanProcessor", "field"]

#: One ended span: the index of its (resource, instrumentation scope) group, and its ``Span`` message.
EncodedSpan = tuple[int, bytes]

# Field numbers of the OTLP messages assembled here (opentelemetry/proto/trace/v1/trace.proto).
_REQUEST_RESOURCE_SPANS = 1  # ExportTraceServiceRequest.resource_spans
_RESOURCE = 1  # ResourceSpans.resource
_SCOPE_SPANS = 2  # ResourceSpans.scope_spans
_SCHEMA_URL = 3  # ResourceSpans.schema_url and ScopeSpans.schema_url
_SCOPE = 1  # ScopeSpans.scope
_SPANS = 2  # ScopeSpans.spans


def field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field: its key, the payload's length as a varint, the payload.

    Repeated message fields are such fields one after the other, which is why spans encoded one at a
    time can be joined into a request without being decoded again.
    """
    head = bytearray([number << 3 | 2])
    size = len(payload)
    while size > 0x7F:
        head.append(size & 0x7F | 0x80)
        size >>= 7
    head.append(size)
    return bytes(head) + payload


class EncodedSpanExporter(OTLPSpanExporter):
    """The standard OTLP/HTTP span exporter, fed spans already encoded by :class:`EncodingSpanProcessor`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._groups: dict[tuple[Resource, InstrumentationScope | None], int] = {}
        self._group_keys: list[tuple[Resource, InstrumentationScope | None]] = []
        self._groups_lock = threading.Lock()

    def encode(self, span: ReadableSpan) -> EncodedSpan:
        """``span`` as the ``(group, Span message)`` pair the batch queue holds (any thread)."""
        key = (span.resource, span.instrumentation_scope or None)
        group = self._groups.get(key)
        if group is None:
            with self._groups_lock:
                group = self._groups.setdefault(key, len(self._group_keys))
                if group == len(self._group_keys):
                    self._group_keys.append(key)
        return group, _encode_span(span).SerializeToString()

    def request(self, spans: Sequence[EncodedSpan]) -> bytes:
        """One ``ExportTraceServiceRequest``: the spans grouped by resource, then by scope, as the SDK does."""
        by_group: dict[int, list[bytes]] = {}
        for group, encoded in spans:
            by_group.setdefault(group, []).append(encoded)
        by_resource: dict[Resource, list[bytes]] = {}
        for group, encoded_spans in by_group.items():
            resource, scope = self._group_keys[group]
            # The SDK's encoder takes a missing scope too (an empty one), as its own request does.
            scope_spans = field(_SCOPE, _encode_instrumentation_scope(scope).SerializeToString())  # type: ignore[arg-type]
            scope_spans += b"".join(field(_SPANS, encoded) for encoded in encoded_spans)
            if scope is not None and scope.schema_url:
                scope_spans += field(_SCHEMA_URL, scope.schema_url.encode())
            by_resource.setdefault(resource, []).append(field(_SCOPE_SPANS, scope_spans))
        request = b""
        for resource, scope_spans_fields in by_resource.items():
            resource_spans = field(_RESOURCE, _encode_resource(resource).SerializeToString())
            resource_spans += b"".join(scope_spans_fields)
            if resource.schema_url:
                resource_spans += field(_SCHEMA_URL, resource.schema_url.encode())
            request += field(_REQUEST_RESOURCE_SPANS, resource_spans)
        return request

    def export(self, spans: Sequence[EncodedSpan]) -> SpanExportResult:  # type: ignore[override]
        # The stock export() with the encoding step replaced; the transport, its retries and the
        # exporter's own metrics are the parent's.
        if self._shutdown:
            return SpanExportResult.FAILURE
        with self._metrics.export_operation(len(spans)) as result:
            data = self.request(spans)
            if _is_request_too_large(data, self._max_request_size):
                result.error = RequestPayloadTooLargeError(
                    f"Serialized span request size {len(data)} bytes exceeds max_request_size "
                    f"{self._max_request_size} bytes."
                )
                return SpanExportResult.FAILURE
            export_result = self._client.export(data)
            if not export_result.success:
                result.error = export_result.error
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS


class EncodingSpanProcessor(BatchSpanProcessor):
    """The SDK's batch processor (queue, schedule, batch size, flush), queueing encoded spans."""

    def __init__(self, exporter: EncodedSpanExporter) -> None:
        super().__init__(exporter)
        self._encode = exporter.encode

    def on_end(self, span: ReadableSpan) -> None:
        if span.context is not None and span.context.trace_flags.sampled:
            self._batch_processor.emit(self._encode(span))  # type: ignore[arg-type]  # it queues any item
