#!/usr/bin/env bash
# The PyPI tools of scripts/test-tools.txt in a virtual environment under .build/test-tools, where the
# tests look for them. Idempotent: does nothing when the pinned versions are already there.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.build/test-tools
stamp="$venv/installed.txt"
if [[ -f "$stamp" ]] && cmp -s "$stamp" scripts/test-tools.txt; then exit 0; fi
mkdir -p .build
# Debian's python3 (python3-venv installs ensurepip for it); any python3 with venv does.
python=$(command -v python3)
[[ -x /usr/bin/python3 ]] && python=/usr/bin/python3
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/test-tools.txt
cp scripts/test-tools.txt "$stamp"
