#!/usr/bin/env bash
# test_cli_quantize.sh — `onyx quantize` and `onyx compare` on the bundled
# digits CNN: the acceptance numbers of issue 7 (static QDQ per-channel:
# accuracy drop < 1 point, weights >= 70% smaller), every format and mode
# loads and runs, calibration tables round-trip, the files are valid ONNX
# (onnx.checker), calibration from .npz archives matches the same samples
# as .npy folders, and bad command lines or data fail with one error line.
source "$(dirname "$0")/lib.sh" "$1" test_cli_quantize
x=models/digits_test_x.npy
y=models/digits_test_y.npy
mkdir -p "$tmp/calib" "$tmp/data"
"$py" -c "import numpy as np; x = np.load('$x'); np.save('$tmp/calib/a.npy', x[:64]); np.save('$tmp/calib/b.npy', x[64:100])"
ln -s "$PWD/$x" "$tmp/data/x.npy"

# the acceptance run
run_ok "static qdq per-channel" quantize models/digits_cnn.onnx -o "$tmp/qdq.onnx" --mode static --per-channel \
  --calibration "$tmp/calib" --calibration-table-out "$tmp/table.json"
check "size line" grep -qE '^size: 58467 -> [0-9]+ bytes' "$tmp/out"
wpct=$(grep -oE '^weights: [0-9]+ -> [0-9]+ bytes \([0-9.]+%' "$tmp/out" | grep -oE '[0-9.]+%' | tr -d %)
check "weights >= 70% smaller ($wpct%)" awk "BEGIN { exit !($wpct >= 70) }"
check "calibrated on 2 batches" grep -q "on 2 sample batches" "$tmp/out"
run_ok "compare" compare models/digits_cnn.onnx "$tmp/qdq.onnx" --data "$tmp/data" --labels "$y" --per-tensor
acc_a=$(grep -oE '^accuracy A: [0-9.]+' "$tmp/out" | grep -oE '[0-9.]+$')
acc_b=$(grep -oE '^accuracy B: [0-9.]+' "$tmp/out" | grep -oE '[0-9.]+$')
check "accuracy drop < 1 point ($acc_a -> $acc_b)" awk "BEGIN { exit !($acc_a - $acc_b < 1) }"
check "per-tensor rows" grep -q "DQ(Q(x))" "$tmp/out"
check "540 samples" grep -q "on 540 samples" "$tmp/out"
pycheck "valid onnx, int8 weights" "
import onnx
m = onnx.load('$tmp/qdq.onnx'); onnx.checker.check_model(m, full_check=True)
ops = [n.op_type for n in m.graph.node]
assert 'BatchNormalization' not in ops and 'Relu' not in ops, ops
w = [t for t in m.graph.initializer if t.data_type == 3 and len(t.dims) >= 2]
b = [t for t in m.graph.initializer if t.data_type == 6]
assert len(w) == 4 and len(b) == 4, [t.name for t in m.graph.initializer]
t = json.load(open('$tmp/table.json'))
assert t['input']['min'] == 0 and t['input']['max'] == 1 and t['input']['zero_point'] == 0, t['input']"

# the table gives the same model
run_ok "table in" quantize models/digits_cnn.onnx -o "$tmp/qdq2.onnx" --per-channel --calibration-table-in "$tmp/table.json"
check "same bytes from the table" cmp -s "$tmp/qdq.onnx" "$tmp/qdq2.onnx"

# other formats and modes load, run and keep the accuracy
for args in "--format qoperator --per-channel" "--method entropy" "--method percentile --percentile 99.9" \
            "--mode dynamic" "--mode dynamic --per-channel" "--activation-type int8 --symmetric-activations"; do
  # shellcheck disable=SC2086
  run_ok "quantize $args" quantize models/digits_cnn.onnx -o "$tmp/v.onnx" --calibration "$tmp/calib" $args
  run_ok "run $args" run "$tmp/v.onnx" -i "input=$x" --labels "$y"
  acc=$(grep -oE '^accuracy: [0-9.]+' "$tmp/out" | grep -oE '[0-9.]+$')
  check "accuracy $args ($acc)" awk "BEGIN { exit !($acc_a - $acc < 1) }"
