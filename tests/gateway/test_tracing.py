"""Traces of the hot path: the span tree of one request, context in from the client and out to the upstream."""

from __future__ import annotations

import pytest
from django.conf import settings
from opentelemetry import propagate
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from structlog.testing import capture_logs

from accounts.keyformat import key_generate
from core import tracing
from tests.fixtures.tracing import Spans, hex_span, hex_trace
from tests.gateway.conftest import upstream_requests
from tests.gateway.test_access_log import access_lines

pytestmark = pytest.mark.django_db(transaction=True)

CHAT = {"model": "openai", "messages": [{"role": "user", "content": "trace me"}]}
CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"  # pragma: allowlist secret (the W3C spec's example trace id)
CLIENT_PARENT = "00f067aa0ba902b7"


async def test_one_chat_completion_makes_the_expected_span_tree_continuing_the_clients_trace(
    client, spans: Spans, upstream
):
    traceparent = f"00-{CLIENT_TRACE}-{CLIENT_PARENT}-01"
    response = await client.post("/v1/chat/completions", json=CHAT, headers={"traceparent": traceparent})
    assert response.status_code == 200

    server = spans.one("POST v1/chat/completions")
    assert server.kind == SpanKind.SERVER
    assert hex_trace(server) == CLIENT_TRACE and format(server.parent.span_id, "016x") == CLIENT_PARENT
    assert server.attributes["http.route"] == "v1/chat/completions"  # the URL pattern, never the raw path
    assert server.attributes["http.response.status_code"] == 200
    assert server.attributes["mcp.request_id"] == response.headers["X-Request-ID"]
    children = {span.name: span for span in spans.children(server)}
    assert {"mcp.key.resolve", "mcp.admission", "mcp.upstream.attempt", "mcp.relay", "mcp.settlement"} <= set(children)
    # (background work such as the ledger writer traces its own Redis calls in traces of its own)
    assert all(hex_trace(span) == CLIENT_TRACE for span in spans.all() if span.name.startswith("mcp."))

    assert server.attributes["mcp.organization_id"] > 0 and server.attributes["mcp.key_id"] > 0
    key = children["mcp.key.resolve"]  # the key's first use in this process: looked up past its own cache
    assert key.attributes["mcp.key.found"] is True
    assert key.attributes["mcp.key.source"] in {"shared_cache", "database"}
    attempt = children["mcp.upstream.attempt"]
    assert dict(attempt.attributes) == {
        "mcp.provider": "pollinations-text",
        "mcp.model": "openai",
        "mcp.retry": 0,
        "mcp.breaker.state": "closed",
        "http.response.status_code": 200,
    }
    relay = children["mcp.relay"]
    assert relay.attributes["mcp.relay.bytes"] == len(response.content)
    assert 0 < relay.attributes["mcp.relay.ttfb_ms"] < (server.end_time - server.start_time) / 1e6
    assert children["mcp.settlement"].attributes["http.response.status_code"] == 200

    # The upstream continues the attempt's span.
    [sent] = upstream_requests(upstream, "/v1/chat/completions")
    assert sent["headers"]["traceparent"] == f"00-{CLIENT_TRACE}-{hex_span(attempt)}-01"


async def test_with_the_library_instrumentations_on_their_spans_join_the_tree(client, library_spans: Spans, upstream):
    response = await client.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 200
    server = library_spans.one("POST v1/chat/completions")
    children = {span.name: span for span in library_spans.children(server)}
    # The upstream call is the attempt's own span: the upstream continues it, whatever is instrumented.
    [sent] = upstream_requests(upstream, "/v1/chat/completions")
    assert sent["headers"]["traceparent"].startswith(
        f"00-{hex_trace(server)}-{hex_span(children['mcp.upstream.attempt'])}-"
    )
    if settings.CONFIG.redis_url:  # a shared key cache (as in CI): the key's lookup in Redis is a Redis span
        assert any(s.kind == SpanKind.CLIENT for s in library_spans.children(children["mcp.key.resolve"]))


async def test_a_streamed_completion_has_a_relay_span_with_its_bytes(client, spans: Spans):
    response = await client.post("/v1/chat/completions", json={**CHAT, "stream": True})
    assert response.status_code == 200
    relay = spans.one("mcp.relay")
    assert relay.attributes["mcp.relay.bytes"] >= len(response.content) > 0
    assert relay.parent.span_id == spans.one("POST v1/chat/completions").context.span_id


@pytest.mark.parametrize("sampler", ["spans", "ratio_spans"], ids=["always-on", "ratio"])
async def test_each_upstream_attempt_is_a_span_with_its_retry_number(client, sampler: str, request):
    spans: Spans = request.getfixturevalue(sampler)
    response = await client.post("/v1/chat/completions", json=CHAT, headers={"X-Sim-Fault": "status=503"})
    assert response.status_code == 502
    attempts = spans.named("mcp.upstream.attempt")
    assert [a.attributes["mcp.retry"] for a in attempts] == [0, 1]
    assert all(a.status.status_code == StatusCode.ERROR for a in attempts)
    assert spans.one("POST v1/chat/completions").status.status_code == StatusCode.ERROR


