#!/usr/bin/env bash
# test_cli_telemetry.sh — `onyx bench --telemetry` on the bundled digits CNN:
# on this machine every source it lacks is printed as "not available on this
# machine" with the reason (never as a zero), and the sources it has as
# figures; with ONYX_SYSFS_ROOT on a fake tree written here (two RAPL
# packages whose counters a background writer advances, cpufreq, a thermal
# zone and a coretemp chip) every line holds numbers, the same as --json.
# Without the flag the output has none of these lines.
source "$(dirname "$0")/lib.sh" "$1" test_cli_telemetry
model=models/digits_cnn.onnx

# ---- this machine: a figure where sysfs/procfs has the source, else the reason
run_ok "bench --telemetry" bench "$model" --telemetry --iters 50 --threads 1 --json "$tmp/real.json"
rapl=$(ls /sys/class/powercap/intel-rapl:*/energy_uj /sys/class/powercap/amd-rapl:*/energy_uj 2>/dev/null | head -1)
if [[ -n $rapl && -r $rapl ]]; then
  check "energy figure" grep -qE '^energy: +([0-9.]+ J over 50 runs|the RAPL counters did not advance)' "$tmp/out"
else
  check "energy not available" grep -qE '^energy: +not available on this machine \(.+\)$' "$tmp/out"
fi
if ls /sys/devices/system/cpu/cpu*/cpufreq/scaling_cur_freq >/dev/null 2>&1 || grep -q '^cpu MHz' /proc/cpuinfo; then
  check "frequency figure" grep -qE '^frequency: +[0-9]+ MHz average \((cpufreq|/proc/cpuinfo)\)$' "$tmp/out"
else
  check "frequency not available" grep -qE '^frequency: +not available on this machine \(.+\)$' "$tmp/out"
fi
if ls /sys/class/thermal/thermal_zone*/temp /sys/class/hwmon/hwmon*/temp*_input >/dev/null 2>&1; then
  check "temperature figure" grep -qE '^max temp: +-?[0-9.]+ C \(.+\)$' "$tmp/out"
else
  check "temperature not available" grep -qE '^max temp: +not available on this machine \(.+\)$' "$tmp/out"
fi
check "utilization" grep -qE '^cpu util: +[0-9.]+ cores busy on average' "$tmp/out"
check "no zero pretending to be energy" bash -c "! grep -qE '^energy: +0(\.0+)? J' '$tmp/out'"
pycheck "json telemetry agrees with the text" "
import re
d = json.load(open('$tmp/real.json'))['telemetry']
text = open('$tmp/out').read()
for key, src, line in (('energy_j', 'energy', 'energy'), ('freq_mhz', 'frequency', 'frequency'),
                       ('temp_c', 'temperature', 'max temp')):
    na = re.search('^' + line + r': +not available on this machine \((.*)\)$', text, re.M)
    assert (d[key] is None) == (src in d['not_available']), (key, d)
    if na:
        assert d[key] is None and d['not_available'][src] == na.group(1), (key, d, na.group(1))
# CPU time over wall time: OpenMP workers still spinning after the warm-up
# count too, so the bound is the machine's CPUs, not --threads
assert 0 < d['cpu_utilization'] <= $(nproc) + 0.5, d"

# ---- without the flag: no telemetry lines, no telemetry key
run_ok "bench without --telemetry" bench "$model" --iters 5 --threads 1 --json "$tmp/plain.json"
check "no telemetry lines" bash -c "! grep -qE '^(energy|frequency|max temp|cpu util):' '$tmp/out'"
pycheck "no telemetry key" "assert 'telemetry' not in json.load(open('$tmp/plain.json'))"

# ---- a fake tree: every source present
fake=$tmp/sysfs
pc=$fake/sys/class/powercap
mkdir -p "$pc/intel-rapl:0" "$pc/intel-rapl:1" "$fake/sys/class/thermal/thermal_zone0" \
  "$fake/sys/class/hwmon/hwmon0" "$fake/proc"
for p in 0 1; do
  echo "package-$p" >"$pc/intel-rapl:$p/name"
  echo 262143328850 >"$pc/intel-rapl:$p/max_energy_range_uj"
done
echo 1000 >"$pc/intel-rapl:0/energy_uj"
echo 262143000000 >"$pc/intel-rapl:1/energy_uj"   # wraps under the writer below
for c in 0 1 2 3; do
  mkdir -p "$fake/sys/devices/system/cpu/cpu$c/cpufreq"
  echo $((1500000 + c * 500000)) >"$fake/sys/devices/system/cpu/cpu$c/cpufreq/scaling_cur_freq"   # mean 2250 MHz
