"""Plugins: the hook specifications, the plugin manager and the built-in providers.

Public surface: :mod:`plugins.hookspecs` (what a plugin may implement), :mod:`plugins.types`
(the shapes a provider speaks) and :func:`plugins.manager.build_plugin_manager`.
"""
