"""OpenID Connect sign-in: allauth's provider with a cached discovery document and clear failure pages.

``provider`` holds the provider and its OAuth2 adapter (selected through allauth's ``provider_class``
setting, see ``mcp_site.config.oidc_providers``); ``urls`` the sign-in and callback views; ``failures``
turns every failed third-party sign-in into a log line, an audit event and one page.
"""
