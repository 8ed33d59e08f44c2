"""Structure checks for the GitHub Actions workflows (actionlint cannot be installed here)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

WORKFLOWS = ("ci.yml", "deploy.yml")
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@(v\d+(\.\d+){0,2}|\d+\.\d+\.\d+|[0-9a-f]{40})$")


def load(repo: Path, name: str) -> dict:
    workflow = yaml.safe_load((repo / ".github" / "workflows" / name).read_text())
    # YAML 1.1 reads the bare key `on` as the boolean True.
    if True in workflow:
        workflow["on"] = workflow.pop(True)
    return workflow


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


@pytest.fixture(params=WORKFLOWS)
def workflow(request: pytest.FixtureRequest, repo: Path) -> dict:
    return load(repo, request.param)


def test_workflow_has_a_name_triggers_and_jobs(workflow: dict) -> None:
    assert workflow.get("name")
    assert workflow.get("on")
    assert workflow.get("jobs")


def test_workflow_declares_least_privilege_permissions(workflow: dict) -> None:
    assert workflow["permissions"] == {"contents": "read"}


def test_every_job_runs_steps_on_a_runner_or_calls_a_local_workflow(workflow: dict, repo: Path) -> None:
    for name, job in workflow["jobs"].items():
        if "uses" in job:
            assert (repo / job["uses"]).is_file(), f"{name} calls a missing workflow {job['uses']}"
        else:
            assert job.get("runs-on"), f"{name} needs runs-on"
            assert job.get("steps"), f"{name} needs steps"


def test_every_action_is_pinned_to_a_version_tag_or_commit_sha(workflow: dict) -> None:
    for step in steps(workflow):
        if "uses" in step:
            assert PINNED.match(step["uses"]), f"{step['uses']} is not pinned"


def test_every_step_either_runs_a_command_or_uses_an_action(workflow: dict) -> None:
    for step in steps(workflow):
        assert ("run" in step) != ("uses" in step), step


def test_needs_name_existing_jobs(workflow: dict) -> None:
    for name, job in workflow["jobs"].items():
        needs = job.get("needs", [])
        for need in [needs] if isinstance(needs, str) else needs:
            assert need in workflow["jobs"], f"{name} needs unknown job {need}"


def test_ci_lints_tests_against_postgres_and_redis_and_scans_the_image(repo: Path) -> None:
    jobs = load(repo, "ci.yml")["jobs"]
    assert set(jobs) == {"lint", "test", "image"}
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
