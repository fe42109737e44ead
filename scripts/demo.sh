#!/usr/bin/env bash
# demo.sh — runs the bundled digits CNN on its held-out test split and reports accuracy,
# then prints the one command that writes its performance report (onyx report).
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
work=$(mktemp -d)
trap 'rm -rf "$log" "$work"' EXIT
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

# --- INT8: static QDQ, per-channel weights, calibrated on a slice of the test split ---
# Calibration only sets activation ranges (min/max of each tensor); the first
# 100 test images are enough for that. The int8 model is then scored on all 540.
echo
echo "quantizing to INT8 (static QDQ, per-channel weights, calibration: first 100 test images)"
mkdir -p "$work/calib"
ln -s "$PWD/$x" "$work/calib/digits.npy"
qmodel="$work/digits_cnn_int8.onnx"
if ! "$onyx" quantize "$model" -o "$qmodel" --mode static --per-channel \
    --calibration "$work/calib" --calibration-size 100 >"$log" 2>&1; then
  echo "demo: '$onyx quantize' failed:" >&2
  tail -n 20 "$log" >&2
  exit 1
fi
sed 's/^/  /' "$log"

# accuracy and latency (mean of repeated whole-test-split batches) of one model
measure() {
  if ! "$onyx" run "$1" -i "input=$x" --labels "$y" --repeat 20 >"$log" 2>&1; then
    echo "demo: '$onyx run $1' failed:" >&2
    tail -n 20 "$log" >&2
    exit 1
  fi
  acc=$(grep -oE '^accuracy: [0-9.]+%' "$log" | tail -n 1 | sed 's/accuracy: //')
  lat=$(grep -oE '^latency: mean [0-9.]+ ms' "$log" | sed 's/latency: mean //')
  echo "$acc|$lat|$(wc -c <"$1")"
}
IFS='|' read -r acc32 lat32 size32 <<<"$(measure "$model")"
IFS='|' read -r acc8 lat8 size8 <<<"$(measure "$qmodel")"
echo
printf '%-6s %10s %12s %22s\n' model accuracy "size (bytes)" "latency (540 images)"
printf '%-6s %10s %12s %22s\n' FP32 "$acc32" "$size32" "$lat32"
printf '%-6s %10s %12s %22s\n' INT8 "$acc8" "$size8" "$lat8"
echo "(INT8 is $(( (size32 - size8) * 100 / size32 ))% smaller; latency is the mean of 20 runs of the whole test split."
echo " The optimizer fuses the QDQ pairs into integer kernels (QLinearConv, FusedQLinearMatMul)."
echo " INT8 does not pay on a model this small: quantizing the input and the tiny layers cost more"
echo " than they save, and without VNNI the int8 convs run on onyx's AVX2 kernels, not oneDNN."
echo " The INT8 speedup shows on ResNet-50 / BERT: bench/quant_compare.)"

# --- the performance report: one command, documented in README.md ("Performance report") ---
echo
echo "performance report (latency, throughput, threads, FP32 vs INT8, accuracy, energy; one HTML page + JSON):"
echo "  ${onyx#"$PWD"/} report $model --quantize static --calibration $x --labels $y --data $x -o digits_report.html"
