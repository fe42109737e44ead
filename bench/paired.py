#!/usr/bin/env python3
"""paired.py — onyx and ONNX Runtime alternate runs in one process on the same
inputs, so that both see the same machine at the same moment.

On a shared host the speed of a core drifts by 10-30% over seconds (other
tenants, clocks); runs timed minutes apart, or in separate processes one
after the other, then compare the drift as much as the runtimes. Here each
round runs ORT and every onyx configuration once, in an order that rotates
from round to round, and the result per configuration is the median of the
per-round ratios ORT/onyx, their quartiles and the share of rounds onyx won.
A configuration (--config, repeatable) is a space-separated list of
`providers=LIST` and `PROVIDER:KEY=VALUE` provider options, e.g.
--config providers=cpu --config "providers=dnnl,cpu dnnl:conv_algorithm=direct";
without --config, one from --providers and --provider-option. Each has its
own session. Meant for one intra-op thread: with more, each runtime's idle
workers would stand in the other's way in one process, so ORT runs with
session.intra_op.allow_spinning=0, which slows ORT itself at 2 threads
(BERT-base: 131 ms here against 98-125 ms in its own process); use
bench/compare for thread counts above 1.

onyx is loaded from its shared library (build/libonyx.so) through ctypes;
ORT is the `onnxruntime` Python package (the device machine's), or any
build with the same API.

Usage: /usr/bin/python3 bench/paired.py MODEL.onnx [--lib build/libonyx.so]
         [--providers dnnl,cpu] [--provider-option dnnl:conv_algorithm=direct ...]
         [--config SPEC ...] [--iters 40] [--warmup 3] [--threads 1]
Inputs: seeded random data as bench/compare makes it, from MODEL.inputs.json
next to the model (bench/export_models.py writes it)."""
import argparse
import ctypes as C
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare_outputs as co  # noqa: E402

DTYPES = {np.dtype(np.float32): 1, np.dtype(np.uint8): 2, np.dtype(np.int8): 3, np.dtype(np.int32): 6,
          np.dtype(np.int64): 7, np.dtype(np.bool_): 9}


