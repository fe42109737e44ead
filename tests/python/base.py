"""Base classes of the test plan's suite: BaseQuantizationTest,
BaseProviderTest and BaseOptimizationTest, over a common BaseTest."""
import atexit
import os
import shutil
import tempfile
import unittest

import numpy as np
import onnx
from onnx import numpy_helper

from ortlib import (CPU, DIGITS, IS_ONYX, ONYX_ONLY, accuracy, digits_data, ort,
                    quantization, sim_device_class)

_SUITE_TMP = tempfile.mkdtemp(prefix="onyx-pytests-")
atexit.register(shutil.rmtree, _SUITE_TMP, True)
_FP32 = {}


def suite_tmp(name):
    """A path in the suite's temporary directory (kept until the process exits)."""
    return os.path.join(_SUITE_TMP, name)


class BaseTest(unittest.TestCase):
    """Common fixtures: a temporary directory, the digits model and its data,
    sessions pinned to the cpu provider, and comparisons."""

    maxDiff = None

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="onyx-test-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def require_onyx(self):
        if not IS_ONYX:
            self.skipTest(ONYX_ONLY)

    @staticmethod
    def digits():
        return digits_data()

    @staticmethod
    def cpu_session(model=DIGITS, so=None, **kw):
        if isinstance(model, onnx.ModelProto):
            model = model.SerializeToString()
        return ort.InferenceSession(model, sess_options=so, providers=[CPU], **kw)

    @classmethod
    def fp32_logits(cls):
        """The FP32 model's logits on all 540 test images (cpu provider), computed once."""
        if "logits" not in _FP32:
            x, _ = digits_data()
            _FP32["logits"] = cls.cpu_session().run(None, {"input": x})[0]
        return _FP32["logits"]

    def assertClose(self, actual, expected, atol=1e-5, rtol=1e-5, msg=None):
        actual, expected = np.asarray(actual), np.asarray(expected)
        self.assertEqual(actual.shape, expected.shape, msg)
        if not np.allclose(actual, expected, atol=atol, rtol=rtol):
            err = np.max(np.abs(actual.astype(np.float64) - expected))
            self.fail("%smax abs error %g > atol %g" % (msg + ": " if msg else "", err, atol))

    def save(self, model, name):
        path = os.path.join(self.tmp, name)
        onnx.save(model, path)
        return path


def make_reader(x, batch=10, name="input"):
    """A CalibrationDataReader (of the module under test) over x in batches."""
    q = quantization()

    class Reader(q.CalibrationDataReader):
        def __init__(self):
            self.batches = [x[i:i + batch] for i in range(0, len(x), batch)]
            self.calls = 0
            self.i = 0

        def get_next(self):
            self.calls += 1
            if self.i >= len(self.batches):
                return None
            self.i += 1
            return {name: np.ascontiguousarray(self.batches[self.i - 1])}

        def rewind(self):
            self.i = 0

    return Reader()


class BaseQuantizationTest(BaseTest):
    """Quantizes the digits model (results cached per configuration for the
    whole run) and evaluates quantized models against the FP32 one."""

    CALIB_N = 100          # calibration images: the last 100 of the test set
    CALIB_BATCH = 10
    _cache = {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.q = quantization()

    @classmethod
    def calibration_x(cls):
        x, _ = digits_data()
        return x[-cls.CALIB_N:]

    @classmethod
    def quantize_static(cls, key, **kw):
        """(path, report, reader) of quantize_static on the digits model with kw."""
        if key not in cls._cache:
            q = quantization()
            path = suite_tmp("static_%s.onnx" % key)
            reader = make_reader(cls.calibration_x(), cls.CALIB_BATCH)
            report = q.quantize_static(DIGITS, path, reader, **kw)
            cls._cache[key] = (path, report, reader)
        return cls._cache[key]

    @classmethod
    def quantize_dynamic(cls, key, model=DIGITS, **kw):
        if key not in cls._cache:
            q = quantization()
            path = suite_tmp("dynamic_%s.onnx" % key)
            report = q.quantize_dynamic(model, path, **kw)
            cls._cache[key] = (path, report, None)
        return cls._cache[key]

    def evaluate(self, path):
        """(accuracy, logits) of a model on the 540 test images, one batched run."""
        x, y = self.digits()
        logits = self.cpu_session(path).run(None, {"input": x})[0]
        return accuracy(logits, y), logits

    def assertAccuracyKept(self, path, max_drop=0.01):
        _, y = self.digits()
        fp32 = accuracy(self.fp32_logits(), y)
        acc, logits = self.evaluate(path)
        self.assertLess(fp32 - acc, max_drop,
                        "accuracy %.4f vs FP32 %.4f: drop >= %.2f%%" % (acc, fp32, 100 * max_drop))
        return acc, logits

    # --- reading a quantized model -------------------------------------
    @staticmethod
    def load(path):
        return onnx.load(path)

    @staticmethod
    def inits(model):
        return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}

    @staticmethod
    def producers(model):
        return {o: n for n in model.graph.node for o in n.output}

    def weight_dequantizers(self, model):
        """DequantizeLinear nodes of 8-bit initializers (weights, not int32 biases)."""
        inits = self.inits(model)
        out = []
        for n in model.graph.node:
            if n.op_type == "DequantizeLinear" and n.input[0] in inits and inits[n.input[0]].dtype in (np.int8, np.uint8):
                out.append(n)
        return out

    def activation_quantizers(self, model):
        return [n for n in model.graph.node if n.op_type == "QuantizeLinear"]

    def zero_point(self, model, node):
        inits = self.inits(model)
        if len(node.input) < 3 or not node.input[2]:
            return np.zeros(1, np.uint8)
        return inits[node.input[2]]

    def scale(self, model, node):
        return self.inits(model)[node.input[1]]

    def activation_scales(self, path):
        """{quantized tensor name: scale} of a QDQ model's QuantizeLinear nodes."""
        m = self.load(path)
        return {n.input[0]: float(np.asarray(self.scale(m, n)).reshape(-1)[0]) for n in self.activation_quantizers(m)}

    def float_weight_ops(self, model, op_type):
        """Nodes of op_type whose weight (input 1) is a float initializer, not a dequantized one."""
        inits = self.inits(model)
        return [n for n in model.graph.node if n.op_type == op_type and n.input[1] in inits
                and inits[n.input[1]].dtype == np.float32]

    def dq_weight_ops(self, model, op_type):
        """Nodes of op_type whose weight (input 1) comes from a weight DequantizeLinear."""
        dq_out = {n.output[0] for n in self.weight_dequantizers(model)}
        return [n for n in model.graph.node if n.op_type == op_type and n.input[1] in dq_out]


