"""The test plan's example tests, written as a user writes them:
`import onyx as ort` (or, with ORT=onnxruntime, the real thing)."""
import os
import shutil
import tempfile
import unittest

import numpy as np

if os.environ.get("ORT", "onyx") == "onyx":
    import onyx as ort
else:  # the same examples against ONNX Runtime
    import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, "..", "..", "models")
MODEL = os.path.join(MODELS, "digits_cnn.onnx")
IS_ONYX = ort.__name__ == "onyx"


def load_digits():
    return np.load(os.path.join(MODELS, "digits_test_x.npy")), np.load(os.path.join(MODELS, "digits_test_y.npy"))


class TestExamples(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_basic_inference(self):
        session = ort.InferenceSession(MODEL, providers=["CPUExecutionProvider"])
        input_name = session.get_inputs()[0].name
        output_name = session.get_outputs()[0].name
        images, labels = load_digits()
        logits = session.run([output_name], {input_name: images})[0]
        predictions = logits.argmax(axis=1)
        accuracy = (predictions == labels).mean()
        self.assertEqual(logits.shape, (540, 10))
        self.assertGreaterEqual(accuracy, 536 / 540)

    def test_session_options(self):
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = 2
        session = ort.InferenceSession(MODEL, options, providers=["CPUExecutionProvider"])
        images, labels = load_digits()
        predictions = session.run(None, {"input": images[:100]})[0].argmax(axis=1)
        self.assertGreaterEqual((predictions == labels[:100]).sum(), 98)

    def test_preferred_providers_with_fallback(self):
        # ask for the GPU first; machines without one warn and run on the CPU
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            session = ort.InferenceSession(MODEL, providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
        self.assertIn("CPUExecutionProvider", session.get_providers())
        if "CUDAExecutionProvider" in ort.get_available_providers():
            self.assertEqual(session.get_providers()[0], "CUDAExecutionProvider")
        images, labels = load_digits()
        predictions = session.run(None, {"input": images})[0].argmax(axis=1)
        self.assertGreaterEqual((predictions == labels).sum(), 535)

    def test_io_binding(self):
        session = ort.InferenceSession(MODEL, providers=["CPUExecutionProvider"])
        images, labels = load_digits()
        binding = session.io_binding()
        binding.bind_cpu_input("input", images[:64])
        binding.bind_output("logits")
        session.run_with_iobinding(binding)
        logits = binding.copy_outputs_to_cpu()[0]
        expected = session.run(None, {"input": images[:64]})[0]
        np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-5)

    def test_static_quantization(self):
        from importlib import import_module
        quant = import_module(ort.__name__ + ".quantization")
        images, labels = load_digits()

        class DigitsReader(quant.CalibrationDataReader):
            def __init__(self, data, batch=20):
                self.batches = iter([{"input": data[i:i + batch]} for i in range(0, len(data), batch)])

            def get_next(self):
                return next(self.batches, None)

        quantized = os.path.join(self.tmp, "digits_int8.onnx")
        quant.quantize_static(MODEL, quantized, DigitsReader(images[:100]),
                              quant_format=quant.QuantFormat.QDQ,
                              calibrate_method=quant.CalibrationMethod.MinMax)
        self.assertLess(os.path.getsize(quantized), os.path.getsize(MODEL))
        session = ort.InferenceSession(quantized, providers=["CPUExecutionProvider"])
        accuracy = (session.run(None, {"input": images})[0].argmax(1) == labels).mean()
        self.assertGreater(accuracy, 536 / 540 - 0.01)

    @unittest.skipUnless(IS_ONYX, "onyx extension")
    def test_onnx_quantizer_dynamic(self):
        from onyx.quantization import QuantType
        images, labels = load_digits()
        quantizer = ort.ONNXQuantizer(MODEL, output_dir=self.tmp)
        path = quantizer.quantize_dynamic(weight_type=QuantType.QInt8)
        self.assertTrue(os.path.isfile(path))
        self.assertEqual(os.path.dirname(os.path.abspath(path)), os.path.abspath(self.tmp))
        self.assertLess(os.path.getsize(path), os.path.getsize(MODEL))
        self.assertLess(quantizer.last_report.weight_bytes_after, quantizer.last_report.weight_bytes_before)
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        accuracy = (session.run(None, {"input": images})[0].argmax(1) == labels).mean()
        self.assertGreater(accuracy, 536 / 540 - 0.01)

    @unittest.skipUnless(IS_ONYX, "onyx extension")
    def test_onnx_quantizer_static_methods(self):
        from onyx.quantization import CalibrationMethod, QuantFormat
        images, labels = load_digits()
        quantizer = ort.ONNXQuantizer(MODEL, output_dir=self.tmp)
        calibration = [images[i:i + 10] for i in range(0, 100, 10)]  # arrays: one-input model
        for method in (CalibrationMethod.MinMax, CalibrationMethod.Entropy, CalibrationMethod.Percentile):
            path = quantizer.quantize_static(calibration, calibration_method=method,
                                             quant_format=QuantFormat.QDQ)
            self.assertTrue(os.path.isfile(path))
            self.assertGreater(quantizer.last_report.calibration_samples, 0)
            session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
            predictions = session.run(None, {"input": images})[0].argmax(1)
            self.assertGreaterEqual((predictions == labels).mean(), 0.97, method)
        dicts = [{"input": images[i:i + 10]} for i in range(0, 50, 10)]
        path = quantizer.quantize_static(dicts, per_channel=True)
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        self.assertGreater((session.run(None, {"input": images})[0].argmax(1) == labels).mean(), 536 / 540 - 0.01)

    @unittest.skipUnless(IS_ONYX, "onyx extension")
    def test_graph_optimizer(self):
        import onnx
        optimizer = ort.GraphOptimizer()
        optimized = optimizer.optimize(MODEL, ["constant_folding", "node_fusion", "memory_optimizer"])
        graph = onnx.load_from_string(optimized).graph
        ops = [n.op_type for n in graph.node]
        self.assertNotIn("BatchNormalization", ops)
        self.assertLess(len(ops), 12)
        self.assertIn("nodes_after", optimizer.last_stats)
        session = ort.InferenceSession(optimized, providers=["CPUExecutionProvider"])
        images, labels = load_digits()
        self.assertGreaterEqual((session.run(None, {"input": images})[0].argmax(1) == labels).sum(), 536)


if __name__ == "__main__":
    unittest.main()
