"""Production settings pass Django's deployment checks and refuse an insecure start."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT, run_django
from tests.mcp_site.test_config import PRODUCTION


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_settings_pass_check_deploy_without_warnings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_settings_pass_check_deploy_without_the_development_servers():
    # The image installs only requirements.txt: daphne and uvicorn are development tools.
    blocker = (
        "import sys, importlib.abc\n"
        "class NoDevelopmentServers(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in {'daphne', 'uvicorn'}:\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, NoDevelopmentServers())\n"
    )
    code = "from django.core.management import call_command as c; c('check', '--deploy', '--fail-level', 'WARNING')"
    result = run_django(code, env=PRODUCTION, before_setup=blocker)
    assert result.returncode == 0, result.stderr[-2000:]


def test_production_without_secret_key_stops_with_a_message_naming_it():
    result = _manage("check", env={**PRODUCTION, "SECRET_KEY": ""})
    assert result.returncode != 0
    assert "SECRET_KEY is required when DJANGO_ENV=production" in result.stderr


def test_open_registration_needs_a_default_plan_in_production():
    """Otherwise a stranger registers, creates an organisation and uses the upstream with no limit or charge."""
    opened = {**PRODUCTION, "REGISTRATION_MODE": "open"}
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=opened)
    assert result.returncode != 0
    assert "billing.W001" in result.stdout + result.stderr
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env={**opened, "BILLING_DEFAULT_PLAN": "starter"})
    assert result.returncode == 0, result.stdout + result.stderr
