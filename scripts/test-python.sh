#!/usr/bin/env bash
# Tests the Python package (python/) with pytest against the debug dvs (`swift build` first):
# installs it into the tools venv that scripts/install-deps.sh made, runs python/tests, and ends
# with one summary line. pytest's exit 5 (no tests collected) counts as a failure: the suite must run.
set -uo pipefail
cd "$(dirname "$0")/.."
venv=${DVS_TOOLS_DIR:-$HOME/.cache/dvs-tools}/venv
[ -x "$venv/bin/python" ] || { echo "error: no Python venv at $venv; run bash scripts/install-deps.sh first" >&2; exit 1; }
[ -x .build/debug/dvs ] || { echo "error: no .build/debug/dvs; run swift build first" >&2; exit 1; }
"$venv/bin/pip" install --quiet --disable-pip-version-check ./python || exit 1
rc=0
DVS_BIN="$PWD/.build/debug/dvs" "$venv/bin/python" -m pytest -q -p no:cacheprovider python/tests || rc=$?
echo "python tests: $([ $rc -eq 0 ] && echo passed || echo "FAILED (pytest exit $rc)")"
exit $rc
