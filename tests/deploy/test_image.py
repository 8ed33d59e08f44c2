"""The container image definition: Dockerfile, .dockerignore and the role entrypoint."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

ENTRYPOINT = "docker/entrypoint.sh"


def instructions(repo: Path) -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (repo / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def final_stage(repo: Path) -> list[tuple[str, str]]:
    steps = instructions(repo)
    last_from = max(i for i, (name, _) in enumerate(steps) if name == "FROM")
    return steps[last_from:]


def test_hadolint_finds_nothing_in_the_dockerfile(tool: Callable, run: Callable) -> None:
    result = run([tool("hadolint"), "Dockerfile"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_base_image_is_a_slim_python_pinned_to_an_exact_version(repo: Path) -> None:
    (default,) = [args for name, args in instructions(repo) if name == "ARG" and args.startswith("PYTHON_IMAGE=")]
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.11\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", default)


def test_build_is_multi_stage_and_copies_only_the_venv_from_the_builder(repo: Path) -> None:
    assert [args for name, args in instructions(repo) if name == "FROM"] == [
        "${PYTHON_IMAGE} AS builder",
        "${PYTHON_IMAGE} AS runtime",
    ]
    assert ("COPY", "--from=builder /opt/venv /opt/venv") in final_stage(repo)


def test_final_stage_runs_as_the_fixed_non_root_user(repo: Path) -> None:
    users = [args for name, args in final_stage(repo) if name == "USER"]
    assert users
    assert users[-1] == "10001:10001"


def test_final_stage_installs_no_packages_or_build_tools(repo: Path) -> None:
    runs = " ".join(args for name, args in final_stage(repo) if name == "RUN")
    assert not re.search(r"\b(apt-get|apk|pip install|gcc|build-essential)\b", runs)


def test_static_files_are_collected_at_build_time_without_real_secrets(repo: Path) -> None:
    runs = " ".join(args for name, args in final_stage(repo) if name == "RUN")
    assert "SECRET_KEY=build-only-not-secret DJANGO_BUILD=1 python manage.py collectstatic --noinput" in runs
    assert not [args for name, args in instructions(repo) if name in ("ENV", "ARG") and "SECRET_KEY" in args]


def test_python_runs_unbuffered_without_writing_bytecode(repo: Path) -> None:
    env = " ".join(args for name, args in final_stage(repo) if name == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "PYTHONUNBUFFERED=1" in env


def test_image_starts_the_entrypoint_with_the_web_role_by_default(repo: Path) -> None:
    stage = final_stage(repo)
    assert ("ENTRYPOINT", f'["/app/{ENTRYPOINT}"]') in stage
    assert ("CMD", '["web"]') in stage
    assert ("EXPOSE", "8000") in stage


@pytest.mark.parametrize("pattern", [".git", ".venv", "*.sqlite3", "bench/results", "k8s", "docs", "tests", ".env"])
def test_dockerignore_keeps_local_state_out_of_the_build_context(repo: Path, pattern: str) -> None:
    assert pattern in (repo / ".dockerignore").read_text().splitlines()


def test_entrypoint_is_executable_posix_sh(repo: Path, run: Callable) -> None:
    script = repo / ENTRYPOINT
    assert script.stat().st_mode & 0o111
    assert script.read_text().startswith("#!/bin/sh\n")
    result = run(["sh", "-n", script])
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("role", "commands"),
    [
        (
            "web",
            [
                "uvicorn --host 0.0.0.0 --port 8000 --workers 3 --loop uvloop"
                " --http mcp_site.http_protocol:GatewayHttpProtocol --ws websockets-sansio --ws-max-size 65536"
                " --no-access-log --no-proxy-headers --no-server-header"
                " --timeout-graceful-shutdown 50 mcp_site.asgi:application"
            ],
        ),
        (
            "worker",
            # The periodic purge of expired files is queued first (an images-only gateway submits no job).
            [
                "python manage.py purge_expired_files --schedule",
                "python manage.py db_worker --interval 0.1 --no-reload",
            ],
        ),
        (
            "billing",
            ["python manage.py billing_flush_ledger --periodic-every 60 --health-port 8002 --health-host 0.0.0.0"],
        ),
        ("migrate", ["python manage.py migrate --noinput"]),
    ],
)
def test_entrypoint_execs_the_command_of_each_role(
    repo: Path, run: Callable, stub_commands: Callable, role: str, commands: list[str]
) -> None:
    stubs = stub_commands({"uvicorn": {}, "python": {}})
    result = run([repo / ENTRYPOINT, role], env={**stubs.env, "WEB_WORKERS": "3"})
    assert result.returncode == 0, result.stderr
    assert [" ".join(call) for call in stubs.calls()] == commands


def test_entrypoint_refuses_an_unknown_role(repo: Path, run: Callable, stub_commands: Callable) -> None:
    stubs = stub_commands({"uvicorn": {}, "python": {}})
    result = run([repo / ENTRYPOINT, "shell"], env=stubs.env)
    assert result.returncode != 0
    assert "unknown role 'shell'" in result.stderr
    assert stubs.calls() == []


def requirement_names(path: Path) -> set[str]:
    """The distribution names a requirements file pins (lower case, extras dropped)."""
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return {re.split(r"[\[=<>~ ]", line, maxsplit=1)[0].lower() for line in lines if line and not line.startswith("-")}


def test_the_runtime_requirements_hold_no_development_server_or_reloader(repo: Path) -> None:
    runtime = requirement_names(repo / "requirements.txt")
    assert runtime.isdisjoint({"daphne", "watchfiles"})
    assert {"uvicorn", "httptools", "uvloop", "websockets"} <= runtime