done
echo x86_pkg_temp >"$fake/sys/class/thermal/thermal_zone0/type"
echo 55000 >"$fake/sys/class/thermal/thermal_zone0/temp"
echo coretemp >"$fake/sys/class/hwmon/hwmon0/name"
echo 67500 >"$fake/sys/class/hwmon/hwmon0/temp1_input"
echo "Package id 0" >"$fake/sys/class/hwmon/hwmon0/temp1_label"
printf 'processor\t: 0\ncpu MHz\t\t: 999.0\n' >"$fake/proc/cpuinfo"   # cpufreq wins

# The counters advance while bench runs: 0.1 J per package every step,
# package 1 through its wrap. mv keeps each file whole for the reader.
(
  e0=1000 e1=262143000000
  while :; do
    e0=$((e0 + 100000)) e1=$(((e1 + 100000) % 262143328850))
    echo $e0 >"$pc/intel-rapl:0/energy_uj.new" && mv "$pc/intel-rapl:0/energy_uj.new" "$pc/intel-rapl:0/energy_uj"
    echo $e1 >"$pc/intel-rapl:1/energy_uj.new" && mv "$pc/intel-rapl:1/energy_uj.new" "$pc/intel-rapl:1/energy_uj"
    sleep 0.01
  done
) &
writer=$!
ONYX_SYSFS_ROOT=$fake "$onyx" bench "$model" --telemetry --duration 1 --threads 1 --json "$tmp/fake.json" \
  >"$tmp/out" 2>"$tmp/err"
rc=$?
kill "$writer"
wait "$writer" 2>/dev/null
check "bench on the fake tree: rc=$rc $(head -c 300 "$tmp/err")" test $rc -eq 0
check "energy figure" grep -qE '^energy: +[0-9]+\.[0-9]{3} J over [0-9]+ runs: [0-9.e-]+ J per inference, [0-9.e+]+ inferences per joule \(RAPL\)$' "$tmp/out"
check "frequency from cpufreq" grep -qx 'frequency:  2250 MHz average (cpufreq)' "$tmp/out"
check "hottest package sensor" grep -qx 'max temp:   67.5 C (hwmon0 coretemp temp1 (Package id 0))' "$tmp/out"
check "no 'not available'" bash -c "! grep -q 'not available' '$tmp/out'"
pycheck "fake-tree json" "
import re
d, text = json.load(open('$tmp/fake.json')), open('$tmp/out').read()
t = d['telemetry']
assert t['not_available'] == {} and t['freq_mhz'] == 2250 and t['temp_c'] == 67.5, t
# 0.2 J a step for both packages, a step every 10 ms or more: at most ~20 J/s (wrap undone)
assert 0 < t['energy_j'] < 30 * d['wall_s'] + 1, (t, d['wall_s'])
assert abs(t['energy_per_inference_j'] * d['runs'] - t['energy_j']) <= 1e-5 * t['energy_j'], t
assert abs(t['inferences_per_j'] * t['energy_j'] - d['runs']) <= 1e-5 * d['runs'], t
m = re.search(r'^energy: +([0-9.]+) J over ([0-9]+) runs', text, re.M)
assert abs(float(m.group(1)) - t['energy_j']) < 1e-3 and int(m.group(2)) == d['runs'], (m.groups(), t)"

# ---- an empty fake tree: nothing available, each line says so
mkdir -p "$tmp/empty"
ONYX_SYSFS_ROOT=$tmp/empty "$onyx" bench "$model" --telemetry --iters 5 --threads 1 >"$tmp/out" 2>"$tmp/err"
check "empty tree: exit 0" test $? -eq 0
check "empty tree: energy" grep -qx "energy:     not available on this machine (no RAPL: $tmp/empty/sys/class/powercap: No such file or directory)" "$tmp/out"
check "empty tree: frequency" grep -q "^frequency:  not available on this machine (no cpufreq .*$tmp/empty/proc/cpuinfo)$" "$tmp/out"
check "empty tree: temperature" grep -q "^max temp:   not available on this machine (no readable thermal_zone" "$tmp/out"
check "empty tree: utilization still measured" grep -qE '^cpu util: +[0-9.]+ cores' "$tmp/out"

# ---- usage
run_usage "telemetry with sweep" "--telemetry measures one point" bench "$model" --telemetry --sweep threads=1
run_ok "bench help" bench --help
check "help mentions --telemetry" grep -q -- "--telemetry" "$tmp/out"

finish
