#!/usr/bin/env bash
# Mentat: what the bot runs before it commits — format, lint, then the fast tests.
set -euo pipefail
cd "$(dirname "$0")/.."
make format
make lint
# Fast tests: everything except the slow multi-process suites (marked `slow`).
make test-fast
