#!/usr/bin/env python3
"""python_overhead.py — what a Python `session.run` costs beyond the runtime's
own run, for onyx (`import onyx`) and ONNX Runtime (`import onnxruntime`),
side by side in one process on one machine.

For each runtime: median wall time of `sess.run(None, feed)` measured in Python,
median time inside the runtime's C/C++ run (onyx: the time its extension spent
in onyx_session_run, `sess._sess.last_run_ns()`; ORT: the "model_run" events of
its profiler), and their difference, the binding overhead. Default model: the
bundled digits CNN at batch 1, one intra-op thread (so the run itself is
steady). Prints one CSV line per runtime:

  name,variant,shape,threads,ns_per_iter,inner_ns,overhead_ns

Usage: PYTHONPATH=build/python /usr/bin/python3 bench/python_overhead.py
       [--model M] [--batch N] [--iters N] [--runtimes onyx,onnxruntime]
A runtime that cannot be imported is reported on stderr and skipped.
"""
import argparse
import importlib
import json
import os
import statistics
import sys
import tempfile
import time

import numpy as np


def feed_for(sess, batch, rng):
    feed = {}
    for i in sess.get_inputs():
        shape = [batch if not isinstance(d, int) else d for d in i.shape]
        if i.type != "tensor(float)":
            raise SystemExit("python_overhead: input %s is %s; this benchmark feeds float inputs" % (i.name, i.type))
        feed[i.name] = rng.random(shape, dtype=np.float32)
    return feed


def timed_runs(sess, feed, iters):
    walls = []
    for _ in range(iters):
        t0 = time.perf_counter_ns()
        sess.run(None, feed)
        walls.append(time.perf_counter_ns() - t0)
    return walls


def measure_onyx(ort, model, batch, iters, rng):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    feed = feed_for(sess, batch, rng)
    timed_runs(sess, feed, iters // 10 + 10)   # warm up
    walls, inner = [], []
    for _ in range(iters):
        t0 = time.perf_counter_ns()
        sess.run(None, feed)
        walls.append(time.perf_counter_ns() - t0)
        inner.append(sess._sess.last_run_ns())
    return walls, inner, feed


def measure_ort(ort, model, batch, iters, rng):
    with tempfile.TemporaryDirectory() as tmp:
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.enable_profiling = True
        so.profile_file_prefix = os.path.join(tmp, "ort")
        sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
        feed = feed_for(sess, batch, rng)
        warm = iters // 10 + 10
        timed_runs(sess, feed, warm)
        walls = timed_runs(sess, feed, iters)
        path = sess.end_profiling()
        with open(path) as f:
            events = json.load(f)
    runs = [e["dur"] * 1000 for e in events if e.get("name") == "model_run"]
    return walls, runs[warm:], feed


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--model", default=os.path.join(here, "..", "models", "digits_cnn.onnx"))
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--iters", type=int, default=5000)
    ap.add_argument("--runtimes", default="onyx,onnxruntime")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    print("name,variant,shape,threads,ns_per_iter,inner_ns,overhead_ns")
    for name in args.runtimes.split(","):
        try:
            ort = importlib.import_module(name)
        except ImportError as e:
            print("python_overhead: %s not importable (%s); skipped" % (name, e), file=sys.stderr)
            continue
        measure = measure_onyx if name == "onyx" else measure_ort
        walls, inner, feed = measure(ort, args.model, args.batch, args.iters, rng)
        wall, core = statistics.median(walls), statistics.median(inner)
        shape = "x".join(str(d) for d in next(iter(feed.values())).shape)
        print("python_overhead,%s %s,%s,1,%d,%d,%d" % (name, getattr(ort, "__version__", "?"), shape, wall, core,
                                                     wall - core))


if __name__ == "__main__":
    main()
