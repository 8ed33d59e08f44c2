"""Make a plugin "installed" the way ``pip install`` does: a ``.dist-info`` with ``entry_points.txt`` on ``sys.path``.

``importlib.metadata`` (and so the gateway's plugin manager) finds it exactly as it would find a
package installed into site-packages, without a virtualenv or the network.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path

import pytest

from plugins.manager import ENTRY_POINT_GROUP


def install_distribution(
    monkeypatch: pytest.MonkeyPatch,
    site: Path,
    *,
    name: str,
    version: str,
    entry_points: Mapping[str, str],
    source_dirs: tuple[Path, ...] = (),
) -> None:
    """Put a distribution named ``name`` with entry points (name → ``module[:attr]``) on ``sys.path``.

    :param site: an empty directory playing site-packages.
    :param source_dirs: directories holding the plugin's modules (what ``pip install -e`` adds to the path).
    """
    dist_info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = [f"[{ENTRY_POINT_GROUP}]", *(f"{ep} = {target}" for ep, target in entry_points.items())]
    (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for directory in (*source_dirs, site):
        monkeypatch.syspath_prepend(str(directory))
    importlib.invalidate_caches()
