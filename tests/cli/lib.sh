# lib.sh — shared by tests/cli/test_*.sh (sourced, not a test): counters,
# checks for the CLI's contract, a scratch folder and the test models.
# Usage in a test: source "$(dirname "$0")/lib.sh" "$1" test_name
onyx=$1
test_name=$2
py=/usr/bin/python3
node_data=/usr/share/libonnx-testdata/data/node
pass=0
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# check DESC CMD...: CMD must succeed.
check() {
  local desc=$1; shift
  if "$@"; then ok; else bad "$desc"; fi
}

# run_ok DESC ARGS...: onyx ARGS must exit 0 with empty stderr; its stdout
# is left in $tmp/out.
run_ok() {
  local desc=$1; shift
  "$onyx" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [[ $rc -eq 0 && ! -s $tmp/err ]]; then ok; else bad "$desc: rc=$rc: $(head -c 600 "$tmp/err")"; fi
}

# run_err DESC PATTERN ARGS...: onyx ARGS must exit 1 or 2 (no crash) with
# exactly one stderr line `onyx: error: ...` containing PATTERN.
run_err() {
  local desc=$1 pattern=$2; shift 2
  "$onyx" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$? lines
  lines=$(wc -l <"$tmp/err")
  if [[ ($rc -eq 1 || $rc -eq 2) && $lines -eq 1 ]] && grep -q '^onyx: error: ' "$tmp/err" &&
     grep -qF -- "$pattern" "$tmp/err"; then
    ok
  else
    bad "$desc: rc=$rc, stderr: $(head -c 600 "$tmp/err")"
  fi
}

# run_usage DESC PATTERN ARGS...: as run_err, and the exit status must be 2
# (a usage error: the command line is wrong, not the model or the machine).
run_usage() {
  local desc=$1
  run_err "$@"
  local rc
  "$onyx" "${@:3}" >/dev/null 2>&1
  rc=$?
  if [[ $rc -eq 2 ]]; then ok; else bad "$desc: exit status $rc, expected 2"; fi
}

# py CODE...: runs python with numpy/onnx; fails the check when it exits non-zero.
pycheck() {
  local desc=$1; shift
  if "$py" -c "import sys, numpy as np, json; $*" >"$tmp/py" 2>&1; then ok; else bad "$desc: $(tail -3 "$tmp/py")"; fi
}

# has_provider NAME: true when this onyx build can use provider NAME here
# (onyx info --json lists the usable ones, comma-separated).
has_provider() {
  [[ ,$("$onyx" info --json 2>/dev/null | "$py" -c "import json,sys; print(json.load(sys.stdin).get('providers', ''))" 2>/dev/null), == *,$1,* ]]
}

finish() {
  echo "$test_name: $pass passed, $fail failed"
  [[ $fail -eq 0 ]]
}

mkdir -p "$tmp/m"
"$py" "$(dirname "${BASH_SOURCE[0]}")/models.py" "$tmp/m" || { echo "$test_name: cannot build test models"; exit 1; }
