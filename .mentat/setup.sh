#!/usr/bin/env bash
# Mentat: install what the repository needs (the same pinned virtualenv humans use).
set -euo pipefail
cd "$(dirname "$0")/.."
make install
