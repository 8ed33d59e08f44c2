"""Fixtures for the simulator contract tests: one real simulator process per session."""

from collections.abc import Iterator

import httpx
import pytest

from tests.fixtures.simulator_server import run_simulator

SECRET_KEY = "sk_simulatorsimulatorsimulator12345"
PUBLISHABLE_KEY = "pk_simulatorsimulat"
RESTRICTED_KEY = "sk_restrictedrestrictedrestricted1"
# The session simulator accepts the two default keys plus one limited to two models.
SIM_KEYS = f"{SECRET_KEY},{PUBLISHABLE_KEY},{RESTRICTED_KEY}:openai|flux"


@pytest.fixture(scope="session")
def simulator_url() -> Iterator[str]:
    """Base URL of a simulator process shared by the whole test session."""
    with run_simulator({"SIM_KEYS": SIM_KEYS}) as url:
        yield url


@pytest.fixture
def gen(simulator_url: str) -> Iterator[httpx.Client]:
    """A client for the gen profile, authenticated with the default secret key."""
    headers = {"Authorization": f"Bearer {SECRET_KEY}"}
    with httpx.Client(base_url=simulator_url, headers=headers, timeout=10) as client:
        yield client


@pytest.fixture
def anon(simulator_url: str) -> Iterator[httpx.Client]:
    """An unauthenticated client (model lists, legacy hosts)."""
    with httpx.Client(base_url=simulator_url, timeout=10) as client:
        yield client
