#!/usr/bin/env bash
# test_cli_run.sh — `onyx run`: .npy in and out for every dtype (numpy writes,
# onyx reads, and back), .pb in and out (tensors, sequences), random inputs
# (ranges, --dim, --seed, symbols bound by given inputs), --labels,
# --repeat, --io-binding, output file names, and every error path: one line, no crash.
source "$(dirname "$0")/lib.sh" "$1" test_cli_run
m=$tmp/m

# numpy -> onyx -> numpy, every .npy dtype, through Identity
for dt in float32 float64 float16 int8 uint8 int16 uint16 int32 int64 uint32 uint64 bool; do
  "$py" -c "
import numpy as np
rng = np.random.default_rng(1)
x = (rng.random((4, 3)) * 200 - 100).astype('$dt') if '$dt' != 'bool' else rng.random((4, 3)) > .5
np.save('$tmp/x_$dt.npy', x)"
  rm -rf "$tmp/o"
  run_ok "run id_$dt" run "$m/id_$dt.onnx" -i "x=$tmp/x_$dt.npy" -o "$tmp/o"
  pycheck "round trip $dt" "
a, b = np.load('$tmp/x_$dt.npy'), np.load('$tmp/o/y.npy')
assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b), (a, b)"
done
check "-o prints the paths written" grep -qx "$tmp/o/y.npy" "$tmp/out"

# a summary line per output without -o
"$py" -c "import numpy as np; np.save('$tmp/s.npy', np.array([[1, 2, 3], [4, 5, 9]], np.float32))"
run_ok "summary" run "$m/id_float32.onnx" -i "x=$tmp/s.npy"
check "summary line" grep -qx "y: float32 \[2,3\] min=1 max=9 mean=4" "$tmp/out"

# .pb in (ONNX test data), .npy and .pb out
d=$node_data/test_identity/test_data_set_0
run_ok "run .pb input" run "$node_data/test_identity/model.onnx" -i "x=$d/input_0.pb" -o "$tmp/pb"
pycheck "pb input equals npy output" "
import onnx; from onnx import numpy_helper
t = onnx.TensorProto(); t.ParseFromString(open('$d/output_0.pb', 'rb').read())
assert np.array_equal(numpy_helper.to_array(t), np.load('$tmp/pb/y.npy'))"
"$py" -c "
import onnx
from onnx import helper, TensorProto
onnx.save_tensor(helper.make_tensor('x', TensorProto.BFLOAT16, [2, 3], [1, 2, 3, 4, 5, 6]), '$tmp/bf.pb')
onnx.save_tensor(helper.make_tensor('x', TensorProto.STRING, [1, 3], [b'a', b'', b'xyz']), '$tmp/str.pb')"
run_ok "bfloat16 in and out" run "$m/id_bfloat16.onnx" -i "x=$tmp/bf.pb" -o "$tmp/obf"
check "bfloat16 output is .pb" test -f "$tmp/obf/y.pb"
pycheck "bfloat16 values" "
import onnx; from onnx import numpy_helper
t = onnx.TensorProto(); t.ParseFromString(open('$tmp/obf/y.pb', 'rb').read())
assert t.data_type == onnx.TensorProto.BFLOAT16 and list(t.dims) == [2, 3], t
u = onnx.TensorProto(); u.ParseFromString(open('$tmp/bf.pb', 'rb').read())
assert np.array_equal(numpy_helper.to_array(t), numpy_helper.to_array(u))"
run_ok "string in and out" run "$m/id_string.onnx" -i "x=$tmp/str.pb" -o "$tmp/ostr"
pycheck "string values" "
import onnx; from onnx import numpy_helper
t = onnx.TensorProto(); t.ParseFromString(open('$tmp/ostr/y.pb', 'rb').read())
assert list(t.dims) == [1, 3] and list(t.string_data) == [b'a', b'', b'xyz'], t"
run_ok "string summary" run "$m/id_string.onnx" -i "x=$tmp/str.pb"
check "string summary line" grep -qx "y: string \[1,3\]" "$tmp/out"
d=$node_data/test_identity_sequence/test_data_set_0
run_ok "sequence in and out" run "$node_data/test_identity_sequence/model.onnx" -i "x=$d/input_0.pb" -o "$tmp/oseq"
pycheck "sequence output matches" "
import onnx, glob; from onnx import numpy_helper
f = glob.glob('$tmp/oseq/*.pb'); assert len(f) == 1, f
a = onnx.SequenceProto(); a.ParseFromString(open(f[0], 'rb').read())
b = onnx.SequenceProto(); b.ParseFromString(open('$d/output_0.pb', 'rb').read())
la, lb = numpy_helper.to_list(a), numpy_helper.to_list(b)
assert len(la) == len(lb) and all(np.array_equal(x, y) for x, y in zip(la, lb))"
run_ok "sequence summary" run "$node_data/test_identity_sequence/model.onnx" -i "x=$d/input_0.pb"
check "sequence summary line" grep -q ": sequence of " "$tmp/out"

