#!/usr/bin/env bash
# Install the project with its test extras, then lint, type-check and run the whole suite
# (the browser tests last, as a step of their own).
# Usage: bash scripts/test.sh [pytest args...]
# pytest runs on RADIUSD_TEST_WORKERS pytest-xdist workers (default 2; 0: in this process), each
# taking whole files (--dist loadfile), so a module's shared daemon and databases stay in one
# process. Every test gets its ports from the OS and databases and folders of its own.
set -euo pipefail
cd "$(dirname "$0")/.."

# constraints.txt: the exact versions the suite passes with (scripts/constraints.sh regenerates it)
python3 -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[test]'

echo "== ruff"; python3 -m ruff check .
echo "== mypy"; python3 -m mypy  # radiusd ipam inventory tests ([tool.mypy] files)
echo "== lint-imports"; lint-imports --no-cache  # the floors ([tool.importlinter] in pyproject.toml)
echo "== deptry"; python3 -m deptry .  # exceptions: [tool.deptry] in pyproject.toml
# The whole suite (no arguments): tests/browser (headless Chromium) runs as a step of its own
# after the rest, one browser at a time.
browser=0
if [ "$#" -eq 0 ]; then
    set -- --ignore=tests/browser
    browser=1
fi
echo "== pytest"
set +e
python3 -m pytest -q -n "${RADIUSD_TEST_WORKERS:-2}" --dist loadfile "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
    echo "pytest collected no tests: treating as a failure" >&2
    exit 1
fi
if [ "$browser" -eq 1 ]; then
    echo "== pytest: browser (web console in headless Chromium)"
    set +e
    python3 -m pytest -q tests/browser
    brc=$?
    set -e
    if [ "$brc" -eq 5 ]; then
        echo "pytest collected no browser tests: treating as a failure" >&2
        brc=1
    fi
    if [ "$rc" -eq 0 ]; then rc=$brc; fi
fi
exit "$rc"
