#!/usr/bin/python3
"""compare_outputs.py — checks onyx's outputs against ONNX Runtime's and times both.

For each model in the model folder (bench/models.sh makes them) this makes seeded random
inputs, runs `onyx run MODEL -i NAME=FILE.npy ... -o DIR` and ONNX Runtime through
bench/ort_run.js on the very same .npy files, and compares every output elementwise
with numpy's allclose rule |onyx - ort| <= atol + rtol * |ort| (defaults rtol 1e-4,
atol 1e-5). Then it times both runtimes at each thread count: ORT's p50 from ort_run.js,
and onyx's figure from `onyx run --repeat N --threads T` (its p50 when it prints one,
else its mean). ORT is the reference; a model onyx cannot run yet is reported as ERROR
with onyx's message and the rest of the table goes on, so the script is useful while
operators are still missing. --ort-only skips onyx entirely (checks the peer setup).

Inputs come from NAME.inputs.json beside the model when export_models.py wrote one
(shape, dtype, distribution); otherwise from the model's declared inputs, with 1 for
symbolic dims.

Exit status: 0 when every comparison passed, 1 when one failed or a runtime errored.
Usage: /usr/bin/python3 bench/compare_outputs.py [--onyx build/onyx] [--models DIR]
         [--only a,b] [--threads 1,2] [--repeat 20] [--no-bench] [--ort-only]
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys
import zlib

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ONNX_DTYPES = {1: "float32", 2: "uint8", 3: "int8", 5: "int16", 6: "int32", 7: "int64",
               9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64"}


def file_name(name):
    """Same mapping as ort_run.js: tensor name -> file name."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".npy"


def model_io(path):
    """(inputs [(name, dtype, dims)], output names) from the ONNX file, weights not needed."""
    import onnx
    m = onnx.load(path, load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    ins = []
    for v in m.graph.input:
        if v.name in inits:
            continue
        t = v.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else 1 for d in t.shape.dim]
        ins.append((v.name, ONNX_DTYPES.get(t.elem_type, "float32"), dims))
    return ins, [o.name for o in m.graph.output]


def make_input(rng, spec):
    shape, dtype, dist = spec["shape"], spec["dtype"], spec.get("dist")
    if dist == "randint":
        return rng.integers(spec["low"], spec["high"], size=shape).astype(dtype)
    if dist == "mask":
        a = np.zeros(shape, dtype=dtype)
        a[..., :spec["valid"]] = 1
        return a
    if dist == "uniform":
        return rng.uniform(spec["low"], spec["high"], size=shape).astype(dtype)
    if dtype == "bool":
        return rng.integers(0, 2, size=shape).astype(bool)
    if np.issubdtype(np.dtype(dtype), np.integer):
        return rng.integers(0, 10, size=shape).astype(dtype)
    return rng.standard_normal(size=shape).astype(dtype)


def run(cmd, timeout):
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=timeout, cwd=REPO)
        return p.returncode, p.stdout
    except subprocess.TimeoutExpired:
        return 124, f"timed out after {timeout} s"
    except OSError as e:
        return 127, str(e)


def last_lines(text, n=3):
    return " | ".join(l.strip() for l in text.strip().splitlines()[-n:])


def find_output(outdir, name, n_outputs):
    for cand in (file_name(name), name + ".npy"):
        p = os.path.join(outdir, cand)
        if os.path.isfile(p):
            return p
    files = glob.glob(os.path.join(outdir, "*.npy"))
    return files[0] if n_outputs == 1 and len(files) == 1 else None


def compare(a, b, rtol, atol):
    """(max abs err, max rel err, max abs err / max |ort|, pass, note) for onyx output a
    against ORT output b. The scaled error tells fp32 rounding noise (~1e-6..1e-5 after
    many layers) from a real bug (~1e-2 and up) when an element near zero fails rtol:
    an output passes when it is allclose(rtol, atol) or its scaled error is <= rtol
    (ResNet-50's logits differ by up to 3e-5 between any two fp32 runtimes, also
    between onyx's own cpu and dnnl providers, on elements as small as 1e-2)."""
    if a.shape != b.shape:
        return np.nan, np.nan, np.nan, False, f"shape {list(a.shape)} vs ORT {list(b.shape)}"
    note = "" if a.dtype == b.dtype else f"dtype {a.dtype} vs ORT {b.dtype}"
    if a.size == 0:
        return 0.0, 0.0, 0.0, not note, note
    af, bf = a.astype(np.float64), b.astype(np.float64)
    # allclose treats equal infinities as close and (equal_nan) NaN only against NaN;
    # the error figures cover the elements finite in both.
    ok = bool(np.allclose(af, bf, rtol=rtol, atol=atol, equal_nan=True)) and not note
    finite = np.isfinite(af) & np.isfinite(bf)
    if not finite.all():
        note = note or f"{int((~finite).sum())} non-finite elements"
    diff = np.abs(af[finite] - bf[finite])
    max_abs = float(diff.max()) if diff.size else 0.0
    rel = diff / np.maximum(np.abs(bf[finite]), np.finfo(np.float32).tiny)
    max_rel = float(rel.max()) if rel.size else 0.0
    scale = float(np.abs(bf[finite]).max()) if diff.size else 0.0
    scaled = max_abs / scale if scale else max_abs
    ok = ok or (not note and finite.all() and scaled <= rtol)
    return max_abs, max_rel, scaled, ok, note