class Onyx:
    """The few C API calls a timed run needs."""

    def __init__(self, lib, model, threads, providers, provider_options):
        self.L = L = C.CDLL(lib)
        P = C.c_void_p
        L.onyx_status_message.restype = C.c_char_p
        L.onyx_status_message.argtypes = [P]
        for f in ("onyx_options_create", "onyx_session_create", "onyx_tensor_borrow", "onyx_session_run",
                  "onyx_options_set_providers", "onyx_options_set_provider_option"):
            getattr(L, f).restype = P
        L.onyx_options_create.argtypes = [C.POINTER(P)]
        L.onyx_options_set_intra_op_threads.argtypes = [P, C.c_int]
        L.onyx_options_set_providers.argtypes = [P, C.c_char_p]
        L.onyx_options_set_provider_option.argtypes = [P, C.c_char_p, C.c_char_p, C.c_char_p]
        L.onyx_session_create.argtypes = [C.c_char_p, P, C.POINTER(P)]
        L.onyx_tensor_borrow.argtypes = [C.c_int, C.c_int, C.POINTER(C.c_int64), P, C.c_size_t, C.POINTER(P)]
        L.onyx_session_run.argtypes = [P, C.c_int, C.POINTER(C.c_char_p), C.POINTER(P), C.c_int,
                                       C.POINTER(C.c_char_p), C.POINTER(P)]
        for f in ("onyx_tensor_free", "onyx_session_destroy", "onyx_options_destroy", "onyx_status_free"):
            getattr(L, f).argtypes = [P]
        opts = P()
        self.check(L.onyx_options_create(C.byref(opts)))
        L.onyx_options_set_intra_op_threads(opts, threads)
        if providers:
            self.check(L.onyx_options_set_providers(opts, providers.encode()))
        for po in provider_options:   # PROVIDER:KEY=VALUE, as onyx's --provider-option
            prov, _, kv = po.partition(":")
            key, _, val = kv.partition("=")
            self.check(L.onyx_options_set_provider_option(opts, prov.encode(), key.encode(), val.encode()))
        self.sess = P()
        st = L.onyx_session_create(model.encode(), opts, C.byref(self.sess))
        L.onyx_options_destroy(opts)
        self.check(st)

    def check(self, st):
        if st:
            msg = self.L.onyx_status_message(st).decode()
            self.L.onyx_status_free(st)
            sys.exit("onyx: " + msg)

    def feed(self, inputs, n_outputs):
        self.keep = [np.ascontiguousarray(v) for v in inputs.values()]
        n = len(self.keep)
        self.names = (C.c_char_p * n)(*[k.encode() for k in inputs])
        self.tensors = (C.c_void_p * n)()
        for i, a in enumerate(self.keep):
            dims = (C.c_int64 * max(a.ndim, 1))(*a.shape)
            t = C.c_void_p()
            self.check(self.L.onyx_tensor_borrow(DTYPES[a.dtype], a.ndim, dims, a.ctypes.data, a.nbytes, C.byref(t)))
            self.tensors[i] = t.value
        self.n_out = n_outputs
        self.outs = (C.c_void_p * n_outputs)()

    def run(self):
        self.check(self.L.onyx_session_run(self.sess, len(self.keep), self.names, self.tensors, self.n_out,
                                           None, self.outs))
        for i in range(self.n_out):
            self.L.onyx_tensor_free(self.outs[i])

    def close(self):
        for t in self.tensors:
            self.L.onyx_tensor_free(t)
        self.L.onyx_session_destroy(self.sess)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--lib", default="build/libonyx.so")
    ap.add_argument("--providers", default="")
    ap.add_argument("--provider-option", action="append", default=[], metavar="PROVIDER:KEY=VALUE")
    ap.add_argument("--config", action="append", default=[], metavar="SPEC",
                    help="an onyx configuration: providers=LIST and PROVIDER:KEY=VALUE, space-separated")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--iters", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=3)
    a = ap.parse_args()
    import onnxruntime as ort
    spec = json.load(open(os.path.splitext(a.model)[0] + ".inputs.json"))
    rng = np.random.default_rng(0)
    inputs = {k: co.make_input(rng, v) for k, v in spec.items()}
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    rt = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
    configs = a.config or [" ".join(([f"providers={a.providers}"] if a.providers else []) + a.provider_option)]
    onyx = []
    for c in configs:
        toks = c.split()
        prov = [t[len("providers="):] for t in toks if t.startswith("providers=")]
        ox = Onyx(os.path.abspath(a.lib), a.model, a.threads, prov[-1] if prov else "",
                  [t for t in toks if not t.startswith("providers=")])
        ox.feed(inputs, len(rt.get_outputs()))
        onyx.append(ox)
    runs = [lambda: rt.run(None, inputs)] + [ox.run for ox in onyx]
    for _ in range(a.warmup):
        for f in runs:
            f()
    times = [[] for _ in runs]   # times[0]: ORT
    for i in range(a.iters):
        k = i % len(runs)
        for j in list(range(len(runs)))[k:] + list(range(len(runs)))[:k]:
            t0 = time.perf_counter()
            runs[j]()
            times[j].append((time.perf_counter() - t0) * 1e3)
    for ox in onyx:
        ox.close()
    name = os.path.basename(a.model)
    for c, t in zip(configs, times[1:]):
        ratios = [r / o for o, r in zip(t, times[0])]
        print(f"{name} threads={a.threads} {c or 'default'}: onyx median {statistics.median(t):.2f} ms, "
              f"ORT median {statistics.median(times[0]):.2f} ms, ORT/onyx per round: median "
              f"{statistics.median(ratios):.3f} (quartiles {np.percentile(ratios, 25):.3f}-"
              f"{np.percentile(ratios, 75):.3f}), onyx faster in {sum(r > 1 for r in ratios)}/{len(ratios)} rounds")


if __name__ == "__main__":
    main()
