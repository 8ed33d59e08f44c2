"""Schema-driven fuzzing of the whole OpenAPI schema (management API and ``/v1``) against a real server.

Every operation of ``/api/schema/`` gets up to ``MAX_EXAMPLES`` generated requests, authenticated
(a JWT for ``/api``, an API key for ``/v1``), against a real gateway process in front of the
simulator. Zero server errors, and every status and content type answered is one the schema
documents for that operation.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.conf import settings
from django.db import connection
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from tests.accounts.factories import api_key_create_for_tests, organization_create_for_tests, user_create_for_tests
from tests.fixtures.gateway_server import gateway_env, run_gateway
from tests.fixtures.simulator_server import run_simulator

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.timeout(1500)]

#: Examples per operation (about 70 operations; a few minutes in all).
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "100"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance]


def _fuzz(operation, base_url: str, authorization: str) -> None:
    @given(case=operation.as_strategy())
    @hypothesis_settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case) -> None:
        response = case.call(base_url=base_url, headers={"Authorization": authorization}, timeout=30)
        case.validate_response(response, checks=CHECKS)

    run()


def test_every_operation_of_the_schema_survives_fuzzing_with_documented_answers_only():
    owner = user_create_for_tests()
    organization = organization_create_for_tests(owner=owner)
    _, api_key = api_key_create_for_tests(org=organization)
    failures = []
    with run_simulator() as upstream_url:
        env = gateway_env(
            database_name=connection.settings_dict["NAME"], upstream_url=upstream_url, SECRET_KEY=settings.SECRET_KEY
        )
        with run_gateway(env) as base_url:
            schema = schemathesis.openapi.from_url(f"{base_url}/api/schema/?format=json")
            operations = [result.ok() for result in schema.get_all_operations()]
            assert len(operations) > 60, "the schema lists the management API and /v1"
            for operation in operations:
                # Access tokens are short-lived: a fresh one per operation (same SECRET_KEY as the server).
                secret = api_key if operation.path.startswith("/v1") else str(RefreshToken.for_user(owner).access_token)
                try:
                    _fuzz(operation, base_url, f"Bearer {secret}")
                except Exception as exc:  # noqa: BLE001 - every operation's failures are reported together.
                    failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:1500]}")
    assert failures == [], "\n\n".join(failures)
