#!/usr/bin/env bash
# demo.sh — runs the bundled digits CNN on its held-out test split.
set -euo pipefail
onyx=${1:-build/onyx}
cd "$(dirname "$0")/.."
"$onyx" --version
