"""The GitHub Actions workflows: the generic structure check (scripts/check_workflows.py, also a
pre-commit hook) and what this project's CI and deploy pipelines must do."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import check_workflows

WORKFLOWS = ("ci.yml", "deploy.yml")


def load(repo: Path, name: str) -> dict:
    return check_workflows.load(repo / ".github" / "workflows" / name)


@pytest.mark.parametrize("name", WORKFLOWS)
def test_workflow_passes_the_structure_check(repo: Path, name: str) -> None:
    assert check_workflows.problems(load(repo, name), repo) == []


def test_structure_check_command_checks_every_workflow_and_exits_0(repo: Path) -> None:
    result = subprocess.run(
        [sys.executable, "scripts/check_workflows.py"], cwd=repo, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


GOOD = {
    "name": "Example",
    "on": {"push": None},
    "permissions": {"contents": "read"},
    "jobs": {
        "build": {"runs-on": "ubuntu-24.04", "steps": [{"uses": "actions/checkout@v4"}, {"run": "make test"}]},
        "ship": {"needs": "build", "uses": "./.github/workflows/ci.yml"},
    },
}


def test_a_well_formed_workflow_has_no_problems(repo: Path) -> None:
    assert check_workflows.problems(GOOD, repo) == []


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        (("name",), None, "no 'name'"),
        (("on",), None, "no 'on'"),
        (("permissions",), {"contents": "write"}, "top-level permissions"),
        (("jobs", "build", "runs-on"), None, "job build needs runs-on"),
        (("jobs", "build", "steps"), [], "job build needs steps"),
        (("jobs", "ship", "uses"), "./.github/workflows/missing.yml", "calls a missing workflow"),
        (("jobs", "build", "steps", 1, "uses"), "actions/cache@v4", "exactly one of run and uses"),
        (("jobs", "build", "steps", 0, "uses"), "actions/checkout@main", "is not pinned"),
        (("jobs", "ship", "needs"), ["build", "test"], "needs unknown job test"),
    ],
)
def test_the_structure_check_reports_each_kind_of_mistake(repo: Path, path: tuple, value: object, problem: str) -> None:
    workflow = copy.deepcopy(GOOD)
    *parents, last = path
    target = workflow
    for key in parents:
        target = target[key]
    target[last] = value
    found = check_workflows.problems(workflow, repo)
    assert any(problem in item for item in found), found


def test_ci_lints_tests_against_postgres_and_redis_and_scans_the_image(repo: Path) -> None:
    jobs = load(repo, "ci.yml")["jobs"]
    assert set(jobs) == {"lint", "test", "audit", "image"}
    assert "pre-commit run --all-files" in " ".join(step.get("run", "") for step in jobs["lint"]["steps"])
    services = {name: service["image"] for name, service in jobs["test"]["services"].items()}
    assert services == {"postgres": "postgres:15", "redis": "redis:7"}
    assert jobs["test"]["env"] == {
        "DATABASE_URL": "postgres://postgres:postgres@localhost:5432/test",  # pragma: allowlist secret
        "REDIS_URL": "redis://localhost:6379/0",
    }
    assert "make test" in [step.get("run") for step in jobs["test"]["steps"]]
    (scan,) = [step for step in jobs["image"]["steps"] if step.get("uses", "").startswith("aquasecurity/trivy-action@")]
    assert scan["with"]["severity"] == "HIGH,CRITICAL"
    assert scan["with"]["ignore-unfixed"] is True
    assert scan["with"]["exit-code"] == "1"


def test_ci_audits_the_pinned_dependencies_and_runs_weekly(repo: Path) -> None:
    workflow = load(repo, "ci.yml")
    assert workflow["on"]["schedule"][0]["cron"].split()[2:] == ["*", "*", "1"]
    commands = [step.get("run", "") for step in workflow["jobs"]["audit"]["steps"]]
    assert "pip install pip-audit==2.10.1" in commands
    (audit,) = [command for command in commands if command.startswith("pip-audit ")]
    assert "--strict" in audit
    assert "--requirement constraints.txt" in audit


def test_ci_can_be_called_by_the_deploy_workflow(repo: Path) -> None:
    assert "workflow_call" in load(repo, "ci.yml")["on"]


def test_deploy_runs_on_main_and_by_hand(repo: Path) -> None:
    triggers = load(repo, "deploy.yml")["on"]
    assert triggers["push"]["branches"] == ["main"]
    assert "workflow_dispatch" in triggers


def test_deploy_goes_from_ci_to_build_to_staging_to_production(repo: Path) -> None:
    jobs = load(repo, "deploy.yml")["jobs"]
    assert jobs["build"]["needs"] == "ci"
    assert jobs["staging"]["needs"] == "build"
    assert "staging" in jobs["production"]["needs"]


def test_production_job_waits_for_approval_in_the_production_environment(repo: Path) -> None:
    assert load(repo, "deploy.yml")["jobs"]["production"]["environment"]["name"] == "production"


def test_production_deploys_the_same_digest_as_staging(repo: Path) -> None:
    jobs = load(repo, "deploy.yml")["jobs"]
    assert jobs["production"]["env"]["IMAGE"] == jobs["staging"]["env"]["IMAGE"]
    assert "steps.push.outputs.digest" in str(jobs["build"]["steps"])


@pytest.mark.parametrize(("job", "target"), [("staging", "staging"), ("production", "prod")])
def test_each_environment_deploys_smoke_tests_and_rolls_back_on_failure(repo: Path, job: str, target: str) -> None:
    job_steps = load(repo, "deploy.yml")["jobs"][job]["steps"]
    runs = [step.get("run", "") for step in job_steps]
    assert f'k8s/deploy.sh deploy {target} "$IMAGE"' in runs
    assert 'make smoke URL="$SMOKE_URL"' in runs
    (rollback,) = [step for step in job_steps if step.get("run") == f"k8s/deploy.sh rollback {target}"]
    assert rollback["if"].startswith("${{ failure()")


@pytest.mark.parametrize("job", ["staging", "production"])
def test_smoke_test_authenticates_with_the_environments_smoke_key(repo: Path, job: str) -> None:
    (step,) = [s for s in load(repo, "deploy.yml")["jobs"][job]["steps"] if s.get("name") == "Smoke test"]
    assert step["env"] == {"API_KEY": "${{ secrets.SMOKE_API_KEY }}"}


@pytest.mark.parametrize("job", ["staging", "production"])
def test_two_deploys_to_one_environment_never_overlap(repo: Path, job: str) -> None:
    concurrency = load(repo, "deploy.yml")["jobs"][job]["concurrency"]
    assert concurrency["group"] == f"deploy-{job}"
    assert concurrency["cancel-in-progress"] is False


def test_only_the_build_job_may_write_packages(repo: Path) -> None:
    jobs = load(repo, "deploy.yml")["jobs"]
    writers = {name for name, job in jobs.items() if "write" in job.get("permissions", {}).values()}
    assert writers == {"build"}


def test_ci_installs_nginx_for_the_local_cluster_tests_before_testing(repo: Path) -> None:
    runs = [step.get("run") for step in load(repo, "ci.yml")["jobs"]["test"]["steps"]]
    assert runs.index(".venv/bin/python -m scripts.cluster_nginx") < runs.index("make test")
