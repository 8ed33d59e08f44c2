"""The pre-commit hooks that guard the delivery files (``make lint`` runs them on every file)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml


def hooks(repo: Path) -> dict[str, dict]:
    config = yaml.safe_load((repo / ".pre-commit-config.yaml").read_text())
    return {hook["id"]: hook for entry in config["repos"] for hook in entry["hooks"]}


@pytest.mark.parametrize(
    ("hook_id", "entry"),
    [
        ("hadolint", "hadolint"),
        ("k8s-validate", "python scripts/check_k8s.py"),
        ("workflows", "python scripts/check_workflows.py"),
    ],
)
def test_delivery_checks_run_offline_with_the_virtualenvs_tools(repo: Path, hook_id: str, entry: str) -> None:
    hook = hooks(repo)[hook_id]
    assert hook["entry"] == entry
    assert hook["language"] == "system"


def test_manifest_and_workflow_checks_run_when_their_files_or_scripts_change(repo: Path) -> None:
    found = hooks(repo)
    for hook_id, paths in {
        "k8s-validate": ["k8s/base/web-deployment.yaml", "scripts/check_k8s.py"],
        "workflows": [".github/workflows/ci.yml", "scripts/check_workflows.py"],
    }.items():
        for path in paths:
            assert re.search(found[hook_id]["files"], path), (hook_id, path)
        assert found[hook_id]["pass_filenames"] is False
