"""The web dashboard for the people who use the gateway (server-rendered pages with htmx)."""
