#!/usr/bin/env bash
# models.sh — makes the standard benchmark model set in bench/out/models/ (git-ignored).
# ResNet-50, MobileNetV2 and a BERT-base encoder with seeded random weights, exported from
# Debian's python3-torch by bench/export_models.py, plus a copy of the bundled digits CNN.
# Models already there are kept; pass --force to remake them, or model names to pick some.
# Usage: bench/models.sh [--force] [resnet50 mobilenetv2 bert_base digits_cnn]
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/out/models
force=0
names=()
for a in "$@"; do
  case "$a" in
    --force) force=1 ;;
    -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) names+=("$a") ;;
  esac
done
((${#names[@]})) || names=(resnet50 mobilenetv2 bert_base digits_cnn)

if ! /usr/bin/python3 -c 'import torch, onnx' 2>/dev/null; then
  echo "models.sh: needs python3-torch and python3-onnx (scripts/install-deps.sh --bench)" >&2
  exit 1
fi
todo=()
for n in "${names[@]}"; do
  if ((force)) || [[ ! -s "$out/$n.onnx" || ! -s "$out/$n.inputs.json" ]]; then todo+=("$n"); fi
done
if ((${#todo[@]})); then
  only=$(IFS=,; echo "${todo[*]}")
  /usr/bin/python3 bench/export_models.py --out "$out" --only "$only"
fi
ls -l "$out"
