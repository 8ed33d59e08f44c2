"""docs/configuration.md's table lists exactly the environment variables the settings read.

The variables are collected from the source of ``mcp_site/config.py`` and ``mcp_site/settings.py``
with :mod:`ast`: every call of an ``_Env`` reader (``env.string("NAME", …)``, ``env.integer(…)``,
``_Env(environ).integer(…)``…) and every direct ``os.environ`` / ``os.getenv`` read. Adding a
setting without a row in the table, or leaving a row for a setting nobody reads, fails here.
"""

from __future__ import annotations

import ast
import re

import pytest

from mcp_site.config import _Env
from tests.conftest import ROOT

SOURCES = (ROOT / "mcp_site" / "config.py", ROOT / "mcp_site" / "settings.py")
CONFIGURATION = ROOT / "docs" / "configuration.md"
README = ROOT / "README.md"

#: The methods of ``_Env`` that read one variable, named by their first argument.
READERS = frozenset(name for name, member in vars(_Env).items() if callable(member) and not name.startswith("_"))

#: Standard variables the table documents although no project code reads them: a library does.
READ_BY_LIBRARIES = frozenset(
    {
        # The OpenTelemetry SDK reads these itself; mcp_site/config.py only decides whether tracing is on.
        "OTEL_SERVICE_NAME",
        "OTEL_RESOURCE_ATTRIBUTES",
        "OTEL_TRACES_SAMPLER",
        "OTEL_TRACES_SAMPLER_ARG",
    }
)

_VARIABLE = re.compile(r"`([A-Z][A-Z0-9_]*)`")


def _is_environ(node: ast.expr) -> bool:
    """``os.environ`` or a bare ``environ``."""
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ"
    )


def _is_env_reader(node: ast.expr) -> bool:
    """``env`` (an ``_Env``) or ``_Env(...)`` itself."""
    return (isinstance(node, ast.Name) and node.id == "env") or (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_Env"
    )


def _literal(call: ast.Call, where: str) -> str:
    first = call.args[0] if call.args else None
    if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
        raise AssertionError(
            f"{where}:{call.lineno} reads a variable whose name is not a literal: it cannot be checked"
        )
    return first.value


def variables_read(source: str, where: str = "<source>") -> set[str]:
    """Every environment variable ``source`` reads, by name."""
    tree = ast.parse(source)
    inside_env = {
        id(node)
        for cls in ast.walk(tree)
        if isinstance(cls, ast.ClassDef) and cls.name == "_Env"
        for node in ast.walk(cls)
    }
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in inside_env:
            continue  # the readers themselves pass the name along
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method, receiver = node.func.attr, node.func.value
            if (
                (method in READERS and _is_env_reader(receiver))
                or (method == "get" and _is_environ(receiver))
                or (method == "getenv" and isinstance(receiver, ast.Name) and receiver.id == "os")
            ):
                names.add(_literal(node, where))
        elif isinstance(node, ast.Subscript) and _is_environ(node.value):
            key = node.slice
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                raise AssertionError(f"{where}:{node.lineno} reads a variable whose name is not a literal")
            names.add(key.value)
    return names


def settings_variables() -> set[str]:
    names: set[str] = set()
    for path in SOURCES:
        names |= variables_read(path.read_text(), where=str(path.relative_to(ROOT)))
    return names


def table_variables(markdown: str) -> set[str]:
    """The variables named in the first cell of the first ``| variable | …`` table's rows."""
    names: set[str] = set()
    in_table = False
    for line in markdown.splitlines():
        if line.startswith("| variable |"):
            in_table = True
            continue
        if in_table and not line.startswith("|"):
            break
        if in_table and not line.startswith("|---"):
            names |= set(_VARIABLE.findall(line.split("|")[1]))
    return names


def undocumented(read: set[str], documented: set[str]) -> set[str]:
    return read - documented


def test_the_collector_finds_the_settings_by_every_reading_style():
    names = settings_variables()
    # One per style: a reader on ``env``, a reader on ``_Env(environ)``, a nested default, a helper.
    assert {"DJANGO_ENV", "SIMULATOR_PORT", "OTEL_EXPORTER_OTLP_PROTOCOL", "JOBS_CALLBACK_SECRET"} <= names
    assert len(names) > 60


def test_a_new_setting_is_collected_and_reported_missing_from_the_table():
    source = 'def _jobs(env):\n    return {"x": env.integer("JOBS_NEW_KNOB", 1, minimum=0, maximum=2)}\n'
    read = variables_read(source) | variables_read('import os\nPORT = os.environ.get("OTHER_KNOB")\n')
    assert read == {"JOBS_NEW_KNOB", "OTHER_KNOB"}
    assert undocumented(read, table_variables(CONFIGURATION.read_text())) == {"JOBS_NEW_KNOB", "OTHER_KNOB"}


def test_a_variable_read_under_a_computed_name_is_refused():
    with pytest.raises(AssertionError, match="not a literal"):
        variables_read('def f(env, name):\n    return env.string(name, "")\n')


def test_every_variable_the_settings_read_is_in_the_configuration_table():
    missing = undocumented(settings_variables(), table_variables(CONFIGURATION.read_text()))
    assert not missing, f"document these in docs/configuration.md's table: {sorted(missing)}"


def test_every_variable_in_the_configuration_table_is_read_by_the_settings_or_a_library():
    stray = table_variables(CONFIGURATION.read_text()) - settings_variables() - READ_BY_LIBRARIES
    assert not stray, f"docs/configuration.md lists variables nothing reads: {sorted(stray)}"


def test_the_library_allow_list_holds_only_documented_variables_the_project_does_not_read():
    assert table_variables(CONFIGURATION.read_text()) >= READ_BY_LIBRARIES
    assert not READ_BY_LIBRARIES & settings_variables()


def test_the_readme_configuration_table_is_a_subset_of_the_full_one():
    short = table_variables(README.read_text())
    assert short, "the README's configuration table is missing"
    assert short <= table_variables(CONFIGURATION.read_text())
