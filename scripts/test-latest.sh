#!/usr/bin/env bash
# Try an upgrade: install the newest versions pyproject.toml allows (no constraints.txt) in a
# fresh venv, show what differs from constraints.txt, then lint, type-check and run the tests
# there. When it passes, `bash scripts/constraints.sh` pins those versions.
# Usage: bash scripts/test-latest.sh [--python PYTHON] [pytest args...]
#   e.g. bash scripts/test-latest.sh --python python3.13 tests/unit
# The venv is under $RADIUSD_LATEST_VENV (default: a temporary folder, removed afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."
python=python3
if [ "${1:-}" = "--python" ]; then python=$2; shift 2; fi
venv=${RADIUSD_LATEST_VENV:-}
if [ -z "$venv" ]; then
    venv=$(mktemp -d)/venv
    trap 'rm -rf "$(dirname "$venv")"' EXIT
fi

"$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
"${pip[@]}" install -q --upgrade pip
"${pip[@]}" install -q --upgrade --upgrade-strategy eager -e '.[test,bench]'

echo "== versions that differ from constraints.txt"
"${pip[@]}" freeze --exclude radiusd | LC_ALL=C sort -f > "$venv/latest.txt"
grep -v '^#' constraints.txt | diff - "$venv/latest.txt" | grep '^[<>]' || echo "(none)"

export PATH="$venv/bin:$PATH"
unset PYTHONPATH
echo "== ruff"; python -m ruff check .
echo "== mypy"; python -m mypy
echo "== pytest"
python -m pytest -q -n "${RADIUSD_TEST_WORKERS:-2}" --dist loadfile "$@"
