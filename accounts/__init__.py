"""Accounts: users (e-mail login), organisations, roles, API keys, JWT."""
