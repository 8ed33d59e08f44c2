"""k8s/deploy.sh, run against fake kubectl and kustomize commands (there is no cluster here)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

SCRIPT = "k8s/deploy.sh"
OLD = "ghcr.io/example-org/mcp-gateway@sha256:" + "a" * 64
NEW = "ghcr.io/example-org/mcp-gateway@sha256:" + "b" * 64


@pytest.fixture
def cluster(stub_commands: Callable) -> object:
    """A fake cluster where OLD runs, was deployed after itself, and every migration completes."""
    return stub_commands(
        {
            "kubectl": {
                "jsonpath={.spec.template.spec.containers[0].image}": OLD,
                "jsonpath={.metadata.annotations.mcp-gateway/previous-image}": OLD,
                "jsonpath={.status.conditions": "Complete",
            },
            "kustomize": {},
        }
    )


def commands(calls: list[list[str]]) -> list[str]:
    """Calls without kubectl's read-only `get`, as text."""
    return [" ".join(call) for call in calls if call[:1] != ["kubectl"] or "get" not in call]


def test_deploy_script_is_valid_bash(repo: Path, run: Callable) -> None:
    assert (repo / SCRIPT).stat().st_mode & 0o111
    result = run(["bash", "-n", repo / SCRIPT])
    assert result.returncode == 0, result.stderr


def test_deploy_refuses_an_image_not_pinned_by_digest(repo: Path, run: Callable, cluster) -> None:
    result = run([repo / SCRIPT, "deploy", "staging", "ghcr.io/example-org/mcp-gateway:latest"], env=cluster.env)
    assert result.returncode != 0
    assert "pinned by digest" in result.stderr
    assert cluster.calls() == []


def test_deploy_refuses_an_unknown_overlay(repo: Path, run: Callable, cluster) -> None:
    result = run([repo / SCRIPT, "deploy", "qa", NEW], env=cluster.env)
    assert result.returncode != 0
    assert "no overlay named 'qa'" in result.stderr


def test_deploy_records_the_running_image_then_migrates_then_rolls_out(repo: Path, run: Callable, cluster) -> None:
    result = run([repo / SCRIPT, "deploy", "staging", NEW], env=cluster.env)
    assert result.returncode == 0, result.stdout + result.stderr
    ns = "-n mcp-gateway-staging"
    assert commands(cluster.calls()) == [
        f"kubectl {ns} annotate deployment/mcp-gateway-web --overwrite mcp-gateway/previous-image={OLD}",
        f"kustomize edit set image mcp-gateway={NEW}",
        f"kubectl {ns} delete job/mcp-gateway-migrate --ignore-not-found --wait=true",
        f"kubectl apply -k {repo}/k8s/overlays/staging -l app.kubernetes.io/component notin (web,worker)",
        f"kubectl apply -k {repo}/k8s/overlays/staging -l app.kubernetes.io/component!=migrate",
        f"kubectl {ns} rollout status deployment/mcp-gateway-web --timeout=300s",
        f"kubectl {ns} rollout status deployment/mcp-gateway-worker --timeout=300s",
    ]


def test_rollback_redeploys_the_recorded_image_without_migrating(repo: Path, run: Callable, cluster) -> None:
    result = run([repo / SCRIPT, "rollback", "prod"], env=cluster.env)
    assert result.returncode == 0, result.stdout + result.stderr
    ns = "-n mcp-gateway-prod"
    assert commands(cluster.calls()) == [
        f"kustomize edit set image mcp-gateway={OLD}",
        f"kubectl apply -k {repo}/k8s/overlays/prod -l app.kubernetes.io/component!=migrate",
        f"kubectl {ns} rollout status deployment/mcp-gateway-web --timeout=300s",
        f"kubectl {ns} rollout status deployment/mcp-gateway-worker --timeout=300s",
    ]
