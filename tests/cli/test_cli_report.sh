#!/usr/bin/env bash
# test_cli_report.sh — `onyx report` on the bundled digits CNN (static INT8,
# accuracy on the test split): the command's error contract; then the page
# is opened in headless Chromium (--dump-dom: the DOM as the browser built
# it) and a Python check confirms that every plot rendered (an <svg> with
# both axes, ticks and data points or bars), that every figure the page shows
# (data-key/data-value/data-scale, see tools/report_write.c) is the number
# REPORT.json holds and that its visible text says the same, and that the
# page is self-contained (no script, nothing fetched). A screenshot is kept
# as a CI artifact under $ONYX_REPORT_ARTIFACTS (default
# build-test/report-artifacts). A second, short report with --compare and
# an empty fake sysfs (ONYX_SYSFS_ROOT) checks the before/after overlay and
# the "not available on this machine" paths.
source "$(dirname "$0")/lib.sh" "$1" test_cli_report
model=models/digits_cnn.onnx
x=models/digits_test_x.npy
y=models/digits_test_y.npy
art=${ONYX_REPORT_ARTIFACTS:-build-test/report-artifacts}

# ---- bad input: one error line, exit 1 (the model, the files) or 2 (the command line)
run_err "missing model" "$tmp/none.onnx" report "$tmp/none.onnx" -o "$tmp/bad.html"
run_usage "bad --batch" "--batch expects" report "$model" --batch 1,x -o "$tmp/bad.html"
run_usage "repeated --threads value" "--threads expects" report "$model" --threads 2,2 -o "$tmp/bad.html"
run_usage "no output" "-o REPORT.html" report "$model"
run_usage "level refused" "measures -O0 and -O3 itself" report "$model" -O2 -o "$tmp/bad.html"
run_usage "static without calibration" "--calibration" report "$model" --quantize static -o "$tmp/bad.html"
run_usage "labels without data" "--labels needs --data" report "$model" --labels "$y" -o "$tmp/bad.html"
run_usage "bad --quantize" "static or dynamic" report "$model" --quantize int4 -o "$tmp/bad.html"
run_err "missing calibration" "neither a folder" report "$model" --quantize static --calibration "$tmp/none.npy" \
  -o "$tmp/bad.html"
check "no page after errors" test ! -e "$tmp/bad.html"

# ---- the digits report
mkdir -p "$tmp/scratch"
start=$(date +%s)
TMPDIR="$tmp/scratch" "$onyx" report "$model" --quantize static --calibration "$x" --labels "$y" --data "$x" -o "$tmp/r.html" \
  >"$tmp/out" 2>"$tmp/err"
rc=$?
secs=$(($(date +%s) - start))
echo "report took ${secs} s"
if [[ $rc -eq 0 ]]; then ok; else bad "report: rc=$rc: $(tail -3 "$tmp/err")"; fi
check "wrote both files" grep -qF "wrote $tmp/r.json" "$tmp/out"
check "progress on stderr" grep -qE '^onyx report: \[[0-9]+/[0-9]+\] batch sweep 1,8,32' "$tmp/err"
check "no error line" bash -c "! grep -q 'onyx: error' '$tmp/err'"
check "no scratch left" rmdir "$tmp/scratch"

browser=$(command -v chromium-headless-shell || command -v chromium || true)
if [[ -z $browser ]]; then
  bad "no headless Chromium (scripts/install-deps.sh installs chromium-headless-shell)"
  finish
  exit
