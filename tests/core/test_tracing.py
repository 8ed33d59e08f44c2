"""Tracing is configured only by the standard OTEL_* variables, and a real gateway exports OTLP/HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from django.core.exceptions import ImproperlyConfigured
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from mcp_site.config import load_config
from scripts.local_processes import gateway_command
from tests.fixtures.gateway_server import gateway_env
from tests.fixtures.processes import REPO_ROOT
from tests.fixtures.simulator_server import free_port, run_simulator


@pytest.mark.parametrize(
    ("environ", "exporters"),
    [
        ({}, ()),
        ({"OTEL_SERVICE_NAME": "gw", "OTEL_TRACES_SAMPLER": "parentbased_traceidratio"}, ()),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, ("otlp",)),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, ("otlp",)),
        ({"OTEL_TRACES_EXPORTER": "console"}, ("console",)),
        ({"OTEL_TRACES_EXPORTER": "otlp,console"}, ("otlp", "console")),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, ()),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, ()),
    ],
)
def test_tracing_is_on_only_when_a_standard_variable_names_an_exporter(environ, exporters):
    assert load_config(environ).otel_traces_exporters == exporters


def test_library_instrumentations_can_be_left_off_by_the_standard_variable():
    environ = {"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "Redis, Django"}
    assert load_config(environ).otel_disabled_instrumentations == ("redis", "django")


def test_the_instrumentations_that_duplicate_the_gateways_own_spans_are_off_unless_asked_for():
    # The Redis spans would repeat mcp.admission and mcp.settlement, at a cost to every request; an
    # empty variable turns every instrumentation on.
    assert load_config({}).otel_disabled_instrumentations == ("redis",)
    assert load_config({"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": ""}).otel_disabled_instrumentations == ()


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "PROTOCOL"),
    ],
)
def test_an_exporter_the_gateway_does_not_ship_is_refused_at_start_up(environ, named):
    with pytest.raises(ImproperlyConfigured, match=named):
        load_config(environ)


class OtlpReceiver:
    """An OTLP/HTTP trace receiver on loopback: decodes every export request it is sent."""

    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.path == "/v1/traces" and self.headers.get("content-type") == "application/x-protobuf":
                    receiver.requests.append(ExportTraceServiceRequest.FromString(body))
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def spans(self) -> list[tuple[dict, object]]:
        """(resource attributes, span) of everything received."""
        found = []
        for request in self.requests:
            for resource_spans in request.resource_spans:
                resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                found.extend((resource, s) for scope in resource_spans.scope_spans for s in scope.spans)
        return found


@pytest.fixture
def otlp_receiver() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.mark.slow
def test_a_real_gateway_process_sends_its_spans_to_an_otlp_http_receiver(otlp_receiver, tmp_path: Path):
    state = tmp_path / "state"
    state.mkdir()
    port = free_port()
    with run_simulator() as upstream:
        env = gateway_env(
            database_name=None,
            upstream_url=upstream,
            DATABASE_URL=f"sqlite:///{state / 'db.sqlite3'}",
            OTEL_EXPORTER_OTLP_ENDPOINT=otlp_receiver.url,
            OTEL_SERVICE_NAME="gateway-under-test",
            OTEL_BSP_SCHEDULE_DELAY="100",
            LOG_FORMAT="json",
            LOG_LEVEL="INFO",
        )
        env.pop("REDIS_URL", None)
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "--noinput"], cwd=REPO_ROOT, env=env, check=True, capture_output=True)
        subprocess.run(
            [*manage, "create_organization", "--slug", "traced"],
            cwd=REPO_ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        created = subprocess.run(
            [*manage, "create_api_key", "--org", "traced", "--name", "t", "--json"],
            cwd=REPO_ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        key = json.loads(created.stdout)["key"]
        log_path = tmp_path / "gateway.log"
        command = gateway_command(port)
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                base = f"http://127.0.0.1:{port}"
                _wait_for(lambda: _answers(f"{base}/healthz"))
                response = httpx.post(
                    f"{base}/v1/chat/completions",
                    headers={"Authorization": f"Bearer {key}"},
                    json={"model": "openai", "messages": [{"role": "user", "content": "hi"}]},
                    timeout=30,
                )
                assert response.status_code == 200
                _wait_for(lambda: any(s.name == "POST v1/chat/completions" for _, s in otlp_receiver.spans()))
            finally:
                process.terminate()
                process.wait(10)

    received = otlp_receiver.spans()
    names = {span.name for _, span in received}
    assert {"POST v1/chat/completions", "mcp.key.resolve", "mcp.admission", "mcp.upstream.attempt"} <= names
    assert {resource["service.name"] for resource, _ in received} == {"gateway-under-test"}
    (server,) = [span for _, span in received if span.name == "POST v1/chat/completions"]
    trace_id = server.trace_id.hex()
    assert all(span.trace_id.hex() == trace_id for _, span in received if span.name.startswith("mcp."))
    # The access log line of that request carries its trace id.
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    (access,) = [
        line for line in lines if line.get("event") == "request" and line.get("route") == "v1/chat/completions"
    ]
    assert access["trace_id"] == trace_id


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _wait_for(predicate, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout} s")
        time.sleep(0.1)


def test_a_carrier_context_inside_an_unsampled_request_sends_its_own_trace_on():
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased

    from core import tracing

    job_trace = "0af7651916cd43dd8448eb211c80319c"  # pragma: allowlist secret (the W3C spec's example)
    tracing.configure(exporter=InMemorySpanExporter(), sampler=ParentBased(ALWAYS_OFF), instrument=())
    try:
        handle = tracing.start_server_span("POST", {})
        request_headers: dict[str, str] = {}
        tracing.inject(request_headers)
        with tracing.carrier_context({"traceparent": f"00-{job_trace}-b7ad6b7169203331-00"}):
            job_headers: dict[str, str] = {}
            tracing.inject(job_headers)
            job_ids = tracing.trace_ids()
        after: dict[str, str] = {}
        tracing.inject(after)
        tracing.end_server_span(handle, method="POST", route="r", status=200, request_id="x")
    finally:
        tracing.disable()
    assert job_headers["traceparent"] == f"00-{job_trace}-b7ad6b7169203331-00"
    assert job_ids == (job_trace, "b7ad6b7169203331")
    assert after == request_headers
    assert job_trace not in request_headers["traceparent"]


def test_a_new_trace_is_sampled_at_the_configured_ratio_and_by_its_own_trace_id():
    """The gateway takes a new request's sampling decision itself (cheaper than the SDK's generic path):
    the same one the SDK's ratio sampler takes, on the trace id the request then carries."""
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.sdk.trace.sampling import ParentBasedTraceIdRatio

    from core import tracing

    exporter, sampler, requests = InMemorySpanExporter(), ParentBasedTraceIdRatio(0.5), 4000
    tracing.configure(exporter=exporter, sampler=sampler, instrument=())
    unsampled = []
    try:
        for _ in range(requests):
            handle = tracing.start_server_span("POST", {})
            ids = tracing.trace_ids()
            headers: dict[str, str] = {}
            tracing.inject(headers)
            tracing.end_server_span(handle, method="POST", route="r", status=200, request_id="x")
            assert ids is not None and ids[0] in headers["traceparent"]
            if headers["traceparent"].endswith("-02"):  # not sampled, random trace id
                unsampled.append(int(ids[0], 16))
    finally:
        tracing.disable()
    bound = sampler._root.bound
    sampled = [span.context.trace_id for span in exporter.get_finished_spans()]
    assert len(sampled) + len(unsampled) == requests
    assert all(trace_id & (2**64 - 1) < bound for trace_id in sampled)
    assert all(trace_id & (2**64 - 1) >= bound for trace_id in unsampled)
    # A decision taken twice (once by the gateway, once by the SDK on an id of its own) would sample 25 %.
    assert 0.45 < len(sampled) / requests < 0.55


