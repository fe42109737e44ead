"""Quantization section of the test plan: dynamic and static INT8, the three
calibration methods, per-tensor/per-channel, symmetric/asymmetric, QDQ and
QOperator, float fallback, accuracy, size, and files ONNX Runtime also runs."""
import os
import unittest

import numpy as np
import onnx

import testmodels as tm
from base import BaseQuantizationTest
from ortlib import DIGITS, IS_ONYX, accuracy, reference_ort_runner


class TestDynamicQuantization(BaseQuantizationTest):
    def test_dynamic_int8_digits(self):
        path, _, _ = self.quantize_dynamic("digits_s8", weight_type=self.q.QuantType.QInt8)
        m = self.load(path)
        ops = set(tm.node_ops(m))
        self.assertIn("DynamicQuantizeLinear", ops)
        self.assertTrue(ops & {"MatMulInteger", "ConvInteger"}, "no integer op in %s" % sorted(ops))
        self.assertTrue(any(v.dtype == np.int8 for v in self.inits(m).values()), "no int8 weights")
        self.assertAccuracyKept(path)

    def test_dynamic_int8_matmul_matches_float(self):
        model, ref = tm.matmul_model()
        src = self.save(model, "mm.onnx")
        dst = os.path.join(self.tmp, "mm.q.onnx")
        self.q.quantize_dynamic(src, dst, weight_type=self.q.QuantType.QInt8)
        m = self.load(dst)
        self.assertIn("MatMulInteger", tm.node_ops(m))
        self.assertIn("DynamicQuantizeLinear", tm.node_ops(m))
        x = np.random.default_rng(5).standard_normal((16, 64)).astype(np.float32)
        y = self.cpu_session(dst).run(None, {"X": x})[0]
        expected = ref(x)
        rel = np.max(np.abs(y - expected)) / np.max(np.abs(expected))
        self.assertLess(rel, 0.03, "dynamic int8 MatMul error %.4f of the output range" % rel)

    def test_dynamic_report(self):
        self.require_onyx()
        _, report, _ = self.quantize_dynamic("digits_s8", weight_type=self.q.QuantType.QInt8)
        self.assertIsNotNone(report)
        quantized = [n for n in report.nodes if n["quantized"]]
        self.assertTrue(quantized, "the report lists no quantized node")
        self.assertLess(report.weight_bytes_after, report.weight_bytes_before)


