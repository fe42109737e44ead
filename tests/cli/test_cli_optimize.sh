#!/usr/bin/env bash
# test_cli_optimize.sh — `onyx optimize` and `onyx inspect --stage optimized`:
# -O 1 writes standard ONNX (onnx.checker accepts it) with BatchNormalization
# folded, -O 2 fuses into ai.onyx ops and imports that domain, the outputs of
# the optimized files equal the original's, pass selection, and errors.
source "$(dirname "$0")/lib.sh" "$1" test_cli_optimize
m=$tmp/m

"$py" - "$m/cbr.onnx" <<'PY' || bad "build conv-bn-relu model"
import sys, numpy as np, onnx
from onnx import TensorProto, helper, numpy_helper
r = np.random.default_rng(0)
f = lambda *s: r.standard_normal(s).astype(np.float32)
inits = [numpy_helper.from_array(f(8, 3, 3, 3), "w"), numpy_helper.from_array(f(8), "scale"),
         numpy_helper.from_array(f(8), "bias"), numpy_helper.from_array(f(8), "mean"),
         numpy_helper.from_array(np.abs(f(8)) + 0.5, "var")]
nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
         helper.make_node("BatchNormalization", ["c", "scale", "bias", "mean", "var"], ["b"]),
         helper.make_node("Identity", ["b"], ["i"]),
         helper.make_node("Relu", ["i"], ["y"])]
g = helper.make_graph(nodes, "cbr", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 8, 8])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=inits)
mo = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
mo.ir_version = 8
onnx.save(mo, sys.argv[1])
PY

run_ok "optimize -O1" optimize "$m/cbr.onnx" -o "$tmp/o1.onnx" -O 1
check "O1 stats printed" grep -q "conv_bn_folding" "$tmp/out"
check "O1 4 -> 2 nodes" grep -q "4 -> 2 nodes" "$tmp/out"
pycheck "O1 is standard ONNX" "
import onnx
mo = onnx.load('$tmp/o1.onnx'); onnx.checker.check_model(mo, full_check=True)
assert [n.op_type for n in mo.graph.node] == ['Conv', 'Relu'], [n.op_type for n in mo.graph.node]
assert all(o.domain in ('', 'ai.onnx') for o in mo.opset_import)"

run_ok "optimize -O2" optimize "$m/cbr.onnx" -o "$tmp/o2.onnx" -O2 --quiet --providers cpu
check "--quiet prints nothing" test ! -s "$tmp/out"
pycheck "O2 fuses into ai.onyx" "
import onnx
mo = onnx.load('$tmp/o2.onnx')
assert [(n.domain, n.op_type) for n in mo.graph.node] == [('ai.onyx', 'FusedConv')], mo.graph.node
assert any(o.domain == 'ai.onyx' for o in mo.opset_import)"

"$py" -c "import numpy as np; np.save('$tmp/x.npy', np.random.default_rng(1).standard_normal((2, 3, 8, 8)).astype(np.float32))"
for f in cbr:"$m/cbr.onnx" o1:"$tmp/o1.onnx" o2:"$tmp/o2.onnx"; do
  run_ok "run ${f%%:*}" run "${f#*:}" -i "x=$tmp/x.npy" -o "$tmp/out_${f%%:*}" --opt-level 0
done
pycheck "same outputs" "
a, b, c = (np.load('$tmp/out_%s/y.npy' % t) for t in ('cbr', 'o1', 'o2'))
assert a.shape == (2, 8, 8, 8)
assert np.allclose(b, a, rtol=1e-5, atol=1e-5) and np.allclose(c, a, rtol=1e-5, atol=1e-5), (abs(b - a).max(), abs(c - a).max())"

run_ok "only noop_elimination" optimize "$m/cbr.onnx" -o "$tmp/o3.onnx" --passes noop_elimination
check "only noop: 4 -> 3" grep -q "4 -> 3 nodes" "$tmp/out"
run_ok "disable conv_bn_folding" optimize "$m/cbr.onnx" -o "$tmp/o4.onnx" -O1 --disable conv_bn_folding
check "disabled: 4 -> 3" grep -q "4 -> 3 nodes" "$tmp/out"
run_ok "list passes" optimize --list-passes
check "list has attention_fusion" grep -q attention_fusion "$tmp/out"

run_ok "inspect --stage optimized" inspect "$m/cbr.onnx" --stage optimized -O 1
check "inspect text has the pass table" grep -q "conv_bn_folding" "$tmp/out"
run_ok "inspect --stage optimized --json" inspect "$m/cbr.onnx" --stage optimized --json --providers cpu
pycheck "inspect optimized json" "
j = json.load(open('$tmp/out'))
o = j['optimization']
assert o['level'] == 3 and o['nodes_before'] == 4 and o['nodes_after'] == 1 and j['node_count'] == 1, o
assert j['op_types'] == {'ai.onyx:FusedConv': 1}, j['op_types']
p = {x['name']: x for x in o['passes']}
assert p['conv_bn_folding']['folded'] == 1 and p['conv_activation_fusion']['fused'] == 1, p"

if has_provider dnnl; then
  run_ok "O2 with dnnl first" optimize "$m/cbr.onnx" -o "$tmp/o5.onnx" -O2 --providers dnnl,cpu
  pycheck "dnnl keeps its conv" "
import onnx
assert [n.op_type for n in onnx.load('$tmp/o5.onnx').graph.node] == ['Conv', 'Relu']"
fi
run_err "unknown pass" "unknown optimizer pass 'nope'" optimize "$m/cbr.onnx" -o "$tmp/x.onnx" --passes nope
run_err "no output" "usage" optimize "$m/cbr.onnx"
run_err "bad level" "-O expects an optimization level 0..3" optimize "$m/cbr.onnx" -o "$tmp/x.onnx" -O 7
run_err "bad stage" "--stage must be" inspect "$m/cbr.onnx" --stage planned

# every spelling of the level, in optimize and inspect alike (the parser run
# and bench share): level 0 keeps id_relu's Identity
for spelling in "-O 0" "-O0" "-O=0" "--level 0" "--level=0" "--opt-level 0" "--opt-level=0"; do
  run_ok "optimize $spelling" optimize "$m/id_relu.onnx" -o "$tmp/lv.onnx" $spelling
  check "optimize $spelling is level 0" grep -qx "optimization level 0: 2 -> 2 nodes" "$tmp/out"
  run_ok "inspect $spelling" inspect "$m/id_relu.onnx" --stage optimized $spelling
  check "inspect $spelling is level 0" grep -qx "optimization level 0: 2 -> 2 nodes" "$tmp/out"
done
for spelling in "-O 4" "-O9" "-Ox" "--level x" "--opt-level -1" "--opt-level"; do
  run_usage "optimize bad level '$spelling'" "expects an optimization level 0..3" optimize "$m/id_relu.onnx" \
    -o "$tmp/lv.onnx" $spelling
  run_usage "inspect bad level '$spelling'" "expects an optimization level 0..3" inspect "$m/id_relu.onnx" \
    --stage optimized $spelling
done
for cmd in optimize inspect; do
  run_ok "$cmd help" $cmd --help
  check "$cmd help lists the level spellings" grep -q -- "-ON" "$tmp/out"
done
finish