def test_an_unsampled_new_trace_carries_the_context_the_sdk_would_give_it():
    from opentelemetry import trace
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.sdk.trace.sampling import ParentBasedTraceIdRatio

    from core import tracing

    tracing.configure(exporter=InMemorySpanExporter(), sampler=ParentBasedTraceIdRatio(0.0), instrument=())
    try:
        handle = tracing.start_server_span("POST", {})
        ours = trace.get_current_span()
        tracing.end_server_span(handle, method="POST", route="r", status=200, request_id="x")
        assert tracing._tracer is not None
        sdks = tracing._tracer.start_span("POST", kind=trace.SpanKind.SERVER)
    finally:
        tracing.disable()
    mine, theirs = ours.get_span_context(), sdks.get_span_context()
    assert not ours.is_recording() and not sdks.is_recording()
    assert mine.is_valid and mine.trace_id != theirs.trace_id
    assert (mine.trace_flags, mine.trace_state, mine.is_remote) == (theirs.trace_flags, theirs.trace_state, False)


def test_a_sampler_of_the_operators_own_decides_every_new_trace():
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Sampler, SamplingResult

    from core import tracing

    class Counting(Sampler):
        calls = 0

        def should_sample(self, *args, **kwargs) -> SamplingResult:
            Counting.calls += 1
            return ALWAYS_ON.should_sample(*args, **kwargs)

        def get_description(self) -> str:
            return "counting"

    exporter = InMemorySpanExporter()
    tracing.configure(exporter=exporter, sampler=Counting(), instrument=())
    try:
        for _ in range(3):
            handle = tracing.start_server_span("POST", {})
            tracing.end_server_span(handle, method="POST", route="r", status=200, request_id="x")
    finally:
        tracing.disable()
    assert Counting.calls == 3 and len(exporter.get_finished_spans()) == 3


@pytest.mark.parametrize("sampler", ["always_on", "ratio"], ids=["sdk-spans", "light-spans"])
def test_an_exception_leaving_a_span_of_a_sampled_request_is_recorded_on_it(sampler: str):
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBasedTraceIdRatio
    from opentelemetry.trace import StatusCode

    from core import tracing

    exporter = InMemorySpanExporter()
    chosen = ALWAYS_ON if sampler == "always_on" else ParentBasedTraceIdRatio(1.0)
    tracing.configure(exporter=exporter, sampler=chosen, instrument=())
    try:
        handle = tracing.start_server_span("POST", {})
        with pytest.raises(ValueError, match="said no"), tracing.span("mcp.step", {"mcp.model": "m"}):
            raise ValueError("upstream said no")
        tracing.end_server_span(handle, method="POST", route="r", status=200, request_id="x")
    finally:
        tracing.disable()
    step = next(span for span in exporter.get_finished_spans() if span.name == "mcp.step")
    assert step.status.status_code == StatusCode.ERROR
    assert step.status.description == "ValueError: upstream said no"
    assert step.attributes["mcp.model"] == "m"
    [event] = step.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == "ValueError"
    assert event.attributes["exception.message"] == "upstream said no"
    assert "raise ValueError" in event.attributes["exception.stacktrace"]
