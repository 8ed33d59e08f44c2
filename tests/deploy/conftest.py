"""Shared fixtures for the static checks of the delivery layer (image, manifests, workflows).

Nothing here imports Django: these tests run the command-line tools installed next to the test
interpreter (kubectl, hadolint, kubernetes-validate) and read files.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts import check_k8s

REPO = Path(__file__).resolve().parents[2]
OVERLAYS = check_k8s.overlays()
BIN_DIR = Path(sys.executable).parent


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test that takes ``overlay`` once per Kustomize overlay."""
    if "overlay" in metafunc.fixturenames:
        metafunc.parametrize("overlay", OVERLAYS)


def _tool_path(name: str) -> Path:
    path = BIN_DIR / name
    if not path.exists():
        pytest.skip(f"{name} is not installed next to {sys.executable}: pip install -r requirements-dev.txt")
    return path


def _run(args: list[str | Path], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], check=False, cwd=REPO, capture_output=True, text=True, timeout=120, **kwargs
    )


@pytest.fixture(scope="session")
def tool() -> Callable[[str], Path]:
    """Find a tool in the test interpreter's environment; skip the test if it is missing."""
    return _tool_path


@pytest.fixture(scope="session")
def run() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run a command from the repository root and capture its text output."""
    return _run


@functools.cache
def _render(overlay: str) -> tuple[dict, ...]:
    _tool_path("kubectl")
    return check_k8s.render(overlay)


@pytest.fixture(scope="session")
def render() -> Callable[[str], tuple[dict, ...]]:
    """Render an overlay with ``kubectl kustomize`` (as the pre-commit hook does): once per session."""
    return _render


@pytest.fixture
def manifests(overlay: str, render: Callable[[str], tuple[dict, ...]]) -> tuple[dict, ...]:
    """The rendered objects of the overlay this test is parametrised with."""
    return render(overlay)


@dataclass(frozen=True)
class Stubs:
    """Fake commands on PATH: ``env`` runs a process with them, ``calls()`` lists what it ran."""

    env: dict[str, str]
    log: Path

    def calls(self) -> list[list[str]]:
        """Every stubbed command run so far, in order, as ``[command, *args]``."""
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


_STUB = """\
import json, sys
with open({log!r}, "a") as log:
    log.write(json.dumps([{name!r}, *sys.argv[1:]]) + "\\n")
line = " ".join(sys.argv[1:])
for needle, reply in {replies!r}.items():
    if needle in line:
        print(reply, end="")
        break
"""


@pytest.fixture
def stub_commands(tmp_path: Path) -> Callable[[dict[str, dict[str, str]]], Stubs]:
    """Make fake commands that log their arguments and print canned answers.

    Call it with ``{command: {argument substring: stdout}}``; the first matching substring answers.
    """

    def make(answers: dict[str, dict[str, str]]) -> Stubs:
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir(exist_ok=True)
        log = tmp_path / "calls.jsonl"
        for name, replies in answers.items():
            stub = bin_dir / name
            stub.write_text(f"#!{sys.executable}\n" + _STUB.format(log=str(log), name=name, replies=replies))
            stub.chmod(0o755)
        return Stubs(env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin"}, log=log)

    return make


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository root."""
    return REPO
