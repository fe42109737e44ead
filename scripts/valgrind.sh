#!/usr/bin/env bash
# valgrind.sh — memcheck over the conformance runner and the CLI tests
# (`make valgrind`), on a build without sanitizers (build-valgrind/: Release
# with debug info, no CUDA). Valgrind sees what ASan cannot: uninitialised
# reads. Every error fails the run (--error-exitcode); leaks count as errors.
# Slow: about 20-40x the plain runtime (the whole conformance suite takes tens
# of minutes on 2 cores), so it is not part of `make test`.
# Usage: scripts/valgrind.sh [--filter SUBSTRING]...   (filters: conformance only)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind: apt-get install valgrind" >&2; exit 1; }
b=build-valgrind
cmake -S . -B $b -DCMAKE_BUILD_TYPE=RelWithDebInfo -DONYX_CUDA=OFF -DONYX_PYTHON=OFF >/dev/null
cmake --build $b -j"$(nproc)" --target conformance onyx_cli
vg=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect
    --suppressions="$PWD/tests/valgrind.supp" --trace-children=yes)
node=/usr/share/libonnx-testdata/data/node
start=$(date +%s)
# one test per child, each under memcheck. A child reports its verdict
# before memcheck's exit code could, so errors are also caught in the output
log=$(mktemp) rc=0
"${vg[@]}" $b/tests/conformance "$node" --providers cpu --timeout 600 \
  --expected-failures tests/conformance/expected_failures.txt "$@" >"$log" 2>&1 || rc=$?
tail -n 3 "$log"
errors=$(grep -c '^==[0-9]*== ' "$log" || true)
echo "valgrind: memcheck report lines in conformance: $errors"
if ((errors)); then grep '^==[0-9]*== ' "$log" | head -n 40; rm -f "$log"; exit 1; fi
rm -f "$log"
((rc == 0)) || { echo "valgrind: conformance failed (exit $rc)"; exit "$rc"; }
wrap=$(mktemp)
trap 'rm -f "$wrap"' EXIT
printf '#!/bin/sh\nexec %s %s/%s/onyx "$@"\n' "${vg[*]}" "$PWD" "$b" >"$wrap"
chmod +x "$wrap"
fails=0
for t in tests/cli/test_cli_{run,optimize,quantize,inspect,info}.sh; do
  bash "$t" "$wrap" | tail -n 1 || fails=$((fails + 1))
done
((fails == 0)) || { echo "valgrind: $fails CLI test scripts failed"; exit 1; }
echo "valgrind: done in $(( $(date +%s) - start )) s"
