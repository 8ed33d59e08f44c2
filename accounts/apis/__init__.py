"""The management API (DRF, JWT): thin views that validate, call one service or selector, serialise."""
