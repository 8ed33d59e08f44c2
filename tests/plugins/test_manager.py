"""Loading plugins: built-ins and entry points alike; a broken plugin is reported and skipped."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from core.version import __version__
from plugins import manager
from plugins.registry import get_registry, install_plugin_manager, provider_classes
from tests.plugins.distributions import install_distribution

PLUGINS = {
    "good": """
        from plugins.hookspecs import hookimpl
        from tests.plugins.fake_plugin import FakeProvider

        @hookimpl
        def mcp_provider_classes():
            return [FakeProvider]
    """,
    "raises_on_import": """
        raise RuntimeError("this plugin cannot start")
    """,
    "missing_dependency": """
        import a_package_that_is_not_installed  # noqa
    """,
    "raises_in_hook": """
        from plugins.hookspecs import hookimpl

        @hookimpl
        def mcp_provider_classes():
            raise ValueError("bug in the plugin")
    """,
    "misspelt_hook": """
        from plugins.hookspecs import hookimpl

        @hookimpl
        def mcp_provider_clases():
            return []
    """,
    "returns_garbage": """
        from plugins.hookspecs import hookimpl

        @hookimpl
        def mcp_provider_classes():
            return ["not a class"]
    """,
}


@pytest.fixture
def installed(monkeypatch, tmp_path: Path, restore_plugins) -> None:
    """Every plugin above installed as entry points of one distribution."""
    source = tmp_path / "src"
    source.mkdir()
    for name, code in PLUGINS.items():
        (source / f"plug_{name}.py").write_text(textwrap.dedent(code))
    install_distribution(
        monkeypatch,
        tmp_path / "site",
        name="mixed-plugins",
        version="2.0",
        entry_points={name: f"plug_{name}" for name in PLUGINS},
        source_dirs=(source,),
    )


def _broken() -> dict[str, str]:
    return {b.name: b.error_type for b in manager.BROKEN}


def test_builtins_are_registered_without_entry_points():
    pm = manager.build_plugin_manager(load_entry_points=False)
    assert {name for name, _ in pm.list_name_plugin()} == set(manager.BUILTIN_PLUGINS)
    assert all(info.builtin and info.version == __version__ for info in manager.plugin_infos(pm))


def test_each_broken_plugin_is_recorded_with_its_error_and_skipped(installed):
    with capture_logs() as logs:
        pm = manager.build_plugin_manager()
    assert _broken() == {
        "raises_on_import": "RuntimeError",
        "missing_dependency": "ModuleNotFoundError",
        "raises_in_hook": "ValueError",
        "misspelt_hook": "PluginValidationError",
        "returns_garbage": "TypeError",
    }
    assert pm.has_plugin("good")
    assert not any(pm.has_plugin(name) for name in _broken())
    logged = {e["plugin"] for e in logs if e["event"] == "plugin_broken"}
    assert logged == set(_broken())


def test_the_misspelt_hook_is_named_in_the_error(installed):
    manager.build_plugin_manager()
    [misspelt] = [b for b in manager.BROKEN if b.name == "misspelt_hook"]
    assert "mcp_provider_clases" in misspelt.error


def test_broken_plugins_do_not_stop_the_others_from_serving(installed):
    install_plugin_manager(manager.build_plugin_manager())
    assert "fake" in provider_classes()
    assert {"pollinations-text", "openai-compatible"} <= set(provider_classes())


def test_installed_plugins_show_their_package_and_version(installed):
    pm = manager.build_plugin_manager()
    [good] = [info for info in manager.plugin_infos(pm) if info.name == "good"]
    assert (good.package, good.version, good.hooks, good.builtin) == (
        "mixed-plugins",
        "2.0",
        ("mcp_provider_classes",),
        False,
    )


def test_a_blocked_plugin_is_neither_loaded_nor_reported_broken(installed):
    pm = manager.build_plugin_manager(blocked=("raises_on_import", "plugins.builtin.openai_compatible"))
    assert "raises_on_import" not in _broken()
    assert not pm.has_plugin("plugins.builtin.openai_compatible")


def test_rebuilding_forgets_earlier_broken_plugins(installed):
    manager.build_plugin_manager()
    assert manager.BROKEN
    manager.build_plugin_manager(load_entry_points=False)
    assert manager.BROKEN == []


def test_a_second_plugin_claiming_a_taken_name_is_broken_and_the_first_keeps_serving(monkeypatch, tmp_path, installed):
    install_distribution(
        monkeypatch,
        tmp_path / "site2",
        name="impostor",
        version="0.1",
        entry_points={"plugins.builtin.pollinations": "plug_good"},
    )
    pm = manager.build_plugin_manager()
    assert "plugins.builtin.pollinations" in _broken()
    assert pm.get_plugin("plugins.builtin.pollinations").__name__ == "plugins.builtin.pollinations"


@pytest.mark.django_db(transaction=True)
async def test_broken_plugins_are_listed_in_readyz_which_stays_ready(installed, http):
    install_plugin_manager(manager.build_plugin_manager())
    await get_registry()
    response = await http.get("/readyz")
    assert response.status_code == 200, response.text
    broken = response.json()["checks"]["plugins"]["broken"]
    assert {"name": "misspelt_hook", "error": "PluginValidationError"} in broken
    assert {b["name"] for b in broken} == set(_broken())
