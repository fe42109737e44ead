#!/usr/bin/env bash
# test_cli_affinity.sh — the thread placement options of `onyx run` and
# `onyx bench` (--affinity, --numa-node): pinned runs compute what unpinned
# runs do, a CPU list sets the thread count, bench reports the placement,
# `onyx info` lists the NUMA nodes sysfs shows, and every error path gives
# one line. Where this machine lacks what a check needs (two CPUs, a NUMA
# node 0, libnuma), the check says "skipped".
source "$(dirname "$0")/lib.sh" "$1" test_cli_affinity
m=$tmp/m

read -r c0 c1 < <("$py" -c "import os; c = sorted(os.sched_getaffinity(0)); print(c[0], c[1] if len(c) > 1 else -1)")
numa_ok=$("$py" -c "
import json, subprocess, os
d = json.loads(subprocess.run(['$onyx', 'info', '--json'], capture_output=True, text=True).stdout)
print(1 if d['numa']['libnuma'] and os.path.isdir('/sys/devices/system/node/node0') else 0)")

# the reference: unpinned, two threads
run_ok "run unpinned" run "$m/cnn.onnx" --dim batch=2 --threads 2 --providers cpu -o "$tmp/ref"

if [[ $c1 -ge 0 ]]; then
  run_ok "run --affinity LIST" run "$m/cnn.onnx" --dim batch=2 --affinity "$c1;$c0" --providers cpu -o "$tmp/list"
  pycheck "pinned output equals unpinned" "assert np.array_equal(np.load('$tmp/ref/prob.npy'), np.load('$tmp/list/prob.npy'))"
  run_ok "run --affinity compact" run "$m/cnn.onnx" --dim batch=2 --threads 2 --affinity compact -o "$tmp/compact"
  run_ok "run --affinity=scatter" run "$m/cnn.onnx" --dim batch=2 --threads 2 --affinity=scatter --providers cpu

  # a list sets the thread count; bench says where threads ran
  run_ok "bench --affinity LIST" bench "$m/cnn.onnx" --iters 3 --warmup 1 --affinity "$c0;$c1" --providers cpu \
    --json "$tmp/b.json"
  check "bench threads line" grep -q "^threads: *2 intra-op x 1 caller thread, affinity $c0;$c1$" "$tmp/out"
  pycheck "bench json placement" "
d = json.load(open('$tmp/b.json'))
assert d['threads'] == 2 and d['affinity'] == '$c0;$c1' and d['numa_node'] is None, d"
  run_err "list and --threads disagree" "3 intra-op threads" run "$m/cnn.onnx" --affinity "$c0;$c1" --threads 3
else
  echo "test_cli_affinity: two-CPU checks skipped: fewer than 2 usable CPUs"
fi
run_ok "run --affinity none" run "$m/cnn.onnx" --dim batch=2 --threads 2 --affinity none --providers cpu -o "$tmp/none"
pycheck "--affinity none output" "assert np.array_equal(np.load('$tmp/ref/prob.npy'), np.load('$tmp/none/prob.npy'))"

if [[ $numa_ok == 1 ]]; then
  run_ok "run --numa-node 0" run "$m/cnn.onnx" --dim batch=2 --threads 2 --numa-node 0 --providers cpu -o "$tmp/numa"
  pycheck "NUMA-bound output equals unbound" "assert np.array_equal(np.load('$tmp/ref/prob.npy'), np.load('$tmp/numa/prob.npy'))"
  run_ok "bench --numa-node 0" bench "$m/cnn.onnx" --iters 2 --warmup 0 --numa-node 0 --affinity compact \
    --json "$tmp/n.json"
  check "bench threads line with NUMA node" grep -q "affinity compact, NUMA node 0$" "$tmp/out"
  pycheck "bench json NUMA node" "d = json.load(open('$tmp/n.json')); assert d['numa_node'] == 0 and d['affinity'] == 'compact', d"
  run_err "NUMA node that does not exist" "NUMA node 999 does not exist" run "$m/cnn.onnx" --numa-node 999
else
  echo "test_cli_affinity: NUMA checks skipped: no node0 in sysfs or libnuma not installed"
  run_err "NUMA without libnuma or node" "NUMA node" run "$m/cnn.onnx" --numa-node 0
fi

# usage errors: exit 2, one line naming the problem
for cmd in run bench; do
  run_err "$cmd --affinity garbage" "--affinity: affinity 'garbage'" $cmd "$m/cnn.onnx" --affinity garbage
  "$onyx" $cmd "$m/cnn.onnx" --affinity 0,,1 >/dev/null 2>&1
  check "$cmd bad --affinity is a usage error" test $? -eq 2
  run_err "$cmd --affinity without value" "--affinity needs" $cmd "$m/cnn.onnx" --affinity
  run_err "$cmd --numa-node x" "--numa-node expects a node number" $cmd "$m/cnn.onnx" --numa-node x
  run_err "$cmd --numa-node -1" "--numa-node expects a node number" $cmd "$m/cnn.onnx" --numa-node -1
  run_err "$cmd --threads x (shared parser)" "--threads expects an integer" $cmd "$m/cnn.onnx" --threads x
  run_err "$cmd --seed x (shared parser)" "--seed expects a non-negative integer" $cmd "$m/cnn.onnx" --seed x
done
# a CPU this process may not use: refused when the session is made (exit 1)
run_err "CPU out of range" "cpu 1023" run "$m/cnn.onnx" --affinity "$c0;1023"
check "CPU out of range exits 1" test "$("$onyx" run "$m/cnn.onnx" --affinity "$c0;1023" >/dev/null 2>&1; echo $?)" -eq 1

# onyx info lists the nodes sysfs shows
run_ok "info" info
check "info numa line" grep -q '^numa: .*; libnuma ' "$tmp/out"
run_ok "info --json" info --json
pycheck "info json numa nodes match sysfs" "
import os
d = json.load(open('$tmp/out'))
sysfs = '/sys/devices/system/node'
ids = sorted(int(n[4:]) for n in os.listdir(sysfs) if n.startswith('node') and n[4:].isdigit()) if os.path.isdir(sysfs) else []
assert [n['id'] for n in d['numa']['nodes']] == ids, d['numa']
for n in d['numa']['nodes']:
    text = open(f'{sysfs}/node{n[\"id\"]}/cpulist').read().strip()
    cpus = set()
    for part in filter(None, text.split(',')):
        a, _, b = part.partition('-'); cpus |= set(range(int(a), int(b or a) + 1))
    assert n['n_cpus'] == len(cpus), (n, text)
    assert n['cpus'] == text or n['cpus'].endswith('...'), (n, text)
assert isinstance(d['numa']['libnuma'], bool)"

finish
