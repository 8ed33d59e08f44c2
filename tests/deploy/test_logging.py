"""The log collection add-on (k8s/logging): a hardened Fluent Bit agent shipping the gateway's logs to Loki."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from scripts import check_k8s
from tests.deploy.test_manifests import of_kind, selects

ADDON = check_k8s.REPO / "k8s" / "logging"


@pytest.fixture(scope="module")
def manifests(tool: Callable[[str], Path]) -> tuple[dict, ...]:
    tool("kubectl")
    return check_k8s.render(ADDON)


def agent(manifests: tuple[dict, ...]) -> dict:
    (daemonset,) = of_kind(manifests, "DaemonSet")
    return daemonset


def test_the_addon_is_validated_with_the_overlays(manifests: tuple[dict, ...], tool: Callable[[str], Path]) -> None:
    assert ADDON in check_k8s.ADDONS
    tool("kubernetes-validate")
    assert check_k8s.validate({"logging": manifests}) == []


def test_the_agent_reads_only_the_gateways_containers_and_ships_them_to_loki(manifests: tuple[dict, ...]) -> None:
    (config_map,) = [c for c in of_kind(manifests, "ConfigMap") if c["metadata"]["name"].startswith("mcp-gateway-log")]
    config = yaml.safe_load(config_map["data"]["fluent-bit.yaml"])
    (tail,) = config["pipeline"]["inputs"]
    assert tail["name"] == "tail" and tail["path"] == "/var/log/containers/mcp-gateway-*_mcp-gateway-*_*.log"
    (loki,) = config["pipeline"]["outputs"]
    assert loki["name"] == "loki" and loki["host"] == "${LOKI_HOST}" and "job=mcp-gateway" in loki["labels"]
    container = agent(manifests)["spec"]["template"]["spec"]["containers"][0]
    env = {item["name"]: item for item in container["env"]}
    assert env["LOKI_HOST"]["value"].endswith(".logging.svc.cluster.local")
    assert container["args"] == ["--config=/fluent-bit/etc/conf/fluent-bit.yaml"]


def test_the_agent_is_hardened_and_pinned(manifests: tuple[dict, ...]) -> None:
    spec = agent(manifests)["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] and not security["allowPrivilegeEscalation"]
    assert security["capabilities"]["drop"] == ["ALL"] and "add" not in security["capabilities"]
    assert not security.get("privileged")
    assert container["resources"]["limits"]["cpu"] and container["resources"]["limits"]["memory"]
    image = container["image"]
    assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest")
    mounts = {mount["name"]: mount for mount in container["volumeMounts"]}
    assert mounts["varlog"]["readOnly"] and mounts["config"]["readOnly"]
    assert container["livenessProbe"] and container["readinessProbe"]


def test_the_agent_may_reach_only_dns_the_api_server_and_loki_and_read_only_pods(manifests: tuple[dict, ...]) -> None:
    labels = agent(manifests)["spec"]["template"]["metadata"]["labels"]
    (policy,) = [p for p in of_kind(manifests, "NetworkPolicy") if selects(p["spec"]["podSelector"], labels)]
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"] and not policy["spec"].get("ingress")
    egress = {port["port"] for rule in policy["spec"]["egress"] for port in rule["ports"]}
    assert egress == {53, 443, 6443, 3100}
    (role,) = of_kind(manifests, "ClusterRole")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]
    (namespace,) = of_kind(manifests, "Namespace")
    assert {
        obj["metadata"].get("namespace")
        for obj in manifests
        if obj["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding")
    } == {namespace["metadata"]["name"]}
