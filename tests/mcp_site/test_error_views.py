"""The site's errors: a page for a person's browser, the JSON error shape for everyone else."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.accounts.factories import member_create_for_tests, organization_create_for_tests

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_client() -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(member_create_for_tests(organization=organization_create_for_tests(slug="acme"), role="owner"))
    return client


def assert_page(response, status: int, title: str, message: str) -> None:
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert f"<h1>{title}</h1>" in page and message in page
    assert "Traceback" not in page


@pytest.mark.parametrize("path", ["/accounts/nowhere/", "/results/9b2f0c4e-1d2a-4c1b-9a53-7f0e8d6c5b4a/file/"])
def test_a_browser_gets_a_page_for_an_unknown_page_and_a_script_gets_json(owner_client, path):
    assert_page(owner_client.get(path, HTTP_ACCEPT=BROWSER), 404, "Page not found", "")

    response = owner_client.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_the_api_and_htmx_requests_keep_json_even_from_a_browser(owner_client):
    response = owner_client.get("/api/nowhere/", HTTP_ACCEPT=BROWSER)
    assert response["Content-Type"].startswith("application/json") and "error" in response.json()

    response = owner_client.get("/accounts/nowhere/", HTTP_ACCEPT=BROWSER, HTTP_HX_REQUEST="true")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")


def test_a_form_posted_with_a_stale_csrf_token_tells_the_person_to_reload(owner_client):
    response = owner_client.post("/keys/new/", {"name": "k"}, HTTP_ACCEPT=BROWSER)
    assert_page(response, 403, "Not allowed", "reload the page and submit the form again")

    response = owner_client.post("/keys/new/", {"name": "k"})
    assert response.json()["error"]["code"] == "csrf_failed"


def test_a_wrong_method_on_a_page_is_a_page_with_its_allow_header(owner_client):
    response = owner_client.get("/keys/new/", HTTP_ACCEPT=BROWSER)
    assert_page(response, 405, "Method not allowed", "")
    assert response["Allow"] == "POST"
