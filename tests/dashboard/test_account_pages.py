"""django-allauth's account pages in the dashboard's layout, under a Content-Security-Policy with no inline script."""

from __future__ import annotations

import re

from allauth.account.models import EmailAddress

SCRIPT = re.compile(r"<script\b[^>]*>", re.IGNORECASE)


def test_the_email_page_has_no_inline_script_and_confirms_removal_from_a_static_file(signed_in, member):
    client = signed_in("developer")
    user = client.get("/").wsgi_request.user
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
    response = client.get("/accounts/email/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="action_remove"' in page
    scripts = SCRIPT.findall(page)
    assert scripts and all(" src=" in tag for tag in scripts), scripts
    assert "/static/dashboard/account-email.js" in page
