"""The gateway's OTLP encoding says exactly what the SDK's would: the official protobuf messages parse
what it writes into the message the official encoder builds, for every shape a span can take."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as official_encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    set_span_in_context,
)
from opentelemetry.trace.span import TraceState

from core.otlp_encoding import encode_spans


@pytest.fixture
def provider() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": "mcp-gateway", "deployment.environment": "test"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


def assert_same_message(spans: list[ReadableSpan]) -> None:
    ours = ExportTraceServiceRequest.FromString(encode_spans(spans))
    assert ours == official_encode_spans(spans)


def test_a_request_s_span_tree_encodes_as_the_sdk_s_encoder_does(provider):
    tracer_provider, exporter = provider
    tracer = tracer_provider.get_tracer("mcp_gateway")
    with tracer.start_as_current_span("POST /v1/chat/completions", kind=SpanKind.SERVER) as server:
        server.set_attributes({"http.route": "/v1/chat/completions", "http.response.status_code": 200})
        with tracer.start_as_current_span("mcp.upstream.attempt", kind=SpanKind.CLIENT) as attempt:
            attempt.set_attributes({"mcp.provider": "pollinations", "mcp.attempt": 1, "mcp.retry": False})
        with tracer.start_as_current_span("mcp.relay", attributes={"mcp.ttfb_ms": 1.25, "mcp.bytes": 123456}):
            pass
    spans = list(exporter.get_finished_spans())
    assert len(spans) == 3
    assert_same_message(spans)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "ascii",
        "naïve ünïcödé ✓",
        "x" * 300,  # a length past one varint byte
        0,
        1,
        -1,
        -(2**63),
        2**63 - 1,
        300,
        True,
        False,
        0.0,
        -2.5,
        1e300,
        b"\x00\xffbytes",
        ("a", "b", "c"),
        (1, 2, 3),
        (True, False),
        (1.5, -0.5),
        (),
    ],
)
def test_every_attribute_value_type_encodes_as_the_sdk_s_encoder_does(provider, value):
    tracer_provider, exporter = provider
    with tracer_provider.get_tracer("t").start_as_current_span("s", attributes={"the.value": value}):
        pass
    assert_same_message(list(exporter.get_finished_spans()))


def test_events_links_status_trace_state_and_a_remote_parent_encode_as_the_sdk_s_encoder_does(provider):
    tracer_provider, exporter = provider
    tracer = tracer_provider.get_tracer("mcp_gateway", "1.2.3", schema_url="https://opentelemetry.io/schemas/1.21.0")
    remote = SpanContext(
        0x0AF7651916CD43DD8448EB211C80319C,
        0xB7AD6B7169203331,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState([("vendor", "value"), ("other", "x")]),
    )
    linked = SpanContext(0x1, 0x2, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    parent = set_span_in_context(NonRecordingSpan(remote))
    with tracer.start_as_current_span(
        "mcp.job.run", context=parent, kind=SpanKind.CONSUMER, links=[Link(linked, {"why": "retry"}), Link(remote)]
    ) as span:
        span.add_event("mcp.retry", {"attempt": 2, "after_ms": 250.0})
        span.add_event("bare")
        span.set_status(Status(StatusCode.ERROR, "the upstream failed"))
    with tracer_provider.get_tracer("other").start_as_current_span("ok", kind=SpanKind.PRODUCER) as ok:
        ok.set_status(Status(StatusCode.OK))
    spans = list(exporter.get_finished_spans())
    assert spans[0].parent is not None and spans[0].parent.is_remote
    assert_same_message(spans)


def test_spans_over_the_attribute_event_and_link_limits_carry_their_dropped_counts(provider, monkeypatch):
    monkeypatch.setenv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "2")
    monkeypatch.setenv("OTEL_SPAN_EVENT_COUNT_LIMIT", "1")
    monkeypatch.setenv("OTEL_SPAN_LINK_COUNT_LIMIT", "1")
    exporter = InMemorySpanExporter()
    limited = TracerProvider()
    limited.add_span_processor(SimpleSpanProcessor(exporter))
    linked = SpanContext(0x1, 0x2, is_remote=False)
    with limited.get_tracer("t").start_as_current_span("s", links=[Link(linked), Link(linked)]) as span:
        span.set_attributes({"a": 1, "b": 2, "c": 3})
        span.add_event("one")
        span.add_event("two")
    [finished] = exporter.get_finished_spans()
    assert (finished.dropped_attributes, finished.dropped_events, finished.dropped_links) == (1, 1, 1)
    assert_same_message([finished])
    limited.shutdown()


def test_spans_of_several_resources_and_scopes_are_grouped_as_the_sdk_s_encoder_groups_them(provider):
    tracer_provider, exporter = provider
    other_exporter = InMemorySpanExporter()
    other = TracerProvider(resource=Resource({"service.name": "mcp-worker"}))
    other.add_span_processor(SimpleSpanProcessor(other_exporter))
    for name in ("first", "second"):
        with tracer_provider.get_tracer("a").start_as_current_span(name):
            pass
        with tracer_provider.get_tracer("b").start_as_current_span(name):
            pass
        with other.get_tracer("a").start_as_current_span(name):
            pass
    spans = [*exporter.get_finished_spans(), *other_exporter.get_finished_spans()]
    assert_same_message(spans)
    other.shutdown()


def test_no_spans_is_an_empty_request():
    assert encode_spans([]) == b""
    assert ExportTraceServiceRequest.FromString(b"") == official_encode_spans([])