def write_inputs(model, folder, seed):
    """Makes the benchmark inputs of `model` as .npy files in `folder`: from NAME.inputs.json
    beside the model when there is one, else from the declared inputs (symbolic dims 1),
    seeded by (seed, model name) so every script and run feeds the same data.
    Returns (["-i", "NAME=FILE", ...] for onyx and ort_run.js, output names)."""
    name = os.path.basename(model)[:-5]
    ins, outs = model_io(model)
    spec_path = model[:-5] + ".inputs.json"
    specs = json.load(open(spec_path)) if os.path.exists(spec_path) else {}
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    in_args = []
    os.makedirs(folder, exist_ok=True)
    for iname, dtype, dims in ins:
        spec = specs.get(iname, {"dtype": dtype, "shape": dims})
        p = os.path.join(folder, file_name(iname))
        np.save(p, make_input(rng, spec))
        in_args += ["-i", f"{iname}={p}"]
    return in_args, outs


def compare_dirs(onyx_dir, onyx_err, ort_dir, outs, rtol, atol):
    """One row (output, max abs err, max rel err, abs/max|ort|, result, note) per output:
    onyx's DIR/<name>.npy against ORT's. result is PASS, FAIL, ERROR (onyx_err: onyx
    failed, with its message) or "-" (onyx_dir None: ORT only)."""
    rows = []
    for oname in outs:
        ref = np.load(os.path.join(ort_dir, file_name(oname)))
        desc = f"{ref.dtype}{list(ref.shape)}"
        if onyx_dir is None:
            rows.append((oname, "", "", "", "-", f"ORT only: {desc}"))
            continue
        if onyx_err:
            rows.append((oname, "", "", "", "ERROR", onyx_err))
            continue
        got = find_output(onyx_dir, oname, len(outs))
        if got is None:
            rows.append((oname, "", "", "", "FAIL", f"onyx wrote no {file_name(oname)} in {onyx_dir}"))
            continue
        max_abs, max_rel, scaled, ok, note = compare(np.load(got), ref, rtol, atol)
        rows.append((oname, f"{max_abs:.3g}", f"{max_rel:.3g}", f"{scaled:.3g}",
                     "PASS" if ok else "FAIL", note or desc))
    return rows


def last_json(text):
    """The last line of text that parses as a JSON object, or None."""
    for line in reversed(text.strip().splitlines()):
        try:
            v = json.loads(line)
        except ValueError:
            continue
        if isinstance(v, dict):
            return v
    return None


