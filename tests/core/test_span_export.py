"""Spans are encoded as they end, and the batches sent are the standard exporter's requests."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ScopeSpans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanKind, Status, StatusCode

from core.span_export import EncodedSpanExporter, EncodingSpanProcessor, field


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[bytes]]]:
    """An OTLP/HTTP receiver on loopback: its traces URL, and the bodies posted to it."""
    bodies: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers["content-length"])))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces", bodies
    finally:
        server.shutdown()
        server.server_close()


def _finished_spans(provider: TracerProvider) -> None:
    gateway = provider.get_tracer("mcp_gateway", "1.0", schema_url="https://opentelemetry.io/schemas/1.21.0")
    library = provider.get_tracer("opentelemetry.instrumentation.redis", "0.66b1")
    with gateway.start_as_current_span("POST /v1/chat/completions", kind=SpanKind.SERVER) as server:
        server.set_attribute("http.response.status_code", 200)
        with gateway.start_as_current_span("mcp.admission", attributes={"mcp.model": "openai", "mcp.retry": 0}):
            library.start_span("EVALSHA", attributes={"db.system": "redis", "long": "x" * 300}).end()
        failed = gateway.start_span("mcp.upstream.attempt")
        failed.add_event("retry", {"mcp.attempt": 1})
        failed.set_status(Status(StatusCode.ERROR, "upstream 503"))
        failed.end()


@pytest.mark.parametrize("size", [0, 1, 127, 128, 300, 16_383, 16_384, 2_100_000])
def test_a_length_delimited_field_reads_back_as_the_bytes_it_holds(size):
    payload = b"\x01" * size
    scope_spans = ScopeSpans.FromString(field(3, payload))  # ScopeSpans.schema_url is field 3
    assert scope_spans.schema_url == payload.decode()


def test_a_batch_is_the_request_the_standard_encoder_makes_of_the_same_spans():
    resources = [Resource({"service.name": "gw"}, schema_url="https://example.test/s"), Resource({"service.name": "w"})]
    exporter = EncodedSpanExporter(endpoint="http://127.0.0.1:9/v1/traces")
    ended = []
    for resource in resources:
        provider = TracerProvider(resource=resource, sampler=ALWAYS_ON)

        class Keep(EncodingSpanProcessor):
            def on_end(self, span) -> None:
                ended.append(span)

        provider.add_span_processor(Keep(exporter))
        _finished_spans(provider)
        provider.shutdown()
    assert len(ended) == 8

    ours = ExportTraceServiceRequest.FromString(exporter.request([exporter.encode(span) for span in ended]))
    assert ours == encode_spans(ended)
    scopes = {scope.scope.name for resource in ours.resource_spans for scope in resource.scope_spans}
    assert scopes == {"mcp_gateway", "opentelemetry.instrumentation.redis"}


def test_an_ended_span_is_queued_as_bytes_and_not_kept_alive():
    exporter = EncodedSpanExporter(endpoint="http://127.0.0.1:9/v1/traces")
    processor = EncodingSpanProcessor(exporter)
    provider = TracerProvider(sampler=ALWAYS_ON)
    provider.add_span_processor(processor)
    try:
        span = provider.get_tracer("t").start_span("mcp.settlement")
        span.end()
        alive = weakref.ref(span)
        del span
        gc.collect()
        assert alive() is None
        (queued,) = processor._batch_processor._queue
        group, encoded = queued
        assert isinstance(group, int)
        assert isinstance(encoded, bytes)
        assert not gc.is_tracked(queued)  # the collector no longer walks what waits for export
    finally:
        processor._batch_processor._queue.clear()
        provider.shutdown()


def test_spans_that_are_not_sampled_are_not_queued():
    processor = EncodingSpanProcessor(EncodedSpanExporter(endpoint="http://127.0.0.1:9/v1/traces"))
    provider = TracerProvider(sampler=ALWAYS_OFF)
    provider.add_span_processor(processor)
    provider.get_tracer("t").start_span("unsampled").end()
    assert len(processor._batch_processor._queue) == 0
    provider.shutdown()


def test_a_flush_posts_the_queued_spans_to_the_collector(receiver):
    url, bodies = receiver
    provider = TracerProvider(resource=Resource({"service.name": "gw"}), sampler=ALWAYS_ON)
    provider.add_span_processor(EncodingSpanProcessor(EncodedSpanExporter(endpoint=url)))
    _finished_spans(provider)
    assert provider.force_flush(5_000)
    provider.shutdown()

    spans = [
        span
        for body in bodies
        for resource in ExportTraceServiceRequest.FromString(body).resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]
    assert sorted(span.name for span in spans) == [
        "EVALSHA",
        "POST /v1/chat/completions",
        "mcp.admission",
        "mcp.upstream.attempt",
    ]
    assert len({span.trace_id for span in spans}) == 1
    server = next(span for span in spans if span.name.startswith("POST"))
    admission = next(span for span in spans if span.name == "mcp.admission")
    assert admission.parent_span_id == server.span_id


def test_the_groups_of_resource_and_scope_are_numbered_once_across_threads():
    exporter = EncodedSpanExporter(endpoint="http://127.0.0.1:9/v1/traces")
    provider = TracerProvider(sampler=ALWAYS_ON)
    scopes = [InstrumentationScope(f"scope-{i}") for i in range(4)]
    spans = []
    for scope in scopes:
        span = provider.get_tracer(scope.name).start_span("s")
        span.end()
        spans.append(span)
    barrier = threading.Barrier(8)
    groups: list[int] = []

    def encode_all() -> None:
        barrier.wait()
        groups.extend(exporter.encode(span)[0] for span in spans)

    threads = [threading.Thread(target=encode_all) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(set(groups)) == [0, 1, 2, 3]
    assert [exporter._group_keys[exporter.encode(span)[0]][1].name for span in spans] == [s.name for s in scopes]
    provider.shutdown()
