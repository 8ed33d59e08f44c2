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
