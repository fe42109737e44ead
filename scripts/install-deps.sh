#!/usr/bin/env bash
# install-deps.sh — installs the Debian packages onyx needs, only those missing.
# Usage: scripts/install-deps.sh [--bench]   (--bench adds the model-export tools)
# The list is checked on a minimal Debian 12 (debootstrap --variant=minbase plus make
# and git) by ../shared/tools/fresh-debian-check.sh: keep it complete for the build
# and for every test, since packages install here without their recommendations.
set -euo pipefail
pkgs=(cmake gcc libc6-dev make pkg-config protobuf-c-compiler libprotobuf-c-dev libonnx-dev
      libonnx-testdata libdnnl-dev libnuma1 python3-dev python3-numpy python3-onnx
      chromium-headless-shell)
# libc6-dev: gcc only recommends it, and without it nothing links (crt1.o, libc.so)
# libnuma1: loaded at run time for --numa-node (no headers needed); the tests check memory binding with it
# python3-numpy, python3-onnx: the CLI tests write models and .npy files with them
# python3-dev (with python3-numpy's headers): the Python package's extension module
# chromium-headless-shell: test_cli_report opens `onyx report`'s page in a headless browser
#   (--dump-dom, --screenshot); the headless shell alone, without the desktop chromium's X/GTK stack
if [[ "${1:-}" == "--bench" ]]; then
  pkgs+=(python3-torch python3-sklearn nodejs)
  # Some nodejs builds bundle npm and conflict with Debian's npm package.
  command -v npm >/dev/null || pkgs+=(npm)
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
# The benchmark peer, ONNX Runtime 1.30 (CPU), comes from npm into bench/node_modules.
# --ignore-scripts: its post-install step would download GPU binaries; the CPU library
# ships inside the package.
if [[ "${1:-}" == "--bench" && ! -d "$(dirname "$0")/../bench/node_modules/onnxruntime-node" ]]; then
  echo "install-deps: installing onnxruntime-node into bench/node_modules"
  (cd "$(dirname "$0")/../bench" && npm ci --ignore-scripts --no-audit --no-fund >/dev/null)
fi