async def test_a_key_the_process_already_knows_costs_no_span_but_still_names_the_caller(client, spans: Spans):
    assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 200
    assert len(spans.named("mcp.key.resolve")) == 1
    spans.exporter.clear()

    assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 200
    server = spans.one("POST v1/chat/completions")
    assert not spans.named("mcp.key.resolve")
    assert server.attributes["mcp.organization_id"] > 0 and server.attributes["mcp.key_id"] > 0
    assert "mcp.admission" in {span.name for span in spans.children(server)}


async def test_an_unknown_key_is_traced_as_not_found_without_reaching_admission(anonymous, spans: Spans):
    unknown = key_generate()  # well formed, so it is looked up; never stored
    response = await anonymous.post("/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {unknown}"})
    assert response.status_code == 401
    assert spans.one("mcp.key.resolve").attributes["mcp.key.found"] is False
    server = spans.one("POST v1/chat/completions")
    assert server.attributes["http.response.status_code"] == 401 and "mcp.key_id" not in server.attributes
    assert not spans.named("mcp.admission")


async def test_latency_histograms_carry_the_trace_id_as_an_exemplar_in_openmetrics(client, spans: Spans):
    await client.post("/v1/chat/completions", json=CHAT)
    trace_id = hex_trace(spans.one("POST v1/chat/completions"))
    scrape = await client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert scrape.headers["content-type"].startswith("application/openmetrics-text")
    lines = [line for line in scrape.text.splitlines() if f'trace_id="{trace_id}"' in line]
    assert any(line.startswith("mcp_http_request_duration_seconds_bucket") for line in lines)
    assert any(line.startswith("mcp_provider_request_duration_seconds_bucket") for line in lines)
    plain = await client.get("/metrics")
    assert "trace_id" not in plain.text and plain.headers["content-type"].startswith("text/plain")


async def test_with_tracing_off_the_hot_path_makes_no_tracer_call(client, monkeypatch):
    from opentelemetry import context, propagate, trace

    def forbidden(*args, **kwargs):
        raise AssertionError("a tracer call while tracing is off")

    for module, name in (
        (trace, "get_current_span"),
        (propagate, "inject"),
        (propagate, "extract"),
        (context, "attach"),
        (trace, "get_tracer"),
    ):
        monkeypatch.setattr(module, name, forbidden)
    for stream in (False, True):
        response = await client.post("/v1/chat/completions", json={**CHAT, "stream": stream})
        assert response.status_code == 200


def not_sampled(traceparent: str) -> bool:
    """The W3C flags' lowest bit is "sampled" (the SDK also sets 0x02, "random trace id")."""
    return int(traceparent.rsplit("-", 1)[1], 16) & 1 == 0


@pytest.fixture
def sampled_out():
    """Tracing on with a parent-based sampler that samples no new trace; every span kept, if any."""
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased

    from core import tracing

    exporter = InMemorySpanExporter()
    tracing.configure(exporter=exporter, sampler=ParentBased(ALWAYS_OFF), instrument=("redis",))
    try:
        yield exporter
    finally:
        tracing.disable()


async def test_a_request_not_sampled_builds_no_span_but_passes_its_decision_on(client, sampled_out, upstream):
    for stream in (False, True):
        response = await client.post("/v1/chat/completions", json={**CHAT, "stream": stream})
        assert response.status_code == 200
    # Neither the gateway's spans nor the libraries' (Redis): sampling is decided once.
    assert sampled_out.get_finished_spans() == ()
    sent = upstream_requests(upstream, "/v1/chat/completions")
    assert len(sent) == 2
    # The upstream continues the trace, told that it is not sampled (the flags' lowest bit).
    assert [not_sampled(s["headers"]["traceparent"]) for s in sent] == [True, True]


async def test_a_client_that_samples_its_trace_is_traced_whatever_the_ratio(client, sampled_out):
    traceparent = f"00-{CLIENT_TRACE}-{CLIENT_PARENT}-01"
    response = await client.post("/v1/chat/completions", json=CHAT, headers={"traceparent": traceparent})
    assert response.status_code == 200
    names = {span.name for span in sampled_out.get_finished_spans()}
    assert {"POST v1/chat/completions", "mcp.key.resolve", "mcp.admission", "mcp.upstream.attempt"} <= names


async def test_a_request_not_sampled_logs_the_ids_it_sends_on_and_continues_the_clients_trace(
    client, sampled_out, upstream
):
    incoming = {"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_PARENT}-00", "tracestate": "vendor=opaque"}
    with capture_logs(processors=[tracing.add_trace_ids]) as logs:
        response = await client.post("/v1/chat/completions", json=CHAT, headers=incoming)
    assert response.status_code == 200
    (sent,) = upstream_requests(upstream, "/v1/chat/completions")
    version, trace_id, span_id, flags = sent["headers"]["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", CLIENT_TRACE, "00")
    assert span_id != CLIENT_PARENT  # the gateway's own (unrecorded) server span
    assert sent["headers"]["tracestate"] == "vendor=opaque"
    assert "baggage" not in sent["headers"]
    (line,) = access_lines(logs)
    assert (line["trace_id"], line["span_id"]) == (trace_id, span_id)