fi
# chromium (not the headless shell) needs --headless; root needs --no-sandbox
flags=(--no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$tmp/chrome")
[[ $browser == *headless-shell ]] || flags+=(--headless)
dump_dom() { "$browser" "${flags[@]}" --dump-dom "file://$1" >"$2" 2>/dev/null && [[ -s $2 ]]; }
screenshot() { "$browser" "${flags[@]}" --window-size=1200,6200 --screenshot="$2" "file://$1" >/dev/null 2>&1; }
check "dump DOM" dump_dom "$tmp/r.html" "$tmp/dom.html"
mkdir -p "$art" && art=$(cd "$art" && pwd)
check "screenshot" screenshot "$tmp/r.html" "$art/digits_report.png"
check "screenshot written" test -s "$art/digits_report.png"
cp "$tmp/r.html" "$tmp/r.json" "$art/" 2>/dev/null

# check.py DOM JSON PLOTS [KEYS]: the page's checks (see the file comment); PLOTS
# and KEYS (figures that must be shown) are comma-separated
cat >"$tmp/check.py" <<'EOF'
import json, math, re, sys
from html.parser import HTMLParser

dom_path, json_path = sys.argv[1], sys.argv[2]
expect_plots = sys.argv[3].split(",")
expect_keys = sys.argv[4].split(",") if len(sys.argv) > 4 else []
doc = json.load(open(json_path))
VOID = {"meta", "br", "img", "input", "link", "hr", "wbr", "source", "col", "area", "base", "embed", "param", "track"}

class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack = []      # open elements: (tag, attrs, text parts)
        self.figures = []    # (attrs, text) of elements with data-key
        self.plots = {}      # id -> counts
        self.plot = None
        self.scripts = 0
        self.external = []
        self.text = []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script": self.scripts += 1
        for k in ("src", "href"):
            if re.match(r"(https?:)?//", a.get(k) or ""): self.external.append(a[k])
        cls = (a.get("class") or "").split()
        if tag == "svg" and "plot" in cls:
            self.plot = {"axis x": 0, "axis y": 0, "ticks": 0, "data": 0, "lines": 0}
            self.plots[a.get("data-plot")] = self.plot
        if self.plot is not None:
            if tag == "g" and "axis" in cls: self.plot["axis " + cls[1]] += 1
            if "tick" in cls: self.plot["ticks"] += 1
            if tag in ("circle", "rect") and ("pt" in cls or "bar" in cls) and a.get("data-value") not in (None, ""):
                self.plot["data"] += 1
            if tag == "line": self.plot["lines"] += 1
        if tag not in VOID: self.stack.append((tag, a, []))
    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID: self.handle_endtag(tag)
    def handle_endtag(self, tag):
        while self.stack:
            t, a, parts = self.stack.pop()
            text = "".join(parts)
            if self.stack: self.stack[-1][2].append(text)
            if "data-key" in a: self.figures.append((t, a, text))
            if t == "svg" and "plot" in (a.get("class") or ""): self.plot = None
            if t == tag: break
    def handle_data(self, data):
        self.text.append(data)
        if self.stack: self.stack[-1][2].append(data)

page = Page()
page.feed(open(dom_path, encoding="utf-8").read())
errors = []
if page.scripts: errors.append("the page has <script>")
if page.external: errors.append("the page fetches %s" % page.external[:3])
for pid in expect_plots:
    p = page.plots.get(pid)
    if p is None: errors.append("plot %s missing" % pid); continue
    if not (p["axis x"] and p["axis y"] and p["ticks"] >= 3 and p["data"] >= 1 and p["lines"] >= 2):
        errors.append("plot %s incomplete: %s" % (pid, p))

def lookup(path):
    v = doc
    for part in path.split("."):
        if isinstance(v, list): v = v[int(part)] if part.isdigit() and int(part) < len(v) else KeyError
        elif isinstance(v, dict): v = v.get(part, KeyError)
        else: v = KeyError
        if v is KeyError: return KeyError
    return v

checked = shown = 0
for tag, a, text in page.figures:
    key, dv = a["data-key"], a.get("data-value")
    jv = lookup(key)
    if jv is KeyError: errors.append("%s: not in the JSON" % key); continue
    if dv == "null" or jv is None:
        if not (dv == "null" and jv is None): errors.append("%s: page %s, JSON %s" % (key, dv, jv))
        elif "data-scale" in a and "n/a" not in text: errors.append("%s: null shown as %r" % (key, text))
        continue
    if float(dv) != float(jv): errors.append("%s: page %s, JSON %s" % (key, dv, jv)); continue
    checked += 1
    if "data-scale" in a:
        m = re.search(r"-?\d+(\.\d+)?(e[-+]?\d+)?", text.replace("\u00a0", " "))
        want = float(jv) * float(a["data-scale"])
        if not m: errors.append("%s: no number in %r" % (key, text)); continue
        got = float(m.group(0))
        if abs(got - want) > 0.01 * abs(want) + 1e-9 and abs(got - want) > 0.0006:
            errors.append("%s: shows %r, JSON says %g" % (key, text, want))
        shown += 1

# figures a reader looks for must be on the page
keys = {a["data-key"] for _, a, _ in page.figures}
for k in expect_keys:
    if k not in keys: errors.append("%s is not shown" % k)
if page.figures and not shown: errors.append("no table cell checked")

text = " ".join(page.text)
for src, why in (doc["sustained"].get("not_available") or {}).items():
    if "not available on this machine (" + why not in " ".join(text.split()):
        errors.append("the page does not say why %s is missing" % src)
if "GPU utilization, power and temperature" not in text: errors.append("no GPU telemetry line")
print("%d figures match the JSON (%d visible texts checked), %d plots" % (checked, shown, len(page.plots)))
for e in errors[:20]: print("FAIL:", e)
sys.exit(1 if errors else 0)
EOF

plots=batch-latency,batch-throughput,threads-throughput,threads-efficiency,variants-latency,variants-throughput
plots+=,variants-rss,variants-arena,variants-size,accuracy-speed,sustained-throughput
if "$py" -c "import json,sys; sys.exit(json.load(open(sys.argv[1]))['sustained']['slices'][0]['freq_mhz'] is None)" \
  "$tmp/r.json"; then plots+=,sustained-frequency; fi
keys=batch_sweep.points.0.latency_ms.p50,thread_sweep.points.1.scaling_efficiency,variants.0.point.peak_rss_bytes
keys+=,variants.2.model_bytes,variants.2.accuracy_pct,variants.1.point.arena_bytes,sustained.first_slice_throughput_per_s
check "page matches JSON" "$py" "$tmp/check.py" "$tmp/dom.html" "$tmp/r.json" "$plots" "$keys"
"$py" "$tmp/check.py" "$tmp/dom.html" "$tmp/r.json" "$plots" "$keys" | head -1

# the numbers themselves: the bundled model's known accuracy (models/README.md), INT8 smaller and close
pycheck "figures" "d = json.load(open('$tmp/r.json')); v = d['variants']
assert [x['key'] for x in v] == ['fp32_O0', 'fp32_O3', 'int8_O3'], v
assert v[0]['correct'] == 536 and v[0]['total'] == 540, v[0]
assert v[1]['correct'] == 536 and v[1]['max_abs_error'] < 1e-3, v[1]
assert v[2]['accuracy_pct'] > 95 and 0 < v[2]['max_abs_error'] < 2, v[2]
assert v[2]['model_bytes'] < 0.5 * v[0]['model_bytes'], (v[0]['model_bytes'], v[2]['model_bytes'])
assert all(x['point']['peak_rss_bytes'] > 0 and x['point']['runs'] > 0 for x in v)
assert [p['batch'] for p in d['batch_sweep']['points']] == [1, 8, 32]
assert [p['threads'] for p in d['thread_sweep']['points']] == [1, 2]
assert len(d['sustained']['slices']) == 10 and d['quantization']['nodes_quantized'] > 0
assert d['machine']['version'] == d['onyx_version'] and d['machine_text'].startswith('onyx ')"

# ---- --compare, on a machine that exposes no telemetry (an empty fake sysfs)
mkdir -p "$tmp/nosys"
ONYX_SYSFS_ROOT="$tmp/nosys" "$onyx" report "$model" --threads 1 --batch 1,4 --point-duration 0.05 --duration 0.2 \
  --compare "$tmp/r.json" -q -o "$tmp/c.html" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [[ $rc -eq 0 && ! -s $tmp/err ]]; then ok; else bad "report --compare: rc=$rc: $(tail -3 "$tmp/err")"; fi
check "dump DOM (compare)" dump_dom "$tmp/c.html" "$tmp/cdom.html"
check "compare page matches JSON" "$py" "$tmp/check.py" "$tmp/cdom.html" "$tmp/c.json" \
  batch-latency,threads-throughput,variants-latency,accuracy-speed,sustained-throughput
check "before series drawn" grep -q 'data-series="p50 before"' "$tmp/cdom.html"
check "before columns" grep -q 'class="before" data-old-value="[0-9]' "$tmp/cdom.html"
check "no frequency plot without a source" bash -c "! grep -q 'data-plot=\"sustained-frequency\"' '$tmp/cdom.html'"
pycheck "nothing measured reads as zero" "d = json.load(open('$tmp/c.json')); s = d['sustained']
assert set(s['not_available']) == {'energy', 'frequency', 'temperature'}, s['not_available']
assert all(x['energy_j'] is None and x['temp_c'] is None and x['freq_mhz'] is None for x in s['slices'])
assert s['energy_per_inference_j'] is None and len(d['variants']) == 2"
run_err "bad --compare" "is not valid JSON" report "$model" --compare "$x" -o "$tmp/bad.html"

finish
