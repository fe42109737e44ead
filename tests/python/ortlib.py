"""The module switch and the shared fixtures of the Python suite.

ORT=onyx (the default) tests `import onyx`; ORT=onnxruntime runs the same suite
against ONNX Runtime, where tests of onyx-only extras skip with "onyx extension".
"""
import functools
import importlib
import os
import unittest

import numpy as np

ORT_NAME = os.environ.get("ORT", "onyx")
ort = importlib.import_module(ORT_NAME)
IS_ONYX = ORT_NAME == "onyx"
ONYX_ONLY = "onyx extension"

# The exception classes live where ORT keeps them (onyx mirrors the path).
_state = importlib.import_module(ORT_NAME + ".capi.onnxruntime_pybind11_state")


def exc(name):
    """An error class of ORT's C binding (Fail, InvalidArgument, NoSuchFile, ...)."""
    return getattr(_state, name)


def quantization():
    """onyx.quantization or onnxruntime.quantization."""
    return importlib.import_module(ORT_NAME + ".quantization")


def onyx_only(obj):
    """Skips a test (or a class) of an onyx-only extra in ORT mode."""
    return unittest.skipUnless(IS_ONYX, ONYX_ONLY)(obj)


def sim_device_class():
    """onyx._onyx.SimDevice, or None (not onyx, or not a test build)."""
    if not IS_ONYX:
        return None
    try:
        ext = importlib.import_module("onyx._onyx")
    except ImportError:
        return None
    return getattr(ext, "SimDevice", None)


def onnxruntime_or_none():
    """The real onnxruntime module when it is installed, else None."""
    try:
        return importlib.import_module("onnxruntime")
    except ImportError:
        return None


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = os.path.join(ROOT, "models")
DIGITS = os.path.join(MODELS, "digits_cnn.onnx")
DIGITS_X = os.path.join(MODELS, "digits_test_x.npy")
DIGITS_Y = os.path.join(MODELS, "digits_test_y.npy")
CPU = "CPUExecutionProvider"
DNNL = "DnnlExecutionProvider"
CUDA = "CUDAExecutionProvider"
TRT = "TensorrtExecutionProvider"


@functools.lru_cache(maxsize=None)
def digits_data():
    """(x float32 [540,1,8,8], y int64 [540]), read once."""
    x = np.load(DIGITS_X)
    y = np.load(DIGITS_Y)
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def accuracy(logits, labels):
    return float(np.mean(np.argmax(logits, axis=1) == labels))


def digits_numpy_reference(x, model_path=DIGITS):
    """The digits CNN computed in float64 NumPy from the model's own weights:
    Conv3x3(pad 1)-BN-Relu-MaxPool2 twice, Flatten, Gemm-Relu-Gemm (transB)."""
    import onnx
    from onnx import numpy_helper

    m = onnx.load(model_path)
    w = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in m.graph.initializer}
    eps = {}
    for n in m.graph.node:
        if n.op_type == "BatchNormalization":
            eps[n.input[1]] = next((a.f for a in n.attribute if a.name == "epsilon"), 1e-5)

    def conv(v, wt, b):
        p = np.pad(v, ((0, 0), (0, 0), (1, 1), (1, 1)))
        win = np.lib.stride_tricks.sliding_window_view(p, (3, 3), axis=(2, 3))
        return np.einsum("nchwij,ocij->nohw", win, wt) + b[None, :, None, None]

    def bn(v, pre):
        s, b = w[pre + ".weight"], w[pre + ".bias"]
        mu, var = w[pre + ".running_mean"], w[pre + ".running_var"]
        e = eps[pre + ".weight"]
        return (v - mu[None, :, None, None]) / np.sqrt(var[None, :, None, None] + e) * s[None, :, None, None] + b[None, :, None, None]

    def pool(v):
        n, c, h, ww = v.shape
        return v.reshape(n, c, h // 2, 2, ww // 2, 2).max(axis=(3, 5))

    v = x.astype(np.float64)
    v = pool(np.maximum(bn(conv(v, w["features.0.weight"], w["features.0.bias"]), "features.1"), 0))
    v = pool(np.maximum(bn(conv(v, w["features.4.weight"], w["features.4.bias"]), "features.5"), 0))
    v = v.reshape(v.shape[0], -1)
    v = np.maximum(v @ w["classifier.1.weight"].T + w["classifier.1.bias"], 0)
    return v @ w["classifier.3.weight"].T + w["classifier.3.bias"]


try:  # quieter ORT logs (warnings of dropped providers etc. still reach Python)
    ort.set_default_logger_severity(3)
except Exception:  # pragma: no cover - a missing function is tested in test_api
    pass


def _node_modules():
    """A node_modules folder holding onnxruntime-node, or None."""
    import shutil
    if not shutil.which("node"):
        return None
    for d in (os.environ.get("ORT_NODE_MODULES"), os.path.join(ROOT, "bench", "node_modules")):
        if d and os.path.isdir(os.path.join(d, "onnxruntime-node")):
            return d
    return None


def reference_ort_runner():
    """(description, run(model_path, feed) -> [outputs]) running ONNX Runtime itself:
    the Python module when importable, else onnxruntime-node through bench/ort_run.js
    (bench/node_modules, or $ORT_NODE_MODULES); None when neither is there."""
    rt = onnxruntime_or_none()
    if rt is not None:
        def run_py(path, feed):
            return rt.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, feed)
        return "onnxruntime %s (Python)" % rt.__version__, run_py
    mods = _node_modules()
    if mods is None:
        return None

    def run_node(path, feed):
        import subprocess
        import tempfile
        import onnx
        with tempfile.TemporaryDirectory() as d:
            args = ["node", os.path.join(ROOT, "bench", "ort_run.js"), path, "-o", os.path.join(d, "out")]
            for k, v in feed.items():
                f = os.path.join(d, "in_%d.npy" % len(args))
                np.save(f, np.ascontiguousarray(v))
                args += ["-i", "%s=%s" % (k, f)]
            env = dict(os.environ, NODE_PATH=mods)
            env.pop("LD_PRELOAD", None)  # node is not built with ASan
            r = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
            if r.returncode != 0:
                raise RuntimeError("ort_run.js failed: %s" % (r.stderr.strip() or r.stdout.strip()))
            names = [o.name for o in onnx.load(path, load_external_data=False).graph.output]
            return [np.load(os.path.join(d, "out", n + ".npy")) for n in names]
    return "onnxruntime-node (bench/ort_run.js)", run_node
