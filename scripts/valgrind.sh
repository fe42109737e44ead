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
# one test per child, each under memcheck; a memcheck error fails that test
"${vg[@]}" $b/tests/conformance "$node" --providers cpu --timeout 600 \
  --expected-failures tests/conformance/expected_failures.txt "$@" | tail -n 3
wrap=$(mktemp)
trap 'rm -f "$wrap"' EXIT
printf '#!/bin/sh\nexec %s %s/%s/onyx "$@"\n' "${vg[*]}" "$PWD" "$b" >"$wrap"
chmod +x "$wrap"
for t in tests/cli/test_cli_{run,optimize,quantize,inspect,info}.sh; do
  bash "$t" "$wrap" | tail -n 1
done
echo "valgrind: done in $(( $(date +%s) - start )) s"
