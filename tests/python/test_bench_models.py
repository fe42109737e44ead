"""The benchmark models of bench/models.sh (ResNet-50, MobileNetV2, BERT-base,
seeded random weights), where they were made: optimization levels and
quantization on real-size graphs. Skips when the models are absent; point
ONYX_BENCH_MODELS at another folder holding them (bench/export_models.py --out DIR)."""
import json
import os
import unittest

import numpy as np
import onnx

from base import BaseOptimizationTest, BaseQuantizationTest, make_reader
from ortlib import IS_ONYX, ROOT, ort

BENCH = os.environ.get("ONYX_BENCH_MODELS") or os.path.join(ROOT, "bench", "out", "models")


def bench_model(test, name):
    path = os.path.join(BENCH, name + ".onnx")
    if not os.path.isfile(path):
        test.skipTest("bench model %s not made (bench/models.sh)" % name)
    return path


def bench_inputs(name, seed=0):
    """Inputs as bench/export_models.py describes them in NAME.inputs.json."""
    with open(os.path.join(BENCH, name + ".inputs.json")) as f:
        spec = json.load(f)
    r = np.random.default_rng(seed)
    feed = {}
    for k, s in spec.items():
        shape, dist = s["shape"], s.get("dist")
        if dist == "randint":
            v = r.integers(s["low"], s["high"], shape)
        elif dist == "mask":
            v = np.zeros(shape)
            v[..., :s["valid"]] = 1
        elif dist == "uniform":
            v = r.uniform(s["low"], s["high"], shape)
        else:
            v = r.standard_normal(shape)
        feed[k] = v.astype(s["dtype"])
    return feed


def cosine(a, b):
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


class TestBenchModelLevels(BaseOptimizationTest):
    def _levels_agree(self, name):
        path = bench_model(self, name)
        feed = bench_inputs(name)
        g = ort.GraphOptimizationLevel
        ref = self.cpu_session(path, self.options(g.ORT_DISABLE_ALL)).run(None, feed)
        sess = self.cpu_session(path, self.options(g.ORT_ENABLE_ALL))
        out = sess.run(None, feed)
        for a, b in zip(out, ref):
            self.assertClose(a, b, atol=1e-3 * float(np.max(np.abs(b))) + 1e-5, rtol=0, msg=name)
        return sess

    def test_resnet50_levels(self):
        self._levels_agree("resnet50")

    def test_mobilenetv2_levels(self):
        self._levels_agree("mobilenetv2")

    def test_bert_base_levels_and_fusions(self):
        sess = self._levels_agree("bert_base")
        if IS_ONYX:
            st = sess.get_optimize_stats()
            self.assertLess(st["nodes_after"], st["nodes_before"])
            for p in ("attention_fusion", "layer_norm_fusion", "gelu_fusion"):
                s = self.pass_stat(st, p)
                self.assertTrue(s and s["fused"] >= 12, "%s fused %s in a 12-layer encoder" % (p, s))


class TestBenchModelQuantization(BaseQuantizationTest):
    def test_bert_base_dynamic(self):
        path = bench_model(self, "bert_base")
        feed = bench_inputs("bert_base")
        dst = os.path.join(self.tmp, "bert_int8.onnx")
        self.q.quantize_dynamic(path, dst, weight_type=self.q.QuantType.QInt8)
        self.assertLess(os.path.getsize(dst), 0.4 * os.path.getsize(path), "BERT's weights are nearly all of it")
        ops = {n.op_type for n in onnx.load(dst, load_external_data=False).graph.node}
        self.assertIn("MatMulInteger", ops)
        fp32 = self.cpu_session(path).run(None, feed)
        int8 = self.cpu_session(dst).run(None, feed)
        for a, b in zip(int8, fp32):
            self.assertGreater(cosine(a, b), 0.99)

    def test_mobilenetv2_static_qdq(self):
        path = bench_model(self, "mobilenetv2")
        calib = np.concatenate([bench_inputs("mobilenetv2", seed=s)["input"] for s in range(1, 5)])
        dst = os.path.join(self.tmp, "mobilenetv2_int8.onnx")
        self.q.quantize_static(path, dst, make_reader(calib, batch=1), quant_format=self.q.QuantFormat.QDQ)
        self.assertLess(os.path.getsize(dst), 0.4 * os.path.getsize(path))
        feed = bench_inputs("mobilenetv2")
        fp32 = self.cpu_session(path).run(None, feed)[0]
        int8 = self.cpu_session(dst).run(None, feed)[0]
        self.assertGreater(cosine(int8, fp32), 0.9)


if __name__ == "__main__":
    unittest.main()