# random inputs: declared dtype and shape, symbolic dims from --dim / default 1
run_ok "random float" run "$m/id_float32.onnx" -o "$tmp/r1"
run_ok "random float, same seed" run "$m/id_float32.onnx" -o "$tmp/r2" --seed 0
run_ok "random float, other seed" run "$m/id_float32.onnx" -o "$tmp/r3" --seed 7 --dim N=5
pycheck "random floats" "
a, b, c = (np.load(f'$tmp/r{i}/y.npy') for i in (1, 2, 3))
assert a.shape == (1, 3) and c.shape == (5, 3) and a.dtype == np.float32
assert np.array_equal(a, b) and not np.array_equal(a, c[:1])
assert ((c >= 0) & (c < 1)).all() and c.std() > 0"
for dt in int64 uint8 bool float16; do
  run_ok "random $dt" run "$m/id_$dt.onnx" -o "$tmp/r_$dt" --dim=N=64
done
pycheck "random ints/bools/halves" "
i, u, b, h = (np.load(f'$tmp/r_{t}/y.npy') for t in ('int64', 'uint8', 'bool', 'float16'))
assert i.shape == (64, 3) and i.min() >= 0 and i.max() < 10 and len(set(i.ravel())) > 3
assert u.dtype == np.uint8 and u.max() < 10 and b.dtype == np.bool_ and 0 < b.sum() < b.size
assert h.dtype == np.float16 and (h >= 0).all() and (h < 1).all()"

# a symbolic dim bound by a given input sizes the random one; odd output names
"$py" -c "import numpy as np; np.save('$tmp/x42.npy', np.zeros((4, 2), np.float32))"
run_ok "symbol bound by -i" run "$m/two.onnx" -i "x=$tmp/x42.npy" -o "$tmp/two"
pycheck "bound symbol and sanitized names" "
import os
assert sorted(os.listdir('$tmp/two')) == ['out_put_0.npy', 'w.npy'], os.listdir('$tmp/two')
assert np.load('$tmp/two/w.npy').shape == (4,)"

# --labels: argmax over the last dim of the first output
"$py" -c "
import numpy as np
np.save('$tmp/logits.npy', np.array([[.1, .9, 0], [.8, .1, .1], [0, 0, 1], [.2, .7, .1]], np.float32))
np.save('$tmp/labels.npy', np.array([1, 0, 2, 0], np.int64))
np.save('$tmp/labels32.npy', np.array([1, 0, 2, 1], np.int32))
np.save('$tmp/labels_f.npy', np.array([1, 0, 2, 1], np.float32))
np.save('$tmp/labels_3.npy', np.array([1, 0, 2], np.int64))"
run_ok "labels" run "$m/id_float32.onnx" -i "x=$tmp/logits.npy" --labels "$tmp/labels.npy"
check "accuracy line" grep -qx "accuracy: 75.00% (3/4)" "$tmp/out"
run_ok "labels int32" run "$m/id_float32.onnx" -i "x=$tmp/logits.npy" --labels "$tmp/labels32.npy"
check "accuracy line int32" grep -qx "accuracy: 100.00% (4/4)" "$tmp/out"
run_err "float labels" "int64 or int32" run "$m/id_float32.onnx" -i "x=$tmp/logits.npy" --labels "$tmp/labels_f.npy"
run_err "label count" "3 labels" run "$m/id_float32.onnx" -i "x=$tmp/logits.npy" --labels "$tmp/labels_3.npy"

# --repeat
run_ok "repeat" run "$m/id_float32.onnx" --repeat 3 --threads 1
check "latency line" grep -q "^latency: mean .* over 3 runs$" "$tmp/out"

