"""Built-in providers, registered through the same hooks as installed plugins."""
