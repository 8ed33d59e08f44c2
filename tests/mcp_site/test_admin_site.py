"""The operators' admin: the product's name, and the pages that are not model lists linked from the index."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from accounts.models import User

pytestmark = pytest.mark.django_db


def test_the_admin_carries_the_gateway_name_and_links_its_operations_pages(admin_client):
    body = admin_client.get(reverse("admin:index")).content.decode()
    assert "<title>Operations | MCP Gateway</title>" in body
    assert "MCP Gateway administration" in body
    for page in ("admin:billing_analytics", "admin:plugins_installed_plugins"):
        link = reverse(page)
        assert f'href="{link}"' in body
        assert admin_client.get(link).status_code == 200


def test_the_index_links_only_the_pages_the_operator_may_view():
    user = User.objects.create_user(email="support@example.com", password="a long enough password", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_usageevent"))
    client = Client()
    client.force_login(user)
    body = client.get(reverse("admin:index")).content.decode()
    assert f'href="{reverse("admin:billing_analytics")}"' in body
    assert reverse("admin:plugins_installed_plugins") not in body


def _every_changelist() -> list[str]:
    """The project's lists and those of the apps it installs (allauth, the token blacklist, the task results…)."""
    from django.contrib import admin

    return sorted(f"{model._meta.app_label}_{model._meta.model_name}" for model in admin.site._registry)


@pytest.mark.parametrize("changelist", _every_changelist())
def test_an_action_on_ids_that_are_not_ids_selects_nothing_rather_than_failing(admin_client, changelist):
    url = reverse(f"admin:{changelist}_changelist")
    action_form = admin_client.get(url).context["action_form"]
    actions = [name for name, _ in action_form.fields["action"].choices if name] if action_form else []
    if not actions:
        pytest.skip("no action on this list")
    response = admin_client.post(
        url, {"action": actions[0], "_selected_action": ["zzz", "not-an-id"], "index": "0"}, follow=True
    )
    assert response.status_code == 200
    assert "Items must be selected in order to perform actions on them." in response.content.decode()


def test_an_add_form_whose_autocomplete_field_is_not_an_id_is_shown_again_with_the_error(admin_client):
    from accounts.models import Organization

    organization = Organization.objects.create(name="Acme", slug="acme")
    response = admin_client.post(
        reverse("admin:accounts_membership_add"), {"organization": organization.pk, "user": "x", "role": "viewer"}
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
