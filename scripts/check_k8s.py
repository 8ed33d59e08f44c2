"""Render every Kustomize overlay and validate it offline: ``python scripts/check_k8s.py``.

Used by the pre-commit hook ``k8s-validate`` and by ``tests/deploy``. Each overlay under
``k8s/overlays/``, and each cluster add-on in :data:`ADDONS`, is rendered with ``kubectl kustomize``;
the core objects are checked with ``kubernetes-validate --strict`` against the schema of kubectl's
own minor version, through a proxy that refuses every connection (so the check can never depend on
the network). Custom resources (Prometheus Operator) have no schema there and are checked for structure by the tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
OVERLAYS_DIR = REPO / "k8s" / "overlays"
#: Cluster-wide add-ons (applied once per cluster, not per environment), validated like the overlays.
ADDONS = (REPO / "k8s" / "logging",)
BIN_DIR = Path(sys.executable).parent
#: API groups of custom resources: no core schema to validate them against.
CRD_GROUPS = ("monitoring.coreos.com",)
#: A proxy that refuses every connection proves the validation needs no network.
OFFLINE = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}
TIMEOUT_SECONDS = 120


class CheckError(Exception):
    """A tool is missing or an overlay does not render; the message says which and why."""


def tool(name: str) -> Path:
    """A command-line tool next to this interpreter (the project's virtualenv), else on PATH."""
    path = BIN_DIR / name
    if path.exists():
        return path
    found = shutil.which(name)
    if found is None:
        raise CheckError(f"{name} is not installed: make install (requirements-dev.txt) provides it")
    return Path(found)


def overlays() -> tuple[str, ...]:
    return tuple(sorted(path.name for path in OVERLAYS_DIR.iterdir() if (path / "kustomization.yaml").is_file()))


def render(overlay: str | Path) -> tuple[dict, ...]:
    """The objects ``kubectl kustomize`` renders for an overlay (a name under k8s/overlays, or a path)."""
    path = overlay if isinstance(overlay, Path) else OVERLAYS_DIR / overlay
    result = _run([tool("kubectl"), "kustomize", path])
    if result.returncode != 0:
        raise CheckError(f"kubectl kustomize {path} failed:\n{result.stderr.strip()}")
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def is_custom_resource(obj: dict) -> bool:
    return obj["apiVersion"].split("/")[0] in CRD_GROUPS


def kubernetes_version() -> str:
    """The Kubernetes version whose schema applies: kubectl's client minor version, as ``1.N.0``."""
    client = json.loads(_run([tool("kubectl"), "version", "--client", "-o", "json"]).stdout)["clientVersion"]
    return f"{client['major']}.{client['minor'].rstrip('+')}.0"


def validate(rendered: dict[str, tuple[dict, ...]]) -> list[str]:
    """Validate the core objects of each rendered overlay strictly, offline; return the problems found.

    Any output counts as a problem: a warning means an object was not checked against a schema.
    """
    with tempfile.TemporaryDirectory(prefix="check-k8s-") as tmp:
        files = []
        for name, objects in rendered.items():
            path = Path(tmp) / f"{name}.yaml"
            path.write_text(yaml.safe_dump_all([obj for obj in objects if not is_custom_resource(obj)]))
            files.append(path)
        result = _run(
            [tool("kubernetes-validate"), "--strict", "--quiet", "-k", kubernetes_version(), *files],
            env={**os.environ, **OFFLINE},
        )
    output = (result.stdout + result.stderr).strip()
    problems = output.splitlines() if output else []
    if result.returncode != 0 and not problems:
        problems = [f"kubernetes-validate exited with {result.returncode}"]
    return problems


def main() -> int:
    try:
        rendered = {overlay: render(overlay) for overlay in overlays()}
        rendered |= {f"addon-{path.name}": render(path) for path in ADDONS}
        problems = validate(rendered)
    except CheckError as exc:
        print(exc, file=sys.stderr)
        return 1
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


def _run(args: list[str | Path], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False, **kwargs
    )


if __name__ == "__main__":
    sys.exit(main())
