"""Meta-tests: every hook is documented under its exact signature and has a ``test_hook_<name>`` test.

Hooks are read from ``plugins/hookspecs.py`` itself, so adding a hook without documenting and
testing it fails here (the datasette way).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from plugins.types import Provider
from tests.conftest import ROOT

HOOKSPECS = ROOT / "plugins" / "hookspecs.py"
DOCS = ROOT / "docs" / "plugins.md"
TESTS = Path(__file__).parent


def _hookspecs() -> dict[str, str]:
    """Hook name → its signature as documented: ``mcp_request(call, caller)``."""
    specs = {}
    for node in ast.parse(HOOKSPECS.read_text()).body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for decorator in node.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            if isinstance(target, ast.Name) and target.id == "hookspec":
                specs[node.name] = f"{node.name}({', '.join(arg.arg for arg in node.args.args)})"
    return specs


HOOKS = _hookspecs()


def _headings() -> set[str]:
    return {match.strip() for match in re.findall(r"^###\s+(.+)$", DOCS.read_text(), re.M)}


def _test_names() -> set[str]:
    names = set()
    for path in TESTS.glob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_hook_"):
                names.add(node.name)
    return names


def test_the_hookspecs_are_found():
    assert set(HOOKS) >= {"mcp_provider_classes", "mcp_request", "mcp_response"}


@pytest.mark.parametrize("hook", sorted(HOOKS))
def test_each_hook_has_a_reference_heading_with_its_exact_signature(hook):
    assert HOOKS[hook] in _headings(), f"docs/plugins.md needs a heading '### {HOOKS[hook]}'"


@pytest.mark.parametrize("hook", sorted(HOOKS))
def test_each_hook_has_a_test(hook):
    assert any(name.startswith(f"test_hook_{hook}") for name in _test_names()), (
        f"tests/plugins needs a test named test_hook_{hook}…"
    )


def test_no_heading_documents_a_hook_that_does_not_exist():
    documented = {h for h in _headings() if re.fullmatch(r"mcp_\w+\(.*\)", h)}
    assert documented == set(HOOKS.values())


@pytest.mark.parametrize(
    "member", sorted(name for name in vars(Provider) if not name.startswith("_") and name != "settings")
)
def test_each_provider_attribute_and_method_is_documented(member):
    assert f"`{member}" in DOCS.read_text(), f"docs/plugins.md's Provider reference needs `{member}`"