async def test_a_request_not_sampled_passes_the_clients_baggage_on(client, sampled_out, upstream):
    response = await client.post("/v1/chat/completions", json=CHAT, headers={"baggage": "tenant=acme"})
    assert response.status_code == 200
    (sent,) = upstream_requests(upstream, "/v1/chat/completions")
    assert sent["headers"]["baggage"] == "tenant=acme"
    assert not_sampled(sent["headers"]["traceparent"])


async def test_a_request_not_sampled_sends_what_the_configured_propagators_write(client, upstream):
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased

    class Marked(TraceContextTextMapPropagator):
        """W3C Trace Context plus a header of its own: another propagator than the default one."""

        def inject(self, carrier, context=None, setter=None) -> None:
            super().inject(carrier, context)
            carrier["x-propagated-by"] = "marked"

    default = propagate.get_global_textmap()
    propagate.set_global_textmap(CompositePropagator([Marked()]))
    tracing.configure(exporter=InMemorySpanExporter(), sampler=ParentBased(ALWAYS_OFF), instrument=())
    try:
        response = await client.post("/v1/chat/completions", json=CHAT)
    finally:
        tracing.disable()
        propagate.set_global_textmap(default)
    assert response.status_code == 200
    (sent,) = upstream_requests(upstream, "/v1/chat/completions")
    assert sent["headers"]["x-propagated-by"] == "marked"
    assert not_sampled(sent["headers"]["traceparent"])


async def test_an_upstream_call_started_alongside_the_admission_is_still_the_requests_child(
    client, spans: Spans, upstream
):
    from billing import hotpath

    for _ in range(2):  # the first admission leaves ample room, so the second overlaps its upstream call
        assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 200
    if hotpath.redis_store() is None:
        pytest.skip("the overlap needs the shared store's round trip (REDIS_URL)")
    server = spans.named("POST v1/chat/completions")[-1]
    attempt = spans.named("mcp.upstream.attempt")[-1]
    assert attempt.parent.span_id == server.context.span_id, "not under mcp.admission, which ran at the same time"
    assert attempt.start_time < spans.named("mcp.admission")[-1].end_time, "it did start alongside"
    sent = upstream_requests(upstream, "/v1/chat/completions")[-1]
    assert sent["headers"]["traceparent"].split("-")[2] == hex_span(attempt)


@pytest.fixture
def ratio_spans():
    """Tracing on with the default sampler's kind (parent-based ratio), at a ratio that samples every
    new trace: the gateway takes that decision itself and records the request's spans without the SDK."""
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.sdk.trace.sampling import ParentBasedTraceIdRatio

    exporter = InMemorySpanExporter()
    tracing.configure(exporter=exporter, sampler=ParentBasedTraceIdRatio(1.0), instrument=("redis",))
    try:
        yield Spans(exporter)
    finally:
        tracing.disable()


async def test_a_request_that_starts_a_sampled_trace_has_the_same_span_tree(client, ratio_spans: Spans, upstream):
    response = await client.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 200

    server = ratio_spans.one("POST v1/chat/completions")
    assert server.kind == SpanKind.SERVER and server.parent is None
    assert server.context.trace_flags.sampled
    assert server.resource.attributes["service.name"] == "mcp-gateway"
    assert server.instrumentation_scope.name == tracing.INSTRUMENTATION_NAME
    assert server.attributes["http.request.method"] == "POST"
    assert server.attributes["http.route"] == "v1/chat/completions"
    assert server.attributes["http.response.status_code"] == 200
    assert server.attributes["mcp.request_id"] == response.headers["X-Request-ID"]
    assert server.attributes["mcp.organization_id"] > 0
    assert server.status.status_code == StatusCode.UNSET
    children = {span.name: span for span in ratio_spans.children(server)}
    assert {"mcp.admission", "mcp.upstream.attempt", "mcp.relay", "mcp.settlement"} <= set(children)
    for child in children.values():
        assert hex_trace(child) == hex_trace(server)
        assert server.start_time <= child.start_time <= child.end_time <= server.end_time
    attempt = children["mcp.upstream.attempt"]
    assert attempt.attributes["mcp.provider"] == "pollinations-text"
    assert attempt.attributes["http.response.status_code"] == 200
    # A library's spans are children of the span they run in (the key's lookup in the shared cache).
    if settings.CONFIG.redis_url:
        assert any(s.kind == SpanKind.CLIENT for s in ratio_spans.children(children["mcp.key.resolve"]))
    [sent] = upstream_requests(upstream, "/v1/chat/completions")
    assert sent["headers"]["traceparent"] == f"00-{hex_trace(server)}-{hex_span(attempt)}-03"
