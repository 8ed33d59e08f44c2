"""Development secrets are drawn once and kept in DEV_SECRETS_FILE; production never reads them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from mcp_site.config import load_config
from mcp_site.devsecrets import dev_secrets
from tests.conftest import ROOT


def test_development_draws_its_secrets_once_and_every_load_reads_the_same(tmp_path):
    environ = {"DEV_SECRETS_FILE": str(tmp_path / "var" / "dev-secrets.json")}
    first, second = load_config(environ), load_config(environ)
    assert first.secret_key == second.secret_key and first.field_encryption_key == second.field_encryption_key
    assert first.field_encryption_key != first.secret_key
    assert (tmp_path / "var" / "dev-secrets.json").stat().st_mode & 0o777 == 0o600


def test_secrets_set_in_the_environment_win_and_nothing_is_written(tmp_path):
    path = tmp_path / "dev-secrets.json"
    config = load_config({"DEV_SECRETS_FILE": str(path), "SECRET_KEY": "s" * 60, "FIELD_ENCRYPTION_KEY": "f" * 40})
    assert (config.secret_key, config.field_encryption_key) == ("s" * 60, "f" * 40)
    assert not path.exists()


def test_production_never_reads_or_writes_the_development_file(tmp_path):
    path = tmp_path / "dev-secrets.json"
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY is required"):
        load_config({"DJANGO_ENV": "production", "ALLOWED_HOSTS": "gw.example.com", "DEV_SECRETS_FILE": str(path)})
    assert not path.exists()


def test_processes_started_together_agree_on_the_secrets(tmp_path):
    path = tmp_path / "dev-secrets.json"
    code = (
        "import json, pathlib\nfrom mcp_site.devsecrets import dev_secrets\n"
        f"print(json.dumps(dev_secrets(pathlib.Path({str(path)!r}))))"
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True) for _ in range(6)
    ]
    seen = {process.communicate(timeout=30)[0] for process in processes}
    assert len(seen) == 1 and json.loads(seen.pop()) == json.loads(path.read_text())


def test_a_secret_missing_from_an_older_file_is_added_and_the_others_kept(tmp_path):
    path = tmp_path / "dev-secrets.json"
    path.write_text(json.dumps({"SECRET_KEY": "kept-" + "k" * 50}))  # pragma: allowlist secret
    secrets = dev_secrets(path)
    assert secrets["SECRET_KEY"] == "kept-" + "k" * 50 and secrets["FIELD_ENCRYPTION_KEY"]  # pragma: allowlist secret


def test_production_takes_several_field_encryption_keys_each_long_enough():
    production = {"DJANGO_ENV": "production", "ALLOWED_HOSTS": "gw.example.com"}
    production["SECRET_KEY"] = "x1Y2z3" * 10  # pragma: allowlist secret
    config = load_config({**production, "FIELD_ENCRYPTION_KEY": "n" * 32 + ", " + "o" * 32})
    assert config.field_encryption_key == "n" * 32 + "," + "o" * 32
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEY"):
        load_config({**production, "FIELD_ENCRYPTION_KEY": "n" * 32 + ",short"})
