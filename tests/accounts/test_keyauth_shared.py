"""Revocation reaches another process through the shared cache (Redis) within 5 s."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

from accounts import services
from accounts.roles import ADMIN
from tests.accounts.factories import api_key_create_for_tests, member_create_for_tests, organization_create_for_tests
from tests.conftest import ROOT, require_env

CHILD = """
import asyncio, os, sys, time
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mcp_site.settings")
django.setup()
from accounts.exceptions import InvalidApiKey
from accounts.keyauth import resolve_api_key

async def main():
    raw = os.environ["MGW_TEST_KEY"]
    await resolve_api_key(raw)
    print("ready", flush=True)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            await resolve_api_key(raw)
        except InvalidApiKey:
            print(f"refused {time.monotonic()}", flush=True)
            return
        await asyncio.sleep(0.02)
    print("still-accepted", flush=True)

asyncio.run(main())
"""


def _deactivate_creator(api_key) -> None:
    creator = api_key.created_by
    creator.is_active = False
    creator.save()


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "revoke", [lambda key: services.api_key_revoke(api_key=key), _deactivate_creator], ids=["revoked", "creator-left"]
)
def test_a_revoked_key_is_refused_by_a_second_process_within_five_seconds(revoke):
    require_env("REDIS_URL")
    database_url = require_env("DATABASE_URL")
    organization = organization_create_for_tests()
    creator = member_create_for_tests(organization=organization, role=ADMIN)
    api_key, raw = api_key_create_for_tests(org=organization, created_by=creator)
    # The child must read the test database this test wrote to.
    parts = urlsplit(database_url)
    child_db = urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))
    env = {**os.environ, "DATABASE_URL": child_db, "MGW_TEST_KEY": raw}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "ready", child.stderr.read()
        revoke(api_key)
        revoked_at = time.monotonic()
        line = child.stdout.readline().split()
        assert line, child.stderr.read()
        assert line[0] == "refused", (line, child.stderr.read())
        assert float(line[1]) - revoked_at < 5.0
    finally:
        child.kill()
        child.wait(timeout=10)
