"""MCP Gateway Django project: settings, URL map, ASGI/WSGI entry points and operations endpoints."""

#: The gateway's version (kept equal to ``pyproject.toml``); plugins declare the range they support.
__version__ = "0.1.0"
