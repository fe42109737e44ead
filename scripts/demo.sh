#!/usr/bin/env bash
# demo.sh — runs the bundled digits CNN on its held-out test split and reports accuracy.
# Usage: scripts/demo.sh [path/to/onyx]   (`make demo` passes build/onyx)
# The model, its test data and the accuracy PyTorch measured are described in
# models/README.md; the model was made by scripts/train_digits.py.
set -euo pipefail
onyx=${1:-build/onyx}
if [[ "$onyx" == */* && "$onyx" != /* ]]; then onyx="$PWD/$onyx"; fi
cd "$(dirname "$0")/.."
if ! command -v "$onyx" >/dev/null; then
  echo "demo: no onyx binary at '$onyx' (build it with: make build)" >&2
  exit 1
fi

model=models/digits_cnn.onnx
x=models/digits_test_x.npy
y=models/digits_test_y.npy
ref=$(grep -o 'reference accuracy (PyTorch): [0-9.]*% ([0-9]*/[0-9]*)' models/README.md | sed 's/.*: //' || true)

echo "onyx demo: a small CNN reads handwritten digits (8x8 images, classes 0-9)"
echo "  model: $model ($(wc -c <"$model") bytes)"
echo "  data:  $x (held-out test split)"
echo "  $("$onyx" --version)"
echo

log=$(mktemp)
trap 'rm -f "$log"' EXIT
start=$(date +%s%N)
if ! "$onyx" run "$model" -i "input=$x" --labels "$y" >"$log" 2>&1; then
  echo "demo: '$onyx run' failed:" >&2
  tail -n 20 "$log" >&2
  exit 1
fi
end=$(date +%s%N)

line=$(grep -E '^accuracy: [0-9.]+% \([0-9]+/[0-9]+\)' "$log" | tail -n 1 || true)
if [[ -z "$line" ]]; then
  echo "demo: '$onyx run' printed no 'accuracy: P% (k/n)' line; its output ends with:" >&2
  tail -n 20 "$log" >&2
  exit 1
fi
acc=${line#accuracy: }
echo "result: onyx classified the test images with accuracy $acc"
if [[ -n "$ref" ]]; then
  echo "        PyTorch measured $ref on the same images when the model was trained"
fi
echo "        (whole command took $(((end - start) / 1000000)) ms, model load included)"