class TestStaticQuantization(BaseQuantizationTest):
    def _static_ok(self, key, **kw):
        path, report, reader = self.quantize_static(key, **kw)
        m = self.load(path)
        self.assertTrue(self.weight_dequantizers(m), "no 8-bit weight DequantizeLinear")
        self.assertTrue(self.activation_quantizers(m), "no activation QuantizeLinear")
        self.assertGreater(reader.calls, 1, "the calibration reader was not read")
        return path, report, m

    def test_static_minmax(self):
        path, _, _ = self._static_ok("minmax", calibrate_method=self.q.CalibrationMethod.MinMax)
        self.assertAccuracyKept(path)

    def _method_differs(self, method_key, method, extra_options=None, clips=False):
        path, _, _ = self._static_ok(method_key, calibrate_method=method, extra_options=extra_options)
        mm, _, _ = self.quantize_static("minmax", calibrate_method=self.q.CalibrationMethod.MinMax)
        a, b = self.activation_scales(path), self.activation_scales(mm)
        common = set(a) & set(b)
        self.assertTrue(common)
        self.assertTrue(any(abs(a[k] - b[k]) > 1e-6 * max(abs(b[k]), 1e-12) for k in common),
                        "%s gives exactly MinMax's activation scales" % method_key)
        if clips:  # a percentile range lies inside the min/max range: scales never grow
            for k in common:
                self.assertLessEqual(a[k], b[k] * (1 + 1e-6), "%s scale of %s above MinMax's" % (method_key, k))
        # still a usable classifier: top-1 agrees with FP32 on >= 97% of the images
        _, logits = self.evaluate(path)
        agree = np.mean(np.argmax(logits, 1) == np.argmax(self.fp32_logits(), 1))
        self.assertGreaterEqual(agree, 0.97)

    def test_static_entropy(self):
        self._method_differs("entropy", self.q.CalibrationMethod.Entropy)

    def test_static_percentile(self):
        # 99.9: about 100 of the 102400 values of a 16-channel activation are clipped
        self._method_differs("percentile", self.q.CalibrationMethod.Percentile,
                             extra_options={"CalibPercentile": 99.9}, clips=True)

    def test_static_percentile_default(self):
        path, _, _ = self._static_ok("percentile_default", calibrate_method=self.q.CalibrationMethod.Percentile)
        mm, _, _ = self.quantize_static("minmax", calibrate_method=self.q.CalibrationMethod.MinMax)
        a, b = self.activation_scales(path), self.activation_scales(mm)
        for k in set(a) & set(b):
            self.assertLessEqual(a[k], b[k] * (1 + 1e-6))
        self.assertAccuracyKept(path)

    def test_calibration_sample_count(self):
        self.require_onyx()
        _, report, reader = self.quantize_static("minmax", calibrate_method=self.q.CalibrationMethod.MinMax)
        # samples (images) or reader batches, whichever onyx counts; never more than given
        self.assertIn(report.calibration_samples, (self.CALIB_N, self.CALIB_N // self.CALIB_BATCH))


class TestGranularity(BaseQuantizationTest):
    def test_per_tensor(self):
        path, _, _ = self.quantize_static("minmax", calibrate_method=self.q.CalibrationMethod.MinMax)
        m = self.load(path)
        dqs = self.weight_dequantizers(m)
        self.assertTrue(dqs)
        for n in dqs:
            self.assertEqual(np.asarray(self.scale(m, n)).size, 1, "per-tensor weight %s has several scales" % n.input[0])

    def test_per_channel(self):
        path, _, _ = self.quantize_static("per_channel", per_channel=True)
        m = self.load(path)
        conv_w = {n.input[1] for n in m.graph.node if n.op_type == "Conv"}
        per_ch = [n for n in self.weight_dequantizers(m) if n.output[0] in conv_w]
        self.assertEqual(len(per_ch), 2, "both Conv weights dequantized")
        inits = self.inits(m)
        for n in per_ch:
            scale = np.asarray(self.scale(m, n))
            out_channels = inits[n.input[0]].shape[0]
            self.assertEqual(scale.size, out_channels, "one scale per output channel of %s" % n.input[0])
            axis = next((a.i for a in n.attribute if a.name == "axis"), 1)
            self.assertEqual(axis, 0)
        self.assertAccuracyKept(path)


class TestSymmetry(BaseQuantizationTest):
    def _zero_points(self, path):
        m = self.load(path)
        w = [np.asarray(self.zero_point(m, n)) for n in self.weight_dequantizers(m)]
        a = [np.asarray(self.zero_point(m, n)) for n in self.activation_quantizers(m)]
        return w, a

    def test_symmetric(self):
        path, _, _ = self.quantize_static(
            "sym", activation_type=self.q.QuantType.QInt8, weight_type=self.q.QuantType.QInt8,
            extra_options={"ActivationSymmetric": True, "WeightSymmetric": True})
        w, a = self._zero_points(path)
        self.assertTrue(w and a)
        self.assertTrue(all(np.all(z == 0) for z in w), "symmetric int8 weights have zero point 0")
        self.assertTrue(all(np.all(z == 0) for z in a), "symmetric int8 activations have zero point 0")
        self.assertAccuracyKept(path)

    def test_asymmetric(self):
        path, _, _ = self.quantize_static(
            "asym", activation_type=self.q.QuantType.QInt8, weight_type=self.q.QuantType.QInt8,
            extra_options={"ActivationSymmetric": False, "WeightSymmetric": False})
        w, a = self._zero_points(path)
        self.assertTrue(any(np.any(z != 0) for z in w), "asymmetric weights: some zero point != 0")
        # after Relu the range is [0, max]: an asymmetric int8 zero point is -128, not 0
        self.assertTrue(any(np.any(z != 0) for z in a), "asymmetric activations: some zero point != 0")
        self.assertAccuracyKept(path)


class TestTypes(BaseQuantizationTest):
    def test_activation_and_weight_types(self):
        for key, act, np_act in (("act_u8", self.q.QuantType.QUInt8, np.uint8),
                                 ("act_s8", self.q.QuantType.QInt8, np.int8)):
            path, _, _ = self.quantize_static(key, activation_type=act, weight_type=self.q.QuantType.QInt8)
            m = self.load(path)
            acts = self.activation_quantizers(m)
            self.assertTrue(acts)
            for n in acts:
                self.assertEqual(np.asarray(self.zero_point(m, n)).dtype, np_act, "%s: %s" % (key, n.input[0]))
            for n in self.weight_dequantizers(m):
                self.assertEqual(self.inits(m)[n.input[0]].dtype, np.int8)
            self.assertAccuracyKept(path)


class TestFormats(BaseQuantizationTest):
    def test_qdq_format(self):
        path, _, _ = self.quantize_static("minmax", calibrate_method=self.q.CalibrationMethod.MinMax)
        m = self.load(path)
        ops = tm.node_ops(m)
        self.assertIn("QuantizeLinear", ops)
        self.assertIn("DequantizeLinear", ops)
        self.assertNotIn("QLinearConv", ops)
        self.assertEqual(len(self.dq_weight_ops(m, "Conv")), 2, "QDQ keeps float Conv fed by DequantizeLinear")

    def test_qoperator_format(self):
        path, _, _ = self.quantize_static("qop", quant_format=self.q.QuantFormat.QOperator)
        m = self.load(path)
        ops = tm.node_ops(m)
        self.assertIn("QLinearConv", ops)
        self.assertNotIn("Conv", ops, "QOperator leaves no float Conv")
        self.assertAccuracyKept(path)


class TestFloatFallback(BaseQuantizationTest):
    FIRST_CONV = "/features/features.0/Conv"

    def test_nodes_to_exclude(self):
        path, report, _ = self.quantize_static("exclude_conv0", nodes_to_exclude=[self.FIRST_CONV])
        m = self.load(path)
        self.assertEqual(len(self.dq_weight_ops(m, "Conv")), 1, "one Conv quantized, the excluded one not")
        self.assertEqual(len(self.float_weight_ops(m, "Conv")), 1, "the excluded Conv keeps a float weight")
        self.assertAccuracyKept(path)
        if IS_ONYX:
            rows = [n for n in report.nodes if n["name"] == self.FIRST_CONV]
            self.assertTrue(rows, "the report lists the excluded node")
            self.assertFalse(rows[0]["quantized"])

    def test_nodes_to_quantize(self):
        second = "/features/features.4/Conv"
        path, report, _ = self.quantize_static("only_conv1", nodes_to_quantize=[second])
        m = self.load(path)
        self.assertEqual(len(self.dq_weight_ops(m, "Conv")), 1)
        self.assertEqual(len(self.float_weight_ops(m, "Conv")), 1)
        self.assertEqual(len(self.dq_weight_ops(m, "Gemm")), 0)
        self.assertAccuracyKept(path)
        if IS_ONYX:
            self.assertEqual([n["name"] for n in report.nodes if n["quantized"] and n["op_type"] == "Conv"], [second])

    def test_op_types_to_quantize(self):
        path, report, _ = self.quantize_static("only_conv", op_types_to_quantize=["Conv"])
        m = self.load(path)
        self.assertEqual(len(self.dq_weight_ops(m, "Conv")), 2)
        self.assertEqual(len(self.dq_weight_ops(m, "Gemm")), 0, "Gemm was not to be quantized")
        self.assertEqual(len(self.float_weight_ops(m, "Gemm")), 2, "both Gemm stay float")
        self.assertAccuracyKept(path)
        if IS_ONYX:
            gemms = [n for n in report.nodes if n["op_type"] == "Gemm"]
            self.assertEqual(len(gemms), 2)
            self.assertTrue(all(not n["quantized"] for n in gemms))


class TestAccuracyAndSize(BaseQuantizationTest):
    def test_accuracy_drop_below_one_percent(self):
        _, y = self.digits()
        fp32 = accuracy(self.fp32_logits(), y)
        self.assertGreaterEqual(fp32, 536 / 540 - 1e-9, "FP32 reference accuracy")
        path, _, _ = self.quantize_static("minmax", calibrate_method=self.q.CalibrationMethod.MinMax)
        acc, _ = self.assertAccuracyKept(path, 0.01)
        self.assertGreater(acc, 0.98)

    def test_quantized_file_smaller(self):
        path, _, _ = self.quantize_static("minmax", calibrate_method=self.q.CalibrationMethod.MinMax)
        self.assertLess(os.path.getsize(path), os.path.getsize(DIGITS))
        before = tm.initializer_bytes(onnx.load(DIGITS))
        after = tm.initializer_bytes(onnx.load(path))
        self.assertLess(after, 0.4 * before, "initializer bytes %d -> %d: shrink <= 60%%" % (before, after))

    def test_size_report(self):
        self.require_onyx()
        path, report, _ = self.quantize_static("minmax", calibrate_method=self.q.CalibrationMethod.MinMax)
        self.assertIsNotNone(report, "onyx's quantize_static returns a QuantReport")
        self.assertLess(report.weight_bytes_after, 0.4 * report.weight_bytes_before,
                        "weight bytes %d -> %d" % (report.weight_bytes_before, report.weight_bytes_after))
        self.assertLess(report.bytes_after, report.bytes_before)
        self.assertAlmostEqual(report.bytes_before, os.path.getsize(DIGITS), delta=0.02 * os.path.getsize(DIGITS))
        self.assertAlmostEqual(report.bytes_after, os.path.getsize(path), delta=0.02 * os.path.getsize(path))
        fp32_w = tm.initializer_bytes(onnx.load(DIGITS))
        self.assertAlmostEqual(report.weight_bytes_before, fp32_w, delta=0.02 * fp32_w)
        self.assertTrue(all({"name", "op_type", "quantized", "note"} <= set(n) for n in report.nodes))


class TestOnnxRuntimeRunsQuantizedFiles(BaseQuantizationTest):
    """Files written by the quantizer under test, run by ONNX Runtime itself (the
    Python module, else onnxruntime-node through bench/ort_run.js)."""

    def setUp(self):
        super().setUp()
        runner = reference_ort_runner()
        if runner is None:
            self.skipTest("onnxruntime is not installed (no Python module, no bench/node_modules)")
        self.rt_name, self.rt_run = runner

    def _ort_matches(self, path, min_agree=0.99):
        x, y = self.digits()
        theirs = self.rt_run(path, {"input": x})[0]
        _, ours = self.evaluate(path)
        agree = np.mean(np.argmax(theirs, 1) == np.argmax(ours, 1))
        self.assertGreaterEqual(agree, min_agree, "top-1 agreement with %s on %s" % (self.rt_name, os.path.basename(path)))
        self.assertLess(accuracy(self.fp32_logits(), y) - accuracy(theirs, y), 0.01)

    def test_ort_runs_qdq(self):
        path, _, _ = self.quantize_static("minmax", calibrate_method=self.q.CalibrationMethod.MinMax)
        self._ort_matches(path)

    def test_ort_runs_qoperator(self):
        path, _, _ = self.quantize_static("qop", quant_format=self.q.QuantFormat.QOperator)
        self._ort_matches(path)

    def test_ort_runs_per_channel(self):
        path, _, _ = self.quantize_static("per_channel", per_channel=True)
        self._ort_matches(path)

    def test_ort_runs_dynamic_digits(self):
        path, _, _ = self.quantize_dynamic("digits_s8", weight_type=self.q.QuantType.QInt8)
        self._ort_matches(path, min_agree=0.98)

    def test_ort_runs_dynamic_matmul(self):
        model, _ = tm.matmul_model()
        src = self.save(model, "mm.onnx")
        dst = os.path.join(self.tmp, "mm.q.onnx")
        self.q.quantize_dynamic(src, dst, weight_type=self.q.QuantType.QInt8)
        x = np.random.default_rng(6).standard_normal((8, 64)).astype(np.float32)
        theirs = self.rt_run(dst, {"X": x})[0]
        ours = self.cpu_session(dst).run(None, {"X": x})[0]
        self.assertClose(ours, theirs, atol=1e-4 + 0.01 * np.max(np.abs(theirs)), rtol=0)

if __name__ == "__main__":
    unittest.main()
