"""Label children are looked up once, and count into the very series ``labels()`` reads."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from core.metrics import labelled


def test_a_labelled_child_counts_into_the_series_of_its_label_values():
    registry = CollectorRegistry()
    requests = Counter("requests", "r", ["route", "status"], registry=registry)
    child = labelled(requests)
    child("/v1/chat/completions", 200).inc()
    child("/v1/chat/completions", 200).inc(2)
    requests.labels("/v1/chat/completions", "200").inc()
    child("/v1/models", 404).inc()
    value = registry.get_sample_value
    assert value("requests_total", {"route": "/v1/chat/completions", "status": "200"}) == 4
    assert value("requests_total", {"route": "/v1/models", "status": "404"}) == 1


def test_the_same_label_values_give_the_same_child_without_asking_the_metric_again():
    registry = CollectorRegistry()
    latency = Histogram("latency", "l", ["provider"], registry=registry)
    asked = []
    original = latency.labels

    def counting_labels(*values):
        asked.append(values)
        return original(*values)

    latency.labels = counting_labels  # type: ignore[method-assign]
    child = labelled(latency)
    assert child("pollinations") is child("pollinations")
    child("pollinations").observe(0.2)
    child("other").observe(0.1)
    assert asked == [("pollinations",), ("other",)]
    assert registry.get_sample_value("latency_count", {"provider": "pollinations"}) == 1
