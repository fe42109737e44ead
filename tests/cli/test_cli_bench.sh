#!/usr/bin/env bash
# test_cli_bench.sh — `onyx bench`: every figure is printed, --json has its
# keys and sane values, --profile writes a Chrome trace of complete events
# (and prints the time per provider and per op type),
# --concurrency runs compute what a lone run computes (--check, which must
# also catch outputs that do change), --sweep rows and CSV, every spelling
# of the optimization level, and the error paths. Nothing here asserts a speed: timings on a shared machine say
# nothing, and speed is what bench/ measures, not tests.
source "$(dirname "$0")/lib.sh" "$1" test_cli_bench
m=$tmp/m

# The checks that count nodes, events and arena bytes pin the cpu provider
# (dnnl, where built, fuses the CNN into one partition); the default chain
# is checked on its own below.

# the figures, in text
run_ok "bench cnn" bench "$m/cnn.onnx" --iters 20 --dim batch=2 --threads 1 --warmup 2 --providers cpu
for pat in '^model: ' '^providers: *cpu (7 nodes)$' '^threads: *1 intra-op x 1 caller thread$' \
    '^inputs: *x float32 \[2,3,32,32\] (random)$' '^creation: *[0-9.]* ms (load [0-9.]* ms, session [0-9.]* ms)$' \
    '^runs: *20 timed after 2 warm-up' \
    '^latency: *min [0-9.]* ms, p50 [0-9.]* ms, p90 [0-9.]* ms, p99 [0-9.]* ms, max [0-9.]* ms, mean [0-9.]* ms$' \
    '^throughput: *[0-9.]* runs/s, [0-9.]* samples/s (batch 2)$' \
    '^memory: *peak RSS [0-9.]* MiB, arena [0-9.]* MiB' '^cpu: .* s cpu / .* s wall / 1 threads = [0-9]*% efficiency$'; do
  check "output has /$pat/" grep -q "$pat" "$tmp/out"
done

# --json: the keys, and figures that hang together
run_ok "bench --json" bench "$m/cnn.onnx" --iters 12 --dim batch=3 --threads 1 --providers cpu --json "$tmp/b.json"
pycheck "json keys and values" "
d = json.load(open('$tmp/b.json'))
for k in ('creation_ms', 'latency_ms', 'throughput_per_s', 'peak_rss_bytes', 'arena_bytes', 'threads',
          'cpu_efficiency', 'providers', 'samples_per_s', 'runs', 'batch', 'concurrency'):
    assert k in d, k
lat = d['latency_ms']
assert [lat[k] for k in ('min', 'p50', 'p90', 'p99', 'max')] == sorted(lat[k] for k in ('min', 'p50', 'p90', 'p99', 'max')), lat
assert lat['min'] <= lat['mean'] <= lat['max'] and lat['min'] > 0, lat
assert d['runs'] == 12 and d['batch'] == 3 and d['threads'] == 1 and d['concurrency'] == 1, d
assert d['providers'] == ['cpu'] and d['nodes_per_provider'] == {'cpu': 7} and d['providers_requested'] == 'cpu', d
assert abs(d['samples_per_s'] - 3 * d['throughput_per_s']) < 1e-4 * d['samples_per_s'], d
assert d['throughput_per_s'] > 0 and d['creation_ms'] > 0 and d['cpu_efficiency'] > 0, d
# arena: the biggest two activations alive at once are at least conv1's [3,16,32,32] float output
assert d['arena_bytes'] >= 3 * 16 * 32 * 32 * 4 and d['peak_rss_bytes'] > d['arena_bytes'], d
assert d['inputs'] == [{'name': 'x', 'dtype': 'float32', 'shape': [3, 3, 32, 32], 'source': 'random'}], d"

# the default provider chain: every node is placed, on providers onyx has here
run_ok "bench default providers" bench "$m/cnn.onnx" --iters 3 --threads 1 --json "$tmp/dp.json"
"$onyx" info --json >"$tmp/info.json"
pycheck "default providers" "
d, info = json.load(open('$tmp/dp.json')), json.load(open('$tmp/info.json'))
assert sum(d['nodes_per_provider'].values()) == 7 and d['providers'] == list(d['nodes_per_provider']), d
assert set(d['providers']) <= set(info['providers'].split(',')) and d['providers_requested'] is None, (d, info)"
check "providers line" grep -qE '^providers: *[a-z]+ \([0-9]+ nodes?\)' "$tmp/out"

