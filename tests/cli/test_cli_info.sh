#!/usr/bin/env bash
# test_cli_info.sh — `onyx info`: the machine lines, providers usable here
# among those compiled in, library versions, and --json with the same facts.
source "$(dirname "$0")/lib.sh" "$1" test_cli_info

run_ok "info" info
for pat in '^onyx [0-9]' '^cpu: ' '^cores: *[1-9][0-9]* usable, [1-9][0-9]* NUMA node' '^caches: *L1d ' '^isa: ' \
    '^providers: *[a-z,]*cpu[a-z,]* (usable here; compiled in: [a-z,]*cpu[a-z,]*)$' '^libraries: .*protobuf-c [0-9]'; do
  check "info has /$pat/" grep -q "$pat" "$tmp/out"
done
run_ok "info --json" info --json
pycheck "info json" "
d = json.load(open('$tmp/out'))
for k in ('version', 'cpu', 'cores', 'numa_nodes', 'cache_kb', 'isa', 'providers', 'compiled_providers', 'libraries'):
    assert k in d, k
usable, compiled = d['providers'].split(','), d['compiled_providers'].split(',')
assert 'cpu' in usable and set(usable) <= set(compiled), d
assert [p for p in compiled if p in usable] == usable, d   # same priority order
assert 'protobuf-c' in d['libraries'] and d['cores'] >= 1, d
assert all(isinstance(v, bool) for v in d['isa'].values()), d"
run_err "unknown argument" "--frob" info --frob

finish
