"""Rules every rendered Kustomize overlay must follow (k8s/overlays/*), checked without a cluster."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from scripts import check_k8s

WORKLOAD_KINDS = ("Deployment", "Job")
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def of_kind(manifests: tuple[dict, ...], kind: str) -> list[dict]:
    return [obj for obj in manifests if obj["kind"] == kind]


def workloads(manifests: tuple[dict, ...]) -> Iterator[dict]:
    return (obj for obj in manifests if obj["kind"] in WORKLOAD_KINDS)


def containers(manifests: tuple[dict, ...]) -> Iterator[tuple[str, dict]]:
    """Every container and init container, as ("Kind/name/container", container)."""
    for obj in workloads(manifests):
        spec = obj["spec"]["template"]["spec"]
        for container in spec.get("initContainers", []) + spec["containers"]:
            yield f"{obj['kind']}/{obj['metadata']['name']}/{container['name']}", container


def pod_labels(deployment: dict) -> dict[str, str]:
    return deployment["spec"]["template"]["metadata"]["labels"]


def selects(selector: dict, labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels only; an empty one selects everything) matches labels."""
    assert "matchExpressions" not in selector, "these checks only understand matchLabels"
    return all(labels.get(key) == value for key, value in selector.get("matchLabels", {}).items())


def web(manifests: tuple[dict, ...]) -> dict:
    (deployment,) = [obj for obj in of_kind(manifests, "Deployment") if obj["metadata"]["name"].endswith("-web")]
    return deployment


# --- Rendering and schema ------------------------------------------------------------------------


def test_overlay_renders_web_worker_and_migration(manifests: tuple[dict, ...]) -> None:
    names = {(obj["kind"], obj["metadata"]["name"]) for obj in manifests}
    assert {
        ("Deployment", "mcp-gateway-web"),
        ("Deployment", "mcp-gateway-worker"),
        ("Job", "mcp-gateway-migrate"),
    } <= names


def test_core_objects_validate_against_the_kubernetes_schema_offline(
    overlay: str, manifests: tuple[dict, ...], tool: Callable[[str], Path]
) -> None:
    tool("kubernetes-validate")
    assert check_k8s.validate({overlay: manifests}) == []