# a fixed first dim: no batch, no samples/s
run_ok "bench fixed dims" bench "$node_data/test_identity/model.onnx" --iters 3 --json "$tmp/f.json"
check "batch unknown" grep -q '^throughput: .* runs/s (batch unknown' "$tmp/out"
pycheck "json batch null" "d = json.load(open('$tmp/f.json')); assert d['batch'] is None and d['samples_per_s'] is None, d"

# inputs from files, as onyx run takes them
"$py" -c "import numpy as np; np.save('$tmp/x.npy', np.ones((5, 3, 32, 32), np.float32))"
run_ok "bench -i" bench "$m/cnn.onnx" -i "x=$tmp/x.npy" --iters 2 --threads 1
check "file input" grep -q '^inputs: *x float32 \[5,3,32,32\] (file)$' "$tmp/out"
check "batch from the file" grep -q 'samples/s (batch 5)$' "$tmp/out"

# --duration runs until the time is up (at least one run)
run_ok "bench --duration" bench "$m/cnn.onnx" --duration 0.2 --threads 1 --warmup 0 --json "$tmp/d.json"
pycheck "duration runs" "d = json.load(open('$tmp/d.json')); assert d['runs'] >= 1 and d['wall_s'] >= 0.2, d"

# --profile: valid trace JSON of complete events, one per node per timed run
run_ok "bench --profile" bench "$m/cnn.onnx" --iters 5 --threads 1 --providers cpu --profile "$tmp/p.json"
pycheck "trace json" "
d = json.load(open('$tmp/p.json'))
ev = d['traceEvents']
assert isinstance(ev, list) and len(ev) == 7 * 5, len(ev)
assert all(e['ph'] == 'X' and e['dur'] >= 0 and e['ts'] >= 0 for e in ev), ev[:3]
ops = sorted({e['args']['op_type'] for e in ev})
assert ops == ['Conv', 'Flatten', 'Gemm', 'GlobalAveragePool', 'MaxPool', 'Softmax'], ops"
check "profile summary" grep -q "^profile: *$tmp/p.json (35 node events over 5 runs)" "$tmp/out"
check "top op types" grep -qE '^  Conv +[0-9.]+ +[0-9.]+% +10 ' "$tmp/out"
check "time per provider: all 35 calls on cpu" grep -qE '^  cpu +[0-9.]+ +100\.0% +35 ' "$tmp/out"
if has_provider dnnl; then
  run_ok "bench --profile dnnl,cpu" bench "$m/cnn.onnx" --iters 5 --threads 1 --providers dnnl,cpu --profile "$tmp/p2.json"
  pycheck "per-provider rows add up to the events" "
import re
rows = dict((m.group(1), int(m.group(2))) for m in re.finditer(r'^  (dnnl|cpu) +[0-9.]+ +[0-9.]+% +([0-9]+) ', open('$tmp/out').read(), re.M))
n = len(json.load(open('$tmp/p2.json'))['traceEvents'])
assert 'dnnl' in rows and sum(rows.values()) == n, (rows, n)"
fi

# --concurrency: 4 caller threads on one session give the outputs of a lone
# run bit for bit; --iters counts the runs of all threads together
run_ok "concurrency 4 --check" bench "$m/cnn.onnx" --iters 60 --dim batch=8 --threads 1 --concurrency 4 \
  --check --json "$tmp/c.json"
check "check line" grep -q '^check: *60 timed runs gave the first run' "$tmp/out"
check "4 caller threads" grep -q '^threads: *1 intra-op x 4 caller threads$' "$tmp/out"
pycheck "concurrency json" "d = json.load(open('$tmp/c.json')); assert d['runs'] == 60 and d['concurrency'] == 4 and d['check'], d"
run_ok "concurrency 4 --check, cpu provider" bench "$m/cnn.onnx" --iters 40 --dim batch=8 --threads 1 \
  --concurrency 4 --check --providers cpu
run_ok "concurrency 3, 2 threads each" bench "$m/cnn.onnx" --iters 12 --dim batch=4 --threads 2 --concurrency 3 --check
# and --check is a real check: outputs that change from run to run fail it
run_err "check catches differences" "differs from the first run's" bench "$m/noisy.onnx" --iters 3 --check
run_err "check catches differences, concurrent" "differs from the first run's" bench "$m/noisy.onnx" \
  --iters 8 --concurrency 4 --check --warmup 0

# --sweep: one row per point, CSV and JSON
run_ok "sweep" bench "$m/cnn.onnx" --iters 3 --warmup 1 --sweep threads=1,2 --sweep batch=1,3 \
  --csv "$tmp/s.csv" --json "$tmp/s.json"
