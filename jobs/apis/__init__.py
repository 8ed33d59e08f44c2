"""Management API views of the jobs app (``/api/orgs/<slug>/webhooks…``)."""
