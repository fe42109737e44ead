#!/usr/bin/env bash
# test_cli_corpus.sh — `onyx run` over every case of the malformed-input
# corpus (tests/corpus/manifest.txt, issue #20), with `-i name=file` for the
# case's inputs. An error case must exit 1 with exactly one stderr line,
# `onyx: error: ...`, holding the manifest's message fragment; an OK case
# must exit 0 with nothing on stderr; no case may leave a sanitizer report.
# A case's `cli=CODE` says what the CLI must do where it differs from the C
# API (it fills inputs not given with random data). Cases marked `bug:` are
# known library bugs: where the CLI's contract breaks on one it is reported as
# XFAIL with the bug's reason; where it holds (a wrong code that still exits 1)
# it counts as passed. The sanitizers write to log files here (log_path), so
# a report can't hide in, or add to, the one stderr line; ASan is asked to
# return NULL for impossible allocations (allocator_may_return_null), as
# malloc does without it, so onyx's OUT_OF_MEMORY path is what runs.
source "$(dirname "$0")/lib.sh" "$1" test_cli_corpus
corpus=${ONYX_CORPUS_DIR:-$(cd "$(dirname "$0")/../corpus" && pwd)}   # env: another corpus (tests of this test)
san=$tmp/san
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}allocator_may_return_null=1:log_path=$san"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:log_path=$san"
xfail=0 cases=0

# The manifest as fields separated by \x1f (not whitespace, so that `read`
# keeps empty ones): line file stage code fragment inputs cli sparse bug
"$py" - "$corpus/manifest.txt" >"$tmp/cases.txt" <<'EOF' || { echo "cannot read the manifest"; exit 1; }
import shlex, sys
for n, text in enumerate(open(sys.argv[1]), 1):
    text = text.strip()
    if not text or text.startswith("#"):
        continue
    text, _, bug = text.partition(" bug:")
    f = shlex.split(text)
    opts = dict(o.split("=", 1) for o in f[5:])
    row = [str(n), f[0], f[1], f[2], "" if f[3] == "-" else f[3], f[4] if len(f) > 4 and f[4] != "-" else "",
           opts.get("cli", ""), opts.get("sparse", ""), bug.strip()]
    print("\x1f".join(row))
EOF

# sanitizer_report: prints the sanitizer logs' lines other than ASan's
# notes on allocations it refused (the OUT_OF_MEMORY cases), and clears them.
sanitizer_report() {
  local f
  for f in "$san".*; do
    [[ -e $f ]] || continue
    grep -v -e '^==[0-9]*==WARNING: AddressSanitizer failed to allocate 0x[0-9a-f]* bytes$' -e '^$' "$f"
    rm -f "$f"
  done
}

while IFS=$'\x1f' read -r line file stage code frag inputs cli sparse bug; do
  cases=$((cases + 1))
  model=$corpus/cases/$file
  dir=
  if [[ -n $sparse ]]; then   # a copy next to a sparse file of the stated size
    dir=$(mktemp -d "$tmp/sparse.XXXXXX")
    cp "$model" "$dir/" && model=$dir/$file
    if ! truncate -s "${sparse##*:}" "$dir/${sparse%:*}" 2>/dev/null; then
      echo "SKIP line $line $file: cannot make a sparse file of ${sparse##*:} bytes here"
      rm -rf "$dir"
      continue
    fi
  fi
  args=(run "$model")
  if [[ -n $inputs ]]; then
    IFS=, read -ra feeds <<<"$inputs"
    for f in "${feeds[@]}"; do args+=(-i "${f%%=*}=$corpus/cases/${f#*=}"); done
  fi
  "$onyx" "${args[@]}" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  [[ -n $dir ]] && rm -rf "$dir"
  want=${cli:-$code}
  report=$(sanitizer_report; grep -e 'runtime error' -e '^==[0-9]*==ERROR' -e 'Sanitizer' "$tmp/err")
  problem=
  if [[ -n $report ]]; then
    problem="sanitizer report: $(echo "$report" | grep -m1 -e 'ERROR' -e 'runtime error' -e 'SUMMARY' || echo "$report" | head -1)"
  elif [[ $want == OK ]]; then
    [[ $rc -eq 0 && ! -s $tmp/err ]] || problem="expected exit 0 and no stderr, got rc=$rc: $(head -c 300 "$tmp/err")"
  elif [[ $rc -ne 1 ]]; then
    problem="expected exit status 1 ($want), got $rc: $(head -c 300 "$tmp/err")"
  elif [[ $(wc -l <"$tmp/err") -ne 1 ]] || ! grep -q '^onyx: error: ' "$tmp/err"; then
    problem="expected one 'onyx: error:' line on stderr, got: $(head -c 300 "$tmp/err")"
  elif [[ -n $frag && -z $cli ]] && ! grep -qF -- "$frag" "$tmp/err"; then
    problem="the error line lacks '$frag': $(head -c 300 "$tmp/err")"
  fi
  problem=${problem//$'\n'/ }
  problem=${problem:0:400}
  if [[ -n $bug ]]; then
    if [[ -n $problem ]]; then
      xfail=$((xfail + 1))
      echo "XFAIL line $line $file: known bug: $bug"
      echo "      got: $problem"
    fi
    : # not a check: the bug is the C API's (test_corpus), at the CLI it may or may not show
  elif [[ -n $problem ]]; then
    bad "line $line $file: $problem"
  else
    ok
  fi
done <"$tmp/cases.txt"

check "the corpus has at least 150 cases ($cases)" test "$cases" -ge 150
echo "corpus through the CLI: $cases cases, $xfail known bugs showing (XFAIL)"
finish
