#!/usr/bin/env bash
# test_cli_inspect.sh — `onyx inspect` text and --json: header, opsets,
# inputs/outputs with symbolic and unknown dims, op histogram, initializers,
# unsupported ops (subgraphs included), JSON escaping, errors, and
# --stage partitioned (where a session runs each node, and why; the copies
# between memory spaces: test_simdev checks a plan with copies).
source "$(dirname "$0")/lib.sh" "$1" test_cli_inspect
m=$tmp/m

run_ok "inspect --json identity" inspect "$node_data/test_identity/model.onnx" --json
pycheck "identity json" "
j = json.load(open('$tmp/out'))
assert j['ir_version'] == 8 and j['producer_name'] == 'backend-test', j
assert j['opset_imports'] == [{'domain': '', 'version': 16}], j
assert j['inputs'] == [{'name': 'x', 'kind': 'tensor', 'dtype': 'float32', 'shape': [1, 1, 2, 2]}], j
assert j['outputs'][0]['name'] == 'y' and j['node_count'] == 1 and j['subgraph_node_count'] == 0
assert j['op_types'] == {'Identity': 1} and j['unsupported_ops'] == [] and j['supported'] is True
assert j['initializer_count'] == 0 and j['initializer_bytes'] == 0"

run_ok "inspect --json odd" inspect --json "$m/odd.onnx"
pycheck "odd json: escaping, dims, histogram, initializers, unsupported" "
j = json.load(open('$tmp/out'))
x = j['inputs'][0]
assert x['name'] == 'we\"ird\\\\name\n\ttab \u00e9' and x['shape'] == ['seq', None, 4], x
assert j['outputs'][0]['shape'] is None, j['outputs']
assert j['producer_name'] == 'onyx-cli-test' and j['producer_version'] == '1.2'
assert {'domain': 'com.microsoft', 'version': 1} in j['opset_imports']
assert j['node_count'] == 4 and j['op_types'] == {'NoSuchOp': 2, 'Identity': 1, 'com.microsoft:Frobnicate': 1}, j
assert list(j['op_types'])[0] == 'NoSuchOp'
assert j['initializer_count'] == 2 and j['initializer_bytes'] == 6 * 4 + 8, j
assert sorted(j['unsupported_ops']) == ['NoSuchOp', 'com.microsoft:Frobnicate'] and j['supported'] is False"

run_ok "inspect text" inspect "$m/odd.onnx"
check "text: producer" grep -qx "producer: onyx-cli-test 1.2" "$tmp/out"
check "text: opsets" grep -qx "opset imports: ai.onnx 13, com.microsoft 1" "$tmp/out"
check "text: shape" grep -q "float32 \[seq,?,4\]$" "$tmp/out"
check "text: nodes" grep -qx "nodes: 4" "$tmp/out"
check "text: initializers" grep -qx "initializers: 2 (32 bytes)" "$tmp/out"
check "text: unsupported" grep -qx "unsupported ops: NoSuchOp, com.microsoft:Frobnicate" "$tmp/out"
run_ok "inspect text identity" inspect "$node_data/test_identity/model.onnx"
check "text: all supported" grep -qx "unsupported ops: none" "$tmp/out"

# subgraphs: If's branches count and are checked for support
run_ok "inspect --json if" inspect "$node_data/test_if/model.onnx" --json
pycheck "if json" "
j = json.load(open('$tmp/out'))
assert j['node_count'] == 1 and j['op_types'] == {'If': 1} and j['subgraph_node_count'] >= 2, j"

# every 5th node test model (all of them take a minute under ASan): inspect
# either succeeds with JSON that parses or fails with the one-line error (the
# loader refuses some, e.g. training ops)
mkdir -p "$tmp/all"
failed=""
k=0
for d in "$node_data"/test_*/; do
  ((k++ % 5)) && continue
  name=$(basename "$d")
  "$onyx" inspect --json "$d/model.onnx" >"$tmp/all/$name.json" 2>"$tmp/e"
  rc=$?
  if [[ $rc -ne 0 ]]; then
    rm "$tmp/all/$name.json"
    [[ $rc -eq 1 && $(wc -l <"$tmp/e") -eq 1 ]] && grep -q '^onyx: error: ' "$tmp/e" || failed+=" $name"
  fi
done
if [[ -z $failed ]]; then ok; else bad "inspect --json broke the error contract on$(echo "$failed" | cut -c1-400)"; fi
pycheck "node tests' JSON parses" "
import glob
fs = glob.glob('$tmp/all/*.json'); assert len(fs) > 100, len(fs)
for f in fs:
    try: json.load(open(f))
    except Exception as e: sys.exit(f'{f}: {e}')"

run_err "missing model" "nonexistent" inspect "$tmp/nonexistent.onnx"
head -c 3000 /dev/urandom >"$tmp/garbage.onnx"
run_err "garbage model" "garbage.onnx" inspect "$tmp/garbage.onnx" --json
run_err "unknown option" "--frob" inspect "$m/odd.onnx" --frob
# --stage partitioned: a session's placement, per node and per provider
run_ok "partitioned cpu" inspect "$m/cnn.onnx" --stage partitioned --providers cpu -O 0 --json
pycheck "partitioned cpu json" "
j = json.load(open('$tmp/out'))
ops = [n['op_type'] for n in j['nodes']]
assert ops == ['Conv', 'MaxPool', 'Conv', 'GlobalAveragePool', 'Flatten', 'Gemm', 'Softmax'], ops
assert all(n['provider'] == 'cpu' and n['fallback_reason'] is None for n in j['nodes']), j['nodes']
assert j['providers'] == {'cpu': 7}, j['providers']
assert j['copies'] == [], j['copies']"
run_ok "partitioned text" inspect "$m/cnn.onnx" --stage partitioned --providers cpu
check "text: one line per node" grep -qE "^  cpu +ai.onyx:FusedGemm|^  cpu +Gemm" "$tmp/out"
check "text: per provider" grep -qE "^per provider: cpu [0-9]+ nodes$" "$tmp/out"
check "text: no copies" grep -qx "copies: 0 (one memory space)" "$tmp/out"
if has_provider dnnl; then
  run_ok "partitioned dnnl,cpu" inspect "$m/cnn.onnx" --stage partitioned --providers dnnl,cpu --json
  pycheck "Flatten falls back with dnnl's reason" "
j = json.load(open('$tmp/out'))
n = {x['op_type']: x for x in j['nodes']}
assert n['Conv']['provider'] == 'dnnl' and n['Conv']['fallback_reason'] is None, n['Conv']
f = n['Flatten']
assert f['provider'] == 'cpu' and 'dnnl' in f['fallback_reason'] and 'Flatten' in f['fallback_reason'], f
assert set(j['providers']) == {'dnnl', 'cpu'} and sum(j['providers'].values()) == len(j['nodes']), j['providers']"
fi
run_err "partitioned: unknown provider" "nope" inspect "$m/cnn.onnx" --stage partitioned --providers nope
run_err "partitioned: unsupported op" "NoSuchOp" inspect "$m/odd.onnx" --stage partitioned

run_err "no model" "no model" inspect
run_ok "help" help inspect
check "help text" grep -q "^usage: onyx inspect MODEL" "$tmp/out"

finish