def test_the_schema_check_reports_a_misspelt_field(render: Callable, tool: Callable[[str], Path]) -> None:
    tool("kubernetes-validate")
    objects = copy.deepcopy(render("dev"))
    web(objects)["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    (problem,) = check_k8s.validate({"dev": objects})
    assert "deployment/mcp-gateway-web" in problem
    assert "'imagePullPolicyy' was unexpected" in problem


def test_an_overlay_that_does_not_render_is_reported(tmp_path: Path, tool: Callable[[str], Path]) -> None:
    tool("kubectl")
    (tmp_path / "kustomization.yaml").write_text("resources:\n  - missing.yaml\n")
    with pytest.raises(check_k8s.CheckError, match=r"kubectl kustomize .* failed"):
        check_k8s.render(tmp_path)


def test_custom_resources_have_api_version_kind_metadata_and_spec(manifests: tuple[dict, ...]) -> None:
    for obj in filter(check_k8s.is_custom_resource, manifests):
        assert obj.get("metadata", {}).get("name"), obj
        assert obj.get("spec"), f"{obj['kind']} has no spec"


def test_prometheus_rules_are_complete_and_their_expressions_balance(manifests: tuple[dict, ...]) -> None:
    for rule_set in of_kind(manifests, "PrometheusRule"):
        for group in rule_set["spec"]["groups"]:
            assert group["rules"], group["name"]
            for rule in group["rules"]:
                if "record" in rule:  # a recording rule: a name and an expression
                    assert rule["record"].startswith("mcp:") and rule["expr"], rule
                    assert_balanced(rule["expr"], rule["record"])
                    continue
                assert {"alert", "expr", "for", "labels", "annotations"} <= rule.keys(), rule
                assert rule["labels"].get("severity") in ("warning", "critical"), rule["alert"]
                assert_balanced(rule["expr"], rule["alert"])


def assert_balanced(expr: str, where: str) -> None:
    """Brackets and quotes of a PromQL expression pair up (a cheap parse without promtool)."""
    pairs, stack = {")": "(", "]": "[", "}": "{"}, []
    for char in re.sub(r'"[^"]*"', '""', expr):
        if char in "([{":
            stack.append(char)
        elif char in pairs:
            assert stack[-1:] == [pairs[char]], f"{where}: unbalanced {char!r} in {expr!r}"
            stack.pop()
    assert not stack, f"{where}: unclosed bracket in {expr!r}"
    assert expr.count('"') % 2 == 0, f"{where}: unclosed quote in {expr!r}"


@pytest.mark.parametrize("overlay_name", ["staging", "prod"])
def test_staging_and_prod_ship_the_service_monitor_and_alerts(overlay_name: str, render: Callable) -> None:
    rule_sets = of_kind(render(overlay_name), "PrometheusRule")
    assert of_kind(render(overlay_name), "ServiceMonitor")
    assert rule_sets
    expressions = " ".join(
        rule["expr"] for r in rule_sets for g in r["spec"]["groups"] for rule in g["rules"] if "alert" in rule
    )
    for metric in (
        'mcp_http_requests_total{status=~"5.."}',
        "mcp_http_request_duration_seconds_bucket",
        "mcp_provider_circuit_open",
        "mcp_jobs_queue_depth",
        'mcp_http_requests_total{status="429"}',
        "kube_pod_status_ready",
    ):
        assert metric in expressions, f"no alert on {metric}"


def test_examples_are_not_part_of_any_rendered_overlay(manifests: tuple[dict, ...]) -> None:
    assert not [obj for obj in manifests if obj["apiVersion"].startswith("external-secrets.io/")]


# --- Container and pod hardening -----------------------------------------------------------------


def test_every_container_runs_as_non_root(manifests: tuple[dict, ...]) -> None:
    for where, container in containers(manifests):
        context = container.get("securityContext", {})
        assert context.get("runAsNonRoot") is True, where
        assert context.get("runAsUser") == 10001, where


def test_every_container_has_a_read_only_root_filesystem(manifests: tuple[dict, ...]) -> None:
    for where, container in containers(manifests):
        assert container.get("securityContext", {}).get("readOnlyRootFilesystem") is True, where


def test_no_container_can_escalate_privileges(manifests: tuple[dict, ...]) -> None:
    for where, container in containers(manifests):
        context = container.get("securityContext", {})
        assert context.get("allowPrivilegeEscalation") is False, where
        assert not context.get("privileged"), where


def test_every_container_drops_all_capabilities(manifests: tuple[dict, ...]) -> None:
    for where, container in containers(manifests):
        capabilities = container.get("securityContext", {}).get("capabilities", {})
        assert capabilities.get("drop") == ["ALL"], where
        assert not capabilities.get("add"), where


def test_every_container_requests_and_limits_cpu_and_memory(manifests: tuple[dict, ...]) -> None:
    for where, container in containers(manifests):
        resources = container.get("resources", {})
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= resources.get(bound, {}).keys(), f"{where} lacks {bound}"


def test_every_pod_uses_runtime_default_seccomp_and_no_service_account_token(manifests: tuple[dict, ...]) -> None:
    for obj in workloads(manifests):
        spec = obj["spec"]["template"]["spec"]
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", obj["metadata"]["name"]
        assert spec["securityContext"]["runAsNonRoot"] is True, obj["metadata"]["name"]
        assert spec["automountServiceAccountToken"] is False, obj["metadata"]["name"]


def test_every_pod_mounts_tmp_from_an_empty_dir(manifests: tuple[dict, ...]) -> None:
    for obj in workloads(manifests):
        spec = obj["spec"]["template"]["spec"]
        empty_dirs = {volume["name"] for volume in spec.get("volumes", []) if "emptyDir" in volume}
        for container in spec["containers"]:
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            assert mounts.get("/tmp") in empty_dirs, f"{obj['metadata']['name']}/{container['name']}"


def test_web_container_has_startup_readiness_and_liveness_probes(manifests: tuple[dict, ...]) -> None:
    (container,) = web(manifests)["spec"]["template"]["spec"]["containers"]
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


# --- Images and secrets --------------------------------------------------------------------------


def test_every_image_has_a_tag_or_digest_and_none_is_latest(manifests: tuple[dict, ...]) -> None:
    for where, container in containers(manifests):
        image = container["image"]
        name_and_tag = image.split("@")[0].rsplit("/", 1)[-1]
        assert DIGEST.search(image) or ":" in name_and_tag, f"{where}: {image} has neither tag nor digest"
        assert not name_and_tag.endswith(":latest"), f"{where}: {image} uses latest"


def test_prod_images_are_pinned_by_digest(render: Callable) -> None:
    for where, container in containers(render("prod")):
        assert DIGEST.search(container["image"]), f"{where}: {container['image']} is not pinned by digest"


def test_rendered_output_holds_no_secret_values(manifests: tuple[dict, ...]) -> None:
    for secret in of_kind(manifests, "Secret"):
        assert not secret.get("data"), secret["metadata"]["name"]
        assert not secret.get("stringData"), secret["metadata"]["name"]


def test_workloads_take_secrets_only_by_reference(manifests: tuple[dict, ...]) -> None:
    for where, container in containers(manifests):
        secret_refs = [ref["secretRef"]["name"] for ref in container.get("envFrom", []) if "secretRef" in ref]
        assert secret_refs == ["mcp-gateway-secrets"], where
        assert all("value" not in var or "SECRET" not in var["name"] for var in container.get("env", [])), where


# --- Availability and network --------------------------------------------------------------------


def test_every_deployment_is_covered_by_a_pod_disruption_budget(manifests: tuple[dict, ...]) -> None:
    budgets = of_kind(manifests, "PodDisruptionBudget")
    for deployment in of_kind(manifests, "Deployment"):
        assert any(selects(pdb["spec"]["selector"], pod_labels(deployment)) for pdb in budgets), deployment["metadata"]


def test_a_default_deny_network_policy_covers_every_pod(manifests: tuple[dict, ...]) -> None:
    assert any(
        policy["spec"]["podSelector"] == {}
        and set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not policy["spec"].get("ingress")
        and not policy["spec"].get("egress")
        for policy in of_kind(manifests, "NetworkPolicy")
    )


def test_every_deployment_is_selected_by_an_allow_network_policy(manifests: tuple[dict, ...]) -> None:
    allow = [p for p in of_kind(manifests, "NetworkPolicy") if p["spec"]["podSelector"]]
    for deployment in of_kind(manifests, "Deployment"):
        assert any(selects(p["spec"]["podSelector"], pod_labels(deployment)) for p in allow), deployment["metadata"]


def test_egress_is_limited_to_dns_postgres_redis_and_https(manifests: tuple[dict, ...]) -> None:
    ports = {
        (port.get("protocol", "TCP"), port["port"])
        for policy in of_kind(manifests, "NetworkPolicy")
        for rule in policy["spec"].get("egress", [])
        for port in rule["ports"]
    }
    assert ports == {("UDP", 53), ("TCP", 53), ("TCP", 5432), ("TCP", 6379), ("TCP", 443)}


def test_web_ingress_is_allowed_only_from_the_ingress_controller_and_prometheus(manifests: tuple[dict, ...]) -> None:
    sources = {
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for policy in of_kind(manifests, "NetworkPolicy")
        if selects(policy["spec"]["podSelector"], pod_labels(web(manifests))) and policy["spec"]["podSelector"]
        for rule in policy["spec"].get("ingress", [])
        for peer in rule["from"]
    }
    assert sources == {"ingress-nginx", "monitoring"}


def test_ingress_serves_every_host_over_tls(manifests: tuple[dict, ...]) -> None:
    for ingress in of_kind(manifests, "Ingress"):
        tls_hosts = {host for entry in ingress["spec"]["tls"] for host in entry["hosts"]}
        assert {rule["host"] for rule in ingress["spec"]["rules"]} <= tls_hosts
        assert "cert-manager.io/cluster-issuer" in ingress["metadata"]["annotations"]


def test_web_autoscaler_scales_the_web_deployment_within_bounds(manifests: tuple[dict, ...]) -> None:
    (hpa,) = of_kind(manifests, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == web(manifests)["metadata"]["name"]
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    assert "replicas" not in web(manifests)["spec"], "the HPA owns the web replica count"


def test_migration_job_cleans_up_and_retries_a_bounded_number_of_times(manifests: tuple[dict, ...]) -> None:
    (job,) = of_kind(manifests, "Job")
    assert job["spec"]["ttlSecondsAfterFinished"] > 0
    assert 0 < job["spec"]["backoffLimit"] <= 3


def test_every_object_lives_in_the_overlay_namespace(overlay: str, manifests: tuple[dict, ...]) -> None:
    for obj in manifests:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == f"mcp-gateway-{overlay}", obj["metadata"]["name"]
