#!/usr/bin/env bash
# fuzz.sh — the fuzzing campaign (`make fuzz`): builds the libFuzzer targets
# with clang + ASan + UBSan in build-fuzz/, makes each target's seed corpus
# (the bundled model, the ONNX node tests, the malformed-input corpus) under
# build-fuzz/corpus/<target>/, and runs each target for FUZZ_SECONDS (default
# 60) with the protobuf/op-name dictionary tests/fuzz/onnx.dict. New inputs
# that reach new code are kept in the corpus folder, so runs accumulate;
# crashes land in build-fuzz/crashes/ and each must become a case of
# tests/corpus (or a seed that the fuzz_smoke tests replay) once fixed.
# Usage: scripts/fuzz.sh [TARGET...]     env: FUZZ_SECONDS, FUZZ_JOBS (parallel jobs,
# each logging to fuzz-N.log; default one process, output here)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang >/dev/null || { echo "fuzz: needs clang (apt-get install clang)" >&2; exit 1; }
targets=("$@")
((${#targets[@]})) || targets=(fuzz_model_load fuzz_session fuzz_quantize fuzz_tensor_pb fuzz_npy)
secs=${FUZZ_SECONDS:-60}
node=/usr/share/libonnx-testdata/data/node
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DONYX_SANITIZE=ON \
      -DONYX_FUZZ=ON -DONYX_CUDA=OFF -DONYX_PYTHON=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]}"
mkdir -p build-fuzz/crashes
for t in "${targets[@]}"; do
  seeds=build-fuzz/corpus/$t
  mkdir -p "$seeds"
  case $t in
    fuzz_tensor_pb) ext=pb ;;
    fuzz_npy) ext=npy ;;
    *) ext=onnx ;;
  esac
  # seeds are copied under content-hash names, as libFuzzer names its finds
  find models tests/corpus/cases "$node" -name "*.$ext" -type f -size -1024k 2>/dev/null |
    while read -r f; do cp -n "$f" "$seeds/seed-$(sha1sum "$f" | cut -c1-16)"; done
  echo "fuzz: $t for ${secs}s on $(ls "$seeds" | wc -l) inputs"
  ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=1 \
    build-fuzz/tests/"$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 -max_len=1048576 \
      -dict=tests/fuzz/onnx.dict -artifact_prefix=build-fuzz/crashes/"$t"- -print_final_stats=1 \
      ${FUZZ_JOBS:+-jobs=$FUZZ_JOBS} "$seeds" 2>&1 | grep -E "^(stat::|#[0-9]+ +DONE|==[0-9]+==ERROR|SUMMARY|artifact)" || true
done