done
run_ok "filters" quantize models/digits_cnn.onnx -o "$tmp/f.onnx" --calibration "$tmp/calib" --op-types Conv \
  --exclude-nodes /features/features.4/Conv -v
check "excluded node reported" grep -q "float Conv '/features/features.4/Conv': excluded" "$tmp/out"
check "Gemm left float" grep -q "float Gemm .*op_types_to_quantize" "$tmp/out"

# calibration from .npz archives (np.savez, an array per input name) gives
# the ranges the same samples give as DIR/<input>/*.npy
mkdir -p "$tmp/npz" "$tmp/npy/a" "$tmp/npy/b" "$tmp/zip" "$tmp/bad" "$tmp/miss"
pycheck "write samples" "
rng = np.random.default_rng(1)
for k, n in enumerate([3, 5]):
    a = rng.standard_normal((n, 8)).astype(np.float32); b = rng.uniform(-2, 3, (n, 8)).astype(np.float32)
    np.savez('$tmp/npz/s%d.npz' % k, a=a, b=b)
    np.save('$tmp/npy/a/s%d.npy' % k, a); np.save('$tmp/npy/b/s%d.npy' % k, b)
    if k == 0:
        np.savez_compressed('$tmp/zip/s0.npz', a=a, b=b)
        np.savez('$tmp/miss/s0.npz', a=a)
        raw = open('$tmp/npz/s0.npz', 'rb').read()
        open('$tmp/bad/s0.npz', 'wb').write(raw[:len(raw) // 2])"
run_ok "static from .npz" quantize "$tmp/m/two_mm.onnx" -o "$tmp/npz.onnx" --calibration "$tmp/npz" \
  --calibration-table-out "$tmp/npz.json"
check "npz: calibrated on 2 batches" grep -q "on 2 sample batches" "$tmp/out"
check "npz: MatMuls quantized" grep -qE "^MatMul +2 +0" "$tmp/out"
run_ok "static from .npy folders" quantize "$tmp/m/two_mm.onnx" -o "$tmp/npy.onnx" --calibration "$tmp/npy" \
  --calibration-table-out "$tmp/npy.json"
check "same calibration table from .npz and .npy" cmp -s "$tmp/npz.json" "$tmp/npy.json"
check "same model from .npz and .npy" cmp -s "$tmp/npz.onnx" "$tmp/npy.onnx"
run_err "compressed .npz" "s0.npz': array 'a' is deflate-compressed" \
  quantize "$tmp/m/two_mm.onnx" -o "$tmp/z.onnx" --calibration "$tmp/zip"
run_err "corrupt .npz" "s0.npz': not a zip archive" quantize "$tmp/m/two_mm.onnx" -o "$tmp/z.onnx" --calibration "$tmp/bad"
run_err "input missing from .npz" "s0.npz': no array 'b' (it holds 'a')" \
  quantize "$tmp/m/two_mm.onnx" -o "$tmp/z.onnx" --calibration "$tmp/miss"

# errors: one line, no crash
run_err "no output" "usage" quantize models/digits_cnn.onnx --mode static
run_err "bad mode" "bad value 'fast' for --mode" quantize models/digits_cnn.onnx -o "$tmp/z.onnx" --mode fast
run_err "unknown option" "unknown option '--frobnicate'" quantize models/digits_cnn.onnx -o "$tmp/z.onnx" --frobnicate
run_err "static without data" "calibration" quantize models/digits_cnn.onnx -o "$tmp/z.onnx"
run_err "missing folder" "neither a folder" quantize models/digits_cnn.onnx -o "$tmp/z.onnx" --calibration "$tmp/none"
run_err "missing table" "calibration table" quantize models/digits_cnn.onnx -o "$tmp/z.onnx" --calibration-table-in "$tmp/none.json"
run_err "compare without data" "usage" compare models/digits_cnn.onnx "$tmp/qdq.onnx"
finish