check "sweep rows" test "$(grep -cE '^ +[12] +[13] +3 ' "$tmp/out")" -eq 4
check "csv written" grep -qx "wrote $tmp/s.csv" "$tmp/out"
pycheck "sweep csv" "
import csv
rows = list(csv.DictReader(open('$tmp/s.csv')))
assert [(r['threads'], r['batch']) for r in rows] == [('1', '1'), ('1', '3'), ('2', '1'), ('2', '3')], rows
for r in rows:
    assert r['runs'] == '3' and float(r['p50_ms']) > 0 and int(r['peak_rss_bytes']) > 0, r
    assert abs(float(r['samples_per_s']) - int(r['batch']) * float(r['runs_per_s'])) <= 1e-4 * float(r['samples_per_s']), r
d = json.load(open('$tmp/s.json'))
assert [(p['threads'], p['batch']) for p in d['points']] == [(1, 1), (1, 3), (2, 1), (2, 3)], d"
onyx_abs=$(realpath "$onyx")
(cd "$tmp" && "$onyx_abs" bench "$m/cnn.onnx" --iters 2 --warmup 0 --sweep threads=1 >/dev/null 2>&1)
check "default csv name" test -s "$tmp/bench_sweep.csv"

# the optimization level in each spelling every level-taking command shares:
# level 0 keeps id_relu's Identity (2 nodes), the default removes it (1)
for spelling in "-O 0" "-O0" "-O=0" "--level 0" "--level=0" "--opt-level 0" "--opt-level=0"; do
  run_ok "bench $spelling" bench "$m/id_relu.onnx" --iters 1 --warmup 0 --providers cpu $spelling
  check "bench $spelling: level 0 keeps 2 nodes" grep -q '^providers: *cpu (2 nodes)$' "$tmp/out"
done
run_ok "bench default level" bench "$m/id_relu.onnx" --iters 1 --warmup 0 --providers cpu
check "bench default level: 1 node" grep -q '^providers: *cpu (1 node)$' "$tmp/out"
run_ok "bench -O2" bench "$m/id_relu.onnx" --iters 1 --warmup 0 --providers cpu -O2 --level 0
check "the last level given wins" grep -q '^providers: *cpu (2 nodes)$' "$tmp/out"
for spelling in "-O 4" "-O9" "-Ox" "--level x" "--level=" "--opt-level -1" "--opt-level"; do
  run_usage "bench bad level '$spelling'" "expects an optimization level 0..3" bench "$m/id_relu.onnx" $spelling
done
run_ok "bench help" bench --help
check "bench help lists the level spellings" grep -q -- "-O, --opt-level N .*also" "$tmp/out"

# errors: one line, right status, no crash
run_err "iters and duration" "not both" bench "$m/cnn.onnx" --iters 3 --duration 1
run_ok "bench --disable memory_order" bench "$m/cnn.onnx" --iters 2 --dim batch=1 --providers cpu --disable memory_order
run_err "bench --disable unknown pass" "unknown optimizer pass 'no_such_pass'" bench "$m/cnn.onnx" --iters 2 \
  --disable no_such_pass
run_err "bad sweep key" "threads= and batch=" bench "$m/cnn.onnx" --sweep frob=1
run_err "bad sweep list" "--sweep batch=" bench "$m/cnn.onnx" --sweep batch=1,,2
run_err "sweep twice" "given twice" bench "$m/cnn.onnx" --sweep batch=1 --sweep batch=2
run_err "profile with sweep" "--profile" bench "$m/cnn.onnx" --sweep threads=1 --profile "$tmp/x.json"
run_err "csv without sweep" "--csv" bench "$m/cnn.onnx" --csv "$tmp/x.csv"
run_err "fixed batch" "fixes" bench "$node_data/test_identity/model.onnx" --iters 1 --sweep batch=2
run_err "batch of a file input" "read from a file" bench "$m/cnn.onnx" -i "x=$tmp/x.npy" --iters 1 --sweep batch=2
run_err "dim typo" "names no symbolic dim" bench "$m/cnn.onnx" --dim btach=2
run_err "concurrency 0" "--concurrency" bench "$m/cnn.onnx" --concurrency 0
run_err "duration 0" "--duration" bench "$m/cnn.onnx" --duration 0
run_err "unknown option" "--frob" bench "$m/cnn.onnx" --frob
run_err "no model" "no model" bench
run_err "missing model" "nonexistent" bench "$tmp/nonexistent.onnx"
run_err "unsupported op" "NoSuchOp" bench "$m/odd.onnx"
run_err "json unwritable" "--json" bench "$m/cnn.onnx" --iters 1 --json "$tmp/no/such/dir/b.json"
run_ok "help" bench --help
check "help mentions --concurrency" grep -q -- "--concurrency N" "$tmp/out"

finish