# --io-binding: the bundled CNN through a binding gives the outputs a plain run does
d=models
run_ok "plain run" run "$d/digits_cnn.onnx" -i "input=$d/digits_test_x.npy" -o "$tmp/plain"
run_ok "io-binding run" run "$d/digits_cnn.onnx" -i "input=$d/digits_test_x.npy" -o "$tmp/bound" --io-binding --repeat 3
check "io-binding outputs equal" cmp -s "$tmp/plain/logits.npy" "$tmp/bound/logits.npy"
run_ok "io-binding on cpu" run "$d/digits_cnn.onnx" --bind-device cpu --labels "$d/digits_test_y.npy" -i "input=$d/digits_test_x.npy"
check "io-binding accuracy" grep -q "^accuracy: 99.26% (536/540)$" "$tmp/out"
run_err "io-binding unknown device" "no memory space 'gpu:7'" run "$d/digits_cnn.onnx" --bind-device gpu:7

# session options
run_ok "providers and opt level" run "$m/id_float32.onnx" --providers cpu --opt-level 0
run_err "unknown provider" "frob" run "$m/id_float32.onnx" --providers frob,cpu
run_err "bad opt level" "--opt-level" run "$m/id_float32.onnx" --opt-level 4
# every spelling of the level (one parser for run, bench, optimize and
# inspect; test_cli_bench.sh shows by node count that the level is applied)
for spelling in "-O 0" "-O1" "-O=2" "--level 3" "--level=0" "--opt-level 1" "--opt-level=2"; do
  run_ok "run $spelling" run "$m/id_relu.onnx" --providers cpu $spelling
  check "run $spelling output" grep -q '^y: float32 \[1,3\]' "$tmp/out"
done
for spelling in "-O 4" "-O9" "-Ox" "--level x" "--opt-level -1" "--opt-level"; do
  run_usage "run bad level '$spelling'" "expects an optimization level 0..3" run "$m/id_relu.onnx" $spelling
done
run_ok "run help" run --help
check "run help lists the level spellings" grep -q -- "-O, --opt-level N .*also" "$tmp/out"

# errors: one line, non-zero, no crash
head -c 3000 /dev/urandom >"$tmp/garbage.onnx"
"$py" -c "
import numpy as np
np.save('$tmp/i64.npy', np.zeros((2, 3), np.int64))
np.save('$tmp/r1.npy', np.zeros((3,), np.float32))
np.save('$tmp/be.npy', np.zeros((2, 3), '>f4'))
np.save('$tmp/fo.npy', np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))"
head -c 100 "$tmp/s.npy" >"$tmp/trunc.npy"
run_err "missing model" "nonexistent" run "$tmp/nonexistent.onnx"
run_err "garbage model" "garbage.onnx" run "$tmp/garbage.onnx"
run_err "wrong input name" "nope" run "$m/id_float32.onnx" -i "nope=$tmp/s.npy"
run_err "wrong dtype" "int64" run "$m/id_float32.onnx" -i "x=$tmp/i64.npy"
run_err "wrong rank" "dims" run "$m/id_float32.onnx" -i "x=$tmp/r1.npy"
run_err "wrong fixed dim" "x" run "$node_data/test_identity/model.onnx" -i "x=$tmp/s.npy"
run_err "missing -i file" "cannot open" run "$m/id_float32.onnx" -i "x=$tmp/nonexistent.npy"
run_err "truncated npy" "truncated" run "$m/id_float32.onnx" -i "x=$tmp/trunc.npy"
run_err "big-endian npy" "big-endian" run "$m/id_float32.onnx" -i "x=$tmp/be.npy"
run_err "fortran npy" "Fortran" run "$m/id_float32.onnx" -i "x=$tmp/fo.npy"
run_err "garbage -i file" "x" run "$m/id_float32.onnx" -i "x=$tmp/garbage.onnx"
run_err "unknown --dim" "--dim 'M'" run "$m/id_float32.onnx" --dim M=3
run_err "string input not given" "string" run "$m/id_string.onnx"
run_err "bad -i syntax" "NAME=FILE" run "$m/id_float32.onnx" -i "$tmp/s.npy"
run_err "bad --threads" "--threads" run "$m/id_float32.onnx" --threads -1
run_err "unknown option" "--frob" run "$m/id_float32.onnx" --frob
run_err "no model" "no model" run
run_err "output dir is a file" "s.npy" run "$m/id_float32.onnx" -o "$tmp/s.npy"
run_err "unknown command" "frob" frob
run_ok "help" run --help
check "help text" grep -q "^usage: onyx run MODEL" "$tmp/out"
run_ok "--version" --version
check "version line" grep -qx "onyx [0-9.]*" "$tmp/out"

finish