class BaseProviderTest(BaseTest):
    """Sessions on a chosen provider list, compared against the cpu provider
    on a digits batch."""

    BATCH = 64

    def batch(self):
        x, y = self.digits()
        return x[:self.BATCH], y[:self.BATCH]

    def require_provider(self, name, reason=None):
        if name not in ort.get_available_providers():
            self.skipTest(reason or "%s not in get_available_providers()" % name)

    def session(self, providers, model=DIGITS, so=None, **kw):
        if isinstance(model, onnx.ModelProto):
            model = model.SerializeToString()
        return ort.InferenceSession(model, sess_options=so, providers=providers, **kw)

    def assertMatchesCpu(self, sess, atol=1e-3, x=None):
        if x is None:
            x, _ = self.batch()
        out = sess.run(None, {"input": x})[0]
        ref = self.cpu_session().run(None, {"input": x})[0]
        self.assertClose(out, ref, atol=atol, rtol=0)
        return out

    def sim_device(self, pool_mb=0):
        cls = sim_device_class()
        if cls is None:
            self.skipTest("onyx._onyx has no SimDevice (not onyx, or not a test build)" if IS_ONYX else ONYX_ONLY)
        return cls(pool_mb)

    def sim_session(self, dev, model=DIGITS, providers=("simdev", CPU), level=None):
        so = ort.SessionOptions()
        if level is not None:
            so.graph_optimization_level = level
        so._add_provider_instance(dev)
        return self.session(list(providers), model, so)

    @staticmethod
    def placement(sess):
        return {p["name"]: p for p in sess.get_node_placement()}


class BaseOptimizationTest(BaseTest):
    """Sessions at a chosen optimization level, the optimized model they
    write, and the optimizer's statistics."""

    LEVELS = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        g = ort.GraphOptimizationLevel
        cls.LEVELS = [g.ORT_DISABLE_ALL, g.ORT_ENABLE_BASIC, g.ORT_ENABLE_EXTENDED, g.ORT_ENABLE_ALL]

    def options(self, level, optimized_path=None):
        so = ort.SessionOptions()
        so.graph_optimization_level = level
        if optimized_path:
            so.optimized_model_filepath = optimized_path
        return so

    def optimized(self, model, level, name="opt.onnx"):
        """(session, optimized ModelProto written by optimized_model_filepath)."""
        path = os.path.join(self.tmp, name)
        sess = self.cpu_session(model, self.options(level, path))
        self.assertTrue(os.path.exists(path), "optimized_model_filepath not written")
        return sess, onnx.load(path)

    @staticmethod
    def pass_stat(stats, name):
        """One pass's figures summed over its entries (dead_code runs at two levels)."""
        rows = [p for p in stats["passes"] if p["name"] == name]
        if not rows:
            return None
        keys = ("runs", "changes", "nodes_removed", "nodes_added", "fused", "folded")
        return {k: sum(r.get(k, 0) for r in rows) for k in keys}
