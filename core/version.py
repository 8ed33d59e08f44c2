"""The gateway's version, kept equal to ``pyproject.toml``; plugins declare the range they support."""

__version__ = "0.1.0"
