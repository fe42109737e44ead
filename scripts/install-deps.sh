#!/usr/bin/env bash
# install-deps.sh — installs the Debian packages onyx needs, only those missing.
# Usage: scripts/install-deps.sh [--bench]   (--bench adds the model-export tools)
set -euo pipefail
pkgs=(cmake gcc make pkg-config protobuf-c-compiler libprotobuf-c-dev libonnx-dev
      libonnx-testdata libdnnl-dev libnuma-dev python3-numpy)
if [[ "${1:-}" == "--bench" ]]; then
  pkgs+=(python3-torch python3-onnx python3-sklearn nodejs npm)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
