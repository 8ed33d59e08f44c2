"""The alert rules, unit-tested with ``promtool test rules`` against synthetic series.

promtool comes with Debian's ``prometheus`` package; ``.ci/run`` installs it under ``CI=true``.
Elsewhere these tests skip when it is missing, saying so.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import IN_CI

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "k8s" / "components" / "monitoring" / "prometheusrule.yaml"
UNIT_TESTS = Path(__file__).with_name("promtool") / "alerts_test.yaml"


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        reason = "promtool is not installed (Debian: apt-get install prometheus; .ci/run installs it under CI=true)"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    return found


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    """The PrometheusRule's groups as a plain rules file, with the unit tests beside it."""
    groups = yaml.safe_load(RULES.read_text())["spec"]["groups"]
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    shutil.copy(UNIT_TESTS, tmp_path / "alerts_test.yaml")
    return tmp_path


def _promtool(promtool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def test_promtool_accepts_the_rules(promtool: str, rules_dir: Path) -> None:
    result = _promtool(promtool, "check", "rules", "rules.yaml", cwd=rules_dir)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_fires_on_its_synthetic_series_and_stays_silent_on_healthy_ones(
    promtool: str, rules_dir: Path
) -> None:
    result = _promtool(promtool, "test", "rules", "alerts_test.yaml", cwd=rules_dir)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_broken_threshold_fails_the_unit_tests(promtool: str, rules_dir: Path) -> None:
    rules = rules_dir / "rules.yaml"
    rules.write_text(rules.read_text().replace("> 0.05", "> 0.5"))
    result = _promtool(promtool, "test", "rules", "alerts_test.yaml", cwd=rules_dir)
    assert result.returncode != 0 and "McpGatewayHighErrorRatio" in result.stdout + result.stderr


def test_every_alert_has_a_unit_test_that_expects_it_to_fire() -> None:
    alerts = {
        rule["alert"]
        for group in yaml.safe_load(RULES.read_text())["spec"]["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    tested = {
        case["alertname"]
        for test in yaml.safe_load(UNIT_TESTS.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert alerts - tested == set()
