"""One provider kind, one class: an installed plugin overrides a built-in's kind, and every clash is reported."""

from __future__ import annotations

from typing import ClassVar

from structlog.testing import capture_logs

from plugins.builtin.pollinations import PollinationsTextProvider
from plugins.hookspecs import hookimpl
from plugins.registry import duplicate_provider_kinds, install_plugin_manager, provider_classes
from tests.plugins.conftest import build_pm
from tests.plugins.fake_plugin import FakeProvider


class MirrorTextProvider(PollinationsTextProvider):
    """An installed plugin's own take on the built-in ``pollinations-text`` kind."""


class OtherFakeProvider(FakeProvider):
    kind: ClassVar[str] = "fake"


class MirrorPlugin:
    @hookimpl
    def mcp_provider_classes(self):
        return [MirrorTextProvider]


class FirstFakePlugin:
    @hookimpl
    def mcp_provider_classes(self):
        return [FakeProvider]


class SecondFakePlugin:
    @hookimpl
    def mcp_provider_classes(self):
        return [OtherFakeProvider]


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def test_an_installed_plugin_overrides_a_builtin_kind_and_the_clash_is_reported(restore_plugins):
    with capture_logs() as logs:
        install_plugin_manager(build_pm(MirrorPlugin()))
    assert provider_classes()["pollinations-text"] is MirrorTextProvider
    report = duplicate_provider_kinds()["pollinations-text"]
    assert _name(MirrorTextProvider) in report and _name(PollinationsTextProvider) in report
    assert report.endswith(f"{_name(MirrorTextProvider)} is used")
    [warning] = [line for line in logs if line["event"] == "provider_kind_duplicate"]
    assert warning["used"] == _name(MirrorTextProvider)
    assert warning["ignored"] == _name(PollinationsTextProvider)


def test_between_two_installed_plugins_the_one_registered_last_is_used_and_the_other_reported(restore_plugins):
    install_plugin_manager(build_pm(FirstFakePlugin(), SecondFakePlugin()))
    assert provider_classes()["fake"] is OtherFakeProvider
    assert set(duplicate_provider_kinds()) == {"fake"}


def test_without_a_clash_nothing_is_reported(restore_plugins):
    install_plugin_manager(build_pm())
    assert duplicate_provider_kinds() == {}
