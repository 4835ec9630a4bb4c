#!/usr/bin/env bash
# Build the wheel, install it with its pinned dependencies (constraints.txt) in a fresh venv,
# then, outside the source tree, start `radiusd serve --demo` on SQLite, log the demo subscriber
# in once and stop it (scripts/serve_login.py). .ci/run runs it; so can anyone.
# Usage: bash scripts/wheel-smoke.sh [PYTHON]    (default python3, e.g. python3.13)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
python=${1:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$python" -m pip wheel -q --disable-pip-version-check --no-deps -w "$tmp/dist" .
"$python" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q --disable-pip-version-check -c constraints.txt "$tmp"/dist/radiusd-*.whl
cd "$tmp"
env -u PYTHONPATH "$python" "$root/scripts/serve_login.py" --radiusd "$tmp/venv/bin/radiusd" --workdir "$tmp/run"
