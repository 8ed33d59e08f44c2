"""The monitoring component: what Prometheus scrapes, and that it is allowed to."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.deploy.test_manifests import of_kind, pod_labels, selects


def worker(manifests: tuple[dict, ...]) -> dict:
    (deployment,) = [d for d in of_kind(manifests, "Deployment") if d["metadata"]["name"].endswith("-worker")]
    return deployment


@pytest.mark.parametrize("overlay_name", ["staging", "prod"])
def test_the_worker_pods_metrics_ports_are_scraped_and_reachable_from_prometheus(
    overlay_name: str, render: Callable
) -> None:
    manifests = render(overlay_name)
    pod = worker(manifests)
    ports = {
        port["name"]: port["containerPort"]
        for container in pod["spec"]["template"]["spec"]["containers"]
        for port in container.get("ports", [])
    }
    env = {
        item["name"]: item["value"]
        for container in pod["spec"]["template"]["spec"]["containers"]
        for item in container.get("env", [])
        if item["name"] == "METRICS_PORT"
    }
    assert env, "no container serves METRICS_PORT"
    (monitor,) = of_kind(manifests, "PodMonitor")
    assert selects(monitor["spec"]["selector"], pod_labels(pod))
    scraped = {endpoint["port"] for endpoint in monitor["spec"]["podMetricsEndpoints"]}
    assert scraped == set(ports) and scraped
    allowed = {
        port["port"]
        for policy in of_kind(manifests, "NetworkPolicy")
        if policy["spec"]["podSelector"] and selects(policy["spec"]["podSelector"], pod_labels(pod))
        for rule in policy["spec"].get("ingress", [])
        if any(from_monitoring(peer) for peer in rule["from"])
        for port in rule["ports"]
    }
    assert set(ports.values()) <= allowed


def from_monitoring(peer: dict) -> bool:
    return peer.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name") == "monitoring"
