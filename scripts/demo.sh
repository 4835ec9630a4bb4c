#!/usr/bin/env bash
# Install radiusd and start it on the embedded SQLite database with demo data:
# a NAS at 127.0.0.1 (secret testing123), plan demo-10M, a demo pool and subscriber demo.
# It prints the radtest line that logs the demo subscriber in. Ctrl-C stops it.
# Extra arguments go to `radiusd serve` (e.g. -X for the debug view).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --disable-pip-version-check -c constraints.txt -e .
exec radiusd serve --demo --bind 127.0.0.1 "$@"
