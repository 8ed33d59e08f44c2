"""What plugin authors may import: the ``plugins`` package's ``__all__``, documented and complete."""

from __future__ import annotations

import ast
from pathlib import Path

import plugins

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "mcp-gateway-echo-provider"


def test_every_public_name_is_importable_from_the_package() -> None:
    assert all(getattr(plugins, name, None) is not None for name in plugins.__all__)


def test_every_public_name_is_listed_in_the_plugin_guide() -> None:
    guide = (ROOT / "docs" / "plugins.md").read_text()
    assert [name for name in plugins.__all__ if f"`{name}`" not in guide] == []


def test_the_example_plugin_imports_only_the_public_surface() -> None:
    imported = set()
    for source in (EXAMPLE / "mcp_gateway_echo").glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "plugins":
                imported.add(node.module)
    assert imported == {"plugins"}


def test_the_example_plugin_declares_the_gateway_versions_it_supports() -> None:
    assert 'dependencies = ["mcp-gateway>=0.1,<0.2"]' in (EXAMPLE / "pyproject.toml").read_text()
