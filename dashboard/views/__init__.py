"""Dashboard views: thin — each checks the role, calls one service or selector, renders a template."""