def parse_onyx_latency(text):
    """onyx run --repeat prints its latency; take p50 if given, else mean (ms)."""
    for stat in ("p50", "median", "mean", "avg", "latency"):
        m = re.search(stat + r"[^0-9\n]{0,20}?([0-9]+(?:\.[0-9]+)?)\s*(ms|us|µs|s)\b", text, re.I)
        if m:
            v = float(m.group(1)) * {"ms": 1, "us": 1e-3, "µs": 1e-3, "s": 1e3}[m.group(2)]
            return ("p50" if stat in ("p50", "median") else "mean"), v
    return None, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--onyx", default=os.path.join(REPO, "build", "onyx"))
    ap.add_argument("--models", default=os.path.join(REPO, "bench", "out", "models"))
    ap.add_argument("--work", default=os.path.join(REPO, "bench", "out", "compare"))
    ap.add_argument("--only", default="", help="comma-separated model names (file stems)")
    ap.add_argument("--rtol", type=float, default=1e-4)
    ap.add_argument("--atol", type=float, default=1e-5)
    ap.add_argument("--threads", default="1,2", help="thread counts to time, comma-separated")
    ap.add_argument("--repeat", type=int, default=20, help="timed runs per measurement")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=int, default=900, help="seconds per runtime invocation")
    ap.add_argument("--no-bench", action="store_true", help="compare outputs only, no timing")
    ap.add_argument("--ort-only", action="store_true", help="run ORT only (no onyx)")
    args = ap.parse_args()

    ort_js = os.path.join(REPO, "bench", "ort_run.js")
    if not os.path.isdir(os.path.join(REPO, "bench", "node_modules", "onnxruntime-node")):
        sys.exit("compare_outputs: ORT is not installed: "
                 "(cd bench && npm install --ignore-scripts)  — see bench/README.md")
    models = sorted(glob.glob(os.path.join(args.models, "*.onnx")))
    if args.only:
        keep = set(args.only.split(","))
        models = [m for m in models if os.path.basename(m)[:-5] in keep]
    if not models:
        sys.exit(f"compare_outputs: no models in {args.models} (make them with bench/models.sh)")
    onyx = None if args.ort_only else os.path.abspath(args.onyx)
    if onyx and not os.access(onyx, os.X_OK):
        print(f"compare_outputs: no onyx binary at {onyx}; comparing nothing, timing ORT only",
              file=sys.stderr)
        onyx = None
    threads = [int(t) for t in args.threads.split(",") if t]

    rows, timings, failed = [], [], False
    for model in models:
        name = os.path.basename(model)[:-5]
        work = os.path.join(args.work, name)
        in_args, outs = write_inputs(model, os.path.join(work, "inputs"), args.seed)

        print(f"== {name}", flush=True)
        ort_dir, onyx_dir = os.path.join(work, "ort"), os.path.join(work, "onyx")
        for d in (ort_dir, onyx_dir):
            os.makedirs(d, exist_ok=True)
            for f in glob.glob(os.path.join(d, "*.npy")):
                os.remove(f)
        rc, text = run(["node", ort_js, model, *in_args, "-o", ort_dir], args.timeout)
        if rc:
            failed = True
            rows.append((name, "*", "", "", "", "ERROR", "ORT: " + last_lines(text)))
            continue
        onyx_err = None
        if onyx:
            rc, text = run([onyx, "run", model, *in_args, "-o", onyx_dir], args.timeout)
            if rc:
                onyx_err = f"onyx exit {rc}: " + last_lines(text)
        for row in compare_dirs(onyx_dir if onyx else None, onyx_err, ort_dir, outs, args.rtol, args.atol):
            failed |= row[4] in ("FAIL", "ERROR")
            rows.append((name, *row))

        if args.no_bench:
            continue
        for t in threads:
            rc, text = run(["node", ort_js, model, *in_args, "--threads", str(t),
                            "--repeat", str(args.repeat), "--json"], args.timeout)
            ort_ms = json.loads(text.strip().splitlines()[-1])["p50_ms"] if rc == 0 else None
            if rc:
                failed = True
                print(f"  ORT timing failed: {last_lines(text)}", file=sys.stderr)
            onyx_stat, onyx_ms = None, None
            if onyx and not onyx_err:
                rc, text = run([onyx, "run", model, *in_args, "--repeat", str(args.repeat),
                                "--threads", str(t)], args.timeout)
                if rc == 0:
                    onyx_stat, onyx_ms = parse_onyx_latency(text)
                if onyx_ms is None:
                    print(f"  onyx timing unavailable (exit {rc}): {last_lines(text)}", file=sys.stderr)
            timings.append((name, t, ort_ms, onyx_stat, onyx_ms))
            ort_s = "-" if ort_ms is None else f"{ort_ms:.2f} ms"
            onyx_s = "-" if onyx_ms is None else f"{onyx_stat} {onyx_ms:.2f} ms"
            print(f"  threads={t}: ORT p50 {ort_s}, onyx {onyx_s}", flush=True)

    print(f"\nOutputs (onyx vs ONNX Runtime, pass if |onyx-ort| <= {args.atol:g} + {args.rtol:g}*|ort|)")
    head = ("model", "output", "max abs err", "max rel err", "abs/max|ort|", "result", "note")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(6)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths) + "  {}"
    print(fmt.format(*head))
    for r in rows:
        print(fmt.format(*r))
    if timings:
        print(f"\nLatency, ms ({args.repeat} timed runs; ORT p50; onyx p50, or mean when that is all it prints)")
        print(f"{'model':<14}{'threads':>8}{'ORT p50':>10}{'onyx':>10}{'onyx/ORT':>10}")
        for name, t, o, stat, x in timings:
            ratio = f"{x / o:.2f}x" if o and x else "-"
            xs = f"{x:.2f}" + ("" if stat == "p50" else "*") if x else "-"
            print(f"{name:<14}{t:>8}{o if o is None else f'{o:.2f}':>10}{xs:>10}{ratio:>10}")
        if any(s == "mean" for *_, s, _ in timings):
            print("  * onyx mean, not p50")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
