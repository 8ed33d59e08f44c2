"""MCP Gateway Django project: settings, URL map, ASGI/WSGI entry points and operations endpoints."""
