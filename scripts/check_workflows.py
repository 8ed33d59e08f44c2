"""Structure check for GitHub Actions workflows: ``python scripts/check_workflows.py [FILE ...]``.

actionlint cannot be installed here, so this checks what it would catch first, offline: name,
triggers and jobs are present; permissions are least-privilege; each job runs steps on a runner
or calls a workflow that exists; each step runs a command or uses an action, never both; every
action is pinned to a version tag or commit; ``needs`` names existing jobs. Without arguments it
checks every file in ``.github/workflows``. Used by the pre-commit hook ``workflows`` and by
``tests/deploy/test_workflows.py``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
WORKFLOWS_DIR = REPO / ".github" / "workflows"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@(v\d+(\.\d+){0,2}|\d+\.\d+\.\d+|[0-9a-f]{40})$")
LEAST_PRIVILEGE = {"contents": "read"}

Rule = Callable[[dict, Path], Iterator[str]]


def load(path: Path) -> dict:
    """A workflow as a dict, with the trigger key ``on`` as a string (YAML 1.1 reads it as ``True``)."""
    workflow = yaml.safe_load(path.read_text()) or {}
    if True in workflow:
        workflow["on"] = workflow.pop(True)
    return workflow


def steps(workflow: dict) -> list[dict]:
    return [step for job in (workflow.get("jobs") or {}).values() for step in job.get("steps", [])]


def _has_name_triggers_and_jobs(workflow: dict, repo: Path) -> Iterator[str]:
    for key in ("name", "on", "jobs"):
        if not workflow.get(key):
            yield f"no {key!r}"


def _least_privilege(workflow: dict, repo: Path) -> Iterator[str]:
    if workflow.get("permissions") != LEAST_PRIVILEGE:
        yield f"top-level permissions must be {LEAST_PRIVILEGE} (widen them per job)"


def _jobs_run_steps_or_call_a_local_workflow(workflow: dict, repo: Path) -> Iterator[str]:
    for name, job in (workflow.get("jobs") or {}).items():
        if "uses" in job:
            if not (repo / job["uses"]).is_file():
                yield f"job {name} calls a missing workflow {job['uses']}"
        else:
            if not job.get("runs-on"):
                yield f"job {name} needs runs-on"
            if not job.get("steps"):
                yield f"job {name} needs steps"


def _steps_run_or_use(workflow: dict, repo: Path) -> Iterator[str]:
    for step in steps(workflow):
        if ("run" in step) == ("uses" in step):
            yield f"step {step.get('name', step)!r} must have exactly one of run and uses"


def _actions_pinned(workflow: dict, repo: Path) -> Iterator[str]:
    for step in steps(workflow):
        if "uses" in step and not PINNED.match(step["uses"]):
            yield f"action {step['uses']} is not pinned to a version tag or commit SHA"


def _needs_existing_jobs(workflow: dict, repo: Path) -> Iterator[str]:
    jobs = workflow.get("jobs") or {}
    for name, job in jobs.items():
        needs = job.get("needs", [])
        for need in [needs] if isinstance(needs, str) else needs:
            if need not in jobs:
                yield f"job {name} needs unknown job {need}"


RULES: tuple[Rule, ...] = (
    _has_name_triggers_and_jobs,
    _least_privilege,
    _jobs_run_steps_or_call_a_local_workflow,
    _steps_run_or_use,
    _actions_pinned,
    _needs_existing_jobs,
)


def problems(workflow: dict, repo: Path = REPO) -> list[str]:
    """Every rule's complaints about one loaded workflow (empty when it is well-formed)."""
    return [problem for rule in RULES for problem in rule(workflow, repo)]


def main(argv: list[str]) -> int:
    paths = [Path(arg) for arg in argv] or sorted(WORKFLOWS_DIR.glob("*.y*ml"))
    failed = False
    for path in paths:
        for problem in problems(load(path)):
            print(f"{path}: {problem}", file=sys.stderr)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
