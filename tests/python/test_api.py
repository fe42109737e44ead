"""The InferenceSession / SessionOptions / RunOptions / IOBinding surface."""
import json
import os
import threading
import unittest
import warnings

import numpy as np
import onnx

import testmodels as tm
from base import BaseTest
from ortlib import CPU, DIGITS, IS_ONYX, exc, ort


class TestModule(BaseTest):
    def test_version(self):
        self.assertIsInstance(ort.__version__, str)
        self.assertRegex(ort.__version__, r"^\d+\.\d+")

    def test_providers_lists(self):
        avail, all_ = ort.get_available_providers(), ort.get_all_providers()
        self.assertIn(CPU, avail)
        self.assertEqual(avail[-1], CPU, "cpu is the last resort")
        self.assertTrue(set(avail) <= set(all_), (avail, all_))
        if IS_ONYX:
            for p in ("CPUExecutionProvider", "DnnlExecutionProvider", "CUDAExecutionProvider",
                      "TensorrtExecutionProvider"):
                self.assertIn(p, all_)

    def test_get_device(self):
        d = ort.get_device()
        self.assertIsInstance(d, str)
        self.assertTrue(d.startswith("CPU") or d.startswith("GPU"), d)
        if "CUDAExecutionProvider" in ort.get_available_providers():
            self.assertTrue(d.startswith("GPU"), d)

    def test_set_default_logger_severity(self):
        for level in (0, 2, 3):
            ort.set_default_logger_severity(level)
        self.assertClose(self.cpu_session().run(None, {"input": self.digits()[0][:4]})[0],
                         self.fp32_logits()[:4])

    def test_exceptions_exported(self):
        for name in ("Fail", "InvalidArgument", "NoSuchFile", "NoModel", "EngineError", "RuntimeException",
                     "InvalidProtobuf", "ModelLoaded", "NotImplemented", "InvalidGraph", "EPFail"):
            cls = exc(name)
            self.assertTrue(issubclass(cls, Exception), name)
            if IS_ONYX:
                self.assertIs(getattr(ort, name), cls, "onyx.%s is the capi class" % name)


class TestInferenceSession(BaseTest):
    def test_path_and_bytes(self):
        x, _ = self.digits()
        with open(DIGITS, "rb") as f:
            raw = f.read()
        a = self.cpu_session(DIGITS).run(None, {"input": x[:16]})[0]
        b = self.cpu_session(raw).run(None, {"input": x[:16]})[0]
        np.testing.assert_array_equal(a, b)

    def test_inputs_outputs(self):
        sess = self.cpu_session()
        (i,), (o,) = sess.get_inputs(), sess.get_outputs()
        self.assertEqual((i.name, i.shape, i.type), ("input", ["batch", 1, 8, 8], "tensor(float)"))
        self.assertEqual((o.name, o.shape, o.type), ("logits", ["batch", 10], "tensor(float)"))

    def test_unknown_dim_is_none(self):
        sess = self.cpu_session(tm.meta_model())
        self.assertEqual(sess.get_inputs()[0].shape, [None, 3])

    def test_run_outputs(self):
        sess = self.cpu_session()
        x, _ = self.digits()
        for n in (1, 7, 64):
            outs = sess.run(None, {"input": x[:n]})
            self.assertIsInstance(outs, list)
            self.assertEqual(len(outs), 1)
            self.assertIsInstance(outs[0], np.ndarray)
            self.assertEqual(outs[0].dtype, np.float32)
            self.assertEqual(outs[0].shape, (n, 10))
            self.assertClose(outs[0], self.fp32_logits()[:n])
        named = sess.run(["logits"], {"input": x[:3]})[0]
        self.assertClose(named, self.fp32_logits()[:3])

    def test_outputs_are_independent_arrays(self):
        sess = self.cpu_session()
        x, _ = self.digits()
        a = sess.run(None, {"input": x[:8]})[0]
        keep = a.copy()
        a += 1000.0  # writable, and owned by the caller
        b = sess.run(None, {"input": x[8:16]})[0]
        self.assertClose(sess.run(None, {"input": x[:8]})[0], keep)
        self.assertClose(b, self.fp32_logits()[8:16])

    def test_outputs_outlive_session(self):
        import gc
        x, _ = self.digits()
        sess = self.cpu_session()
        out = sess.run(None, {"input": x[:16]})[0]
        b = sess.io_binding()
        b.bind_cpu_input("input", x[:16])
        b.bind_output("logits")
        sess.run_with_iobinding(b)
        val = b.get_outputs()[0]
        del sess, b
        gc.collect()
        self.cpu_session().run(None, {"input": x[100:164]})  # reuse freed memory, if any
        self.assertClose(out, self.fp32_logits()[:16])
        self.assertClose(val.numpy(), self.fp32_logits()[:16])

    def test_non_contiguous_input(self):
        sess = self.cpu_session()
        x, _ = self.digits()
        strided = x[:32:2]
        self.assertFalse(strided.flags["C_CONTIGUOUS"])
        self.assertClose(sess.run(None, {"input": strided})[0], self.fp32_logits()[:32:2])

    def test_multiple_outputs_subset(self):
        model, ref = tm.cse_model()
        sess = self.cpu_session(model)
        x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
        ry, rz = ref(x)
        z = sess.run(["Z"], {"X": x})
        self.assertEqual(len(z), 1)
        self.assertClose(z[0], rz)
        zy = sess.run(["Z", "Y"], {"X": x})
        self.assertClose(zy[0], rz)
        self.assertClose(zy[1], ry)

    def test_providers_and_options(self):
        sess = self.cpu_session()
        self.assertEqual(sess.get_providers(), [CPU])
        opts = sess.get_provider_options()
        self.assertIn(CPU, opts)
        self.assertTrue(all(isinstance(k, str) and isinstance(v, str) for k, v in opts[CPU].items()))

    def test_provider_tuple_and_provider_options(self):
        x, _ = self.digits()
        s1 = ort.InferenceSession(DIGITS, providers=[(CPU, {})])
        s2 = ort.InferenceSession(DIGITS, providers=[CPU], provider_options=[{}])
        self.assertEqual(s1.get_providers(), [CPU])
        self.assertEqual(s2.get_providers(), [CPU])
        self.assertClose(s1.run(None, {"input": x[:4]})[0], s2.run(None, {"input": x[:4]})[0])

    def test_unknown_provider_warns_and_is_dropped(self):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            sess = ort.InferenceSession(DIGITS, providers=["NoSuchExecutionProvider", CPU])
        self.assertTrue(any(issubclass(i.category, UserWarning) for i in w), [str(i.message) for i in w])
        self.assertEqual(sess.get_providers(), [CPU])
        self.assertClose(sess.run(None, {"input": self.digits()[0][:4]})[0], self.fp32_logits()[:4])

    def test_unavailable_provider_warns_and_falls_back(self):
        missing = [p for p in ("CUDAExecutionProvider", "TensorrtExecutionProvider", "DnnlExecutionProvider")
                   if p in ort.get_all_providers() and p not in ort.get_available_providers()]
        if not missing:
            self.skipTest("every known provider is available here")
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            sess = ort.InferenceSession(DIGITS, providers=[missing[0], CPU])
        self.assertTrue(any(issubclass(i.category, UserWarning) for i in w))
        self.assertEqual(sess.get_providers(), [CPU])

    def test_set_providers_with_options(self):
        sess = self.cpu_session()
        x, _ = self.digits()
        sess.set_providers([CPU], [{}])
        self.assertEqual(sess.get_providers(), [CPU])
        self.assertClose(sess.run(None, {"input": x[:4]})[0], self.fp32_logits()[:4])

    def test_onyx_provider_names(self):
        self.require_onyx()
        sess = ort.InferenceSession(DIGITS, providers=["cpu"])
        self.assertEqual(sess.get_providers(), [CPU])

    def test_session_options_returned(self):
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        sess = self.cpu_session(DIGITS, so)
        got = sess.get_session_options()
        self.assertEqual(got.intra_op_num_threads, 1)
        self.assertEqual(got.graph_optimization_level, ort.GraphOptimizationLevel.ORT_ENABLE_BASIC)

    def test_modelmeta(self):
        meta = self.cpu_session(tm.meta_model()).get_modelmeta()
        self.assertEqual(meta.producer_name, "onyx-tests")
        self.assertEqual(meta.graph_name, "meta_graph")
        self.assertEqual(meta.domain, "org.onyx.tests")
        self.assertEqual(meta.description, "model doc")
        self.assertEqual(meta.graph_description, "graph doc")
        self.assertEqual(meta.version, 7)
        self.assertEqual(dict(meta.custom_metadata_map), {"author": "tests", "purpose": "metadata"})
        digits = self.cpu_session().get_modelmeta()
        self.assertEqual(digits.producer_name, onnx.load(DIGITS).producer_name)

    def test_profiling(self):
        so = ort.SessionOptions()
        so.enable_profiling = True
        so.profile_file_prefix = os.path.join(self.tmp, "prof")
        sess = self.cpu_session(DIGITS, so)
        x, _ = self.digits()
        for _ in range(2):
            sess.run(None, {"input": x[:8]})
        path = sess.end_profiling()
        self.assertTrue(os.path.isfile(path), path)
        self.assertTrue(os.path.basename(path).startswith("prof"), path)
        with open(path) as f:
            trace = json.load(f)
        events = trace["traceEvents"] if isinstance(trace, dict) else trace
        self.assertIsInstance(events, list)
        self.assertTrue(any(e.get("ph") == "X" for e in events))
        self.assertIn("Conv", json.dumps(events), "node events name the Conv nodes")

    def test_no_profiling_by_default(self):
        sess = self.cpu_session(DIGITS)
        sess.run(None, {"input": self.digits()[0][:2]})
        before = set(os.listdir(self.tmp))
        path = sess.end_profiling()
        self.assertFalse(path)
        self.assertEqual(set(os.listdir(self.tmp)), before)


class TestErrors(BaseTest):
    def test_missing_file(self):
        with self.assertRaises(exc("NoSuchFile")):
            ort.InferenceSession(os.path.join(self.tmp, "absent.onnx"), providers=[CPU])

    def test_garbage_bytes(self):
        with self.assertRaises(exc("InvalidProtobuf")):
            ort.InferenceSession(b"\xff\x00garbage\x13" * 7, providers=[CPU])

    def _check_still_runs(self, sess):
        x, _ = self.digits()
        self.assertClose(sess.run(None, {"input": x[:5]})[0], self.fp32_logits()[:5])

    def test_wrong_input_name(self):
        sess = self.cpu_session()
        with self.assertRaises(exc("InvalidArgument")) as cm:
            sess.run(None, {"not_the_input": self.digits()[0][:2]})
        self.assertTrue(str(cm.exception))
        self._check_still_runs(sess)

    def test_wrong_dtype(self):
        sess = self.cpu_session()
        with self.assertRaises(exc("InvalidArgument")):
            sess.run(None, {"input": self.digits()[0][:2].astype(np.float64)})
        self._check_still_runs(sess)

    def test_wrong_rank(self):
        sess = self.cpu_session()
        with self.assertRaises(exc("InvalidArgument")):
            sess.run(None, {"input": self.digits()[0][:2].reshape(2, 8, 8)})
        self._check_still_runs(sess)

    def test_wrong_output_name(self):
        sess = self.cpu_session()
        with self.assertRaises(Exception):
            sess.run(["no_such_output"], {"input": self.digits()[0][:2]})
        self._check_still_runs(sess)

    def test_terminate(self):
        sess = self.cpu_session()
        ro = ort.RunOptions()
        ro.terminate = True
        with self.assertRaises(exc("Fail")):
            sess.run(None, {"input": self.digits()[0][:2]}, ro)
        ro.terminate = False
        x, _ = self.digits()
        self.assertClose(sess.run(None, {"input": x[:5]}, ro)[0], self.fp32_logits()[:5])
        self._check_still_runs(sess)


class TestOptions(BaseTest):
    def test_session_options_round_trip(self):
        so = ort.SessionOptions()
        g, e = ort.GraphOptimizationLevel, ort.ExecutionMode
        self.assertEqual(so.graph_optimization_level, g.ORT_ENABLE_ALL, "ORT's default level")
        so.graph_optimization_level = g.ORT_ENABLE_EXTENDED
        so.intra_op_num_threads = 2
        so.inter_op_num_threads = 1
        so.execution_mode = e.ORT_PARALLEL
        so.optimized_model_filepath = os.path.join(self.tmp, "o.onnx")
        so.enable_profiling = True
        so.profile_file_prefix = "pfx"
        so.log_severity_level = 3
        self.assertEqual(so.graph_optimization_level, g.ORT_ENABLE_EXTENDED)
        self.assertEqual(so.intra_op_num_threads, 2)
        self.assertEqual(so.inter_op_num_threads, 1)
        self.assertEqual(so.execution_mode, e.ORT_PARALLEL)
        self.assertEqual(so.optimized_model_filepath, os.path.join(self.tmp, "o.onnx"))
        self.assertTrue(so.enable_profiling)
        self.assertEqual(so.profile_file_prefix, "pfx")
        self.assertEqual(so.log_severity_level, 3)
        levels = [g.ORT_DISABLE_ALL, g.ORT_ENABLE_BASIC, g.ORT_ENABLE_EXTENDED, g.ORT_ENABLE_ALL]
        self.assertEqual(len(set(levels)), 4)

    def test_config_entry(self):
        so = ort.SessionOptions()
        so.intra_op_num_threads = 2
        so.add_session_config_entry("session.intra_op_thread_affinities", "1")
        self.assertEqual(so.get_session_config_entry("session.intra_op_thread_affinities"), "1")
        sess = self.cpu_session(DIGITS, so)
        self.assertClose(sess.run(None, {"input": self.digits()[0][:16]})[0], self.fp32_logits()[:16])

    def test_threads_and_parallel_mode_same_results(self):
        x, _ = self.digits()
        ref = self.fp32_logits()[:64]
        for threads in (1, 2):
            for mode in (ort.ExecutionMode.ORT_SEQUENTIAL, ort.ExecutionMode.ORT_PARALLEL):
                so = ort.SessionOptions()
                so.intra_op_num_threads = threads
                so.inter_op_num_threads = 2
                so.execution_mode = mode
                out = self.cpu_session(DIGITS, so).run(None, {"input": x[:64]})[0]
                self.assertClose(out, ref, atol=1e-5, rtol=1e-5, msg="threads=%d mode=%s" % (threads, mode))

    def test_run_options(self):
        ro = ort.RunOptions()
        self.assertFalse(ro.terminate)
        ro.logid = "batch-7"
        ro.log_severity_level = 2
        self.assertEqual(ro.logid, "batch-7")
        self.assertEqual(ro.log_severity_level, 2)
        sess = self.cpu_session()
        x, _ = self.digits()
        self.assertClose(sess.run(None, {"input": x[:4]}, ro)[0], self.fp32_logits()[:4])
        self.assertClose(sess.run(None, {"input": x[:4]}, run_options=ro)[0], self.fp32_logits()[:4])


class TestIOBinding(BaseTest):
    def test_bind_cpu_input_and_output(self):
        sess = self.cpu_session()
        x, _ = self.digits()
        b = sess.io_binding()
        b.bind_cpu_input("input", x[:16])
        b.bind_output("logits")
        sess.run_with_iobinding(b)
        b.synchronize_outputs()
        out = b.copy_outputs_to_cpu()
        self.assertEqual(len(out), 1)
        self.assertClose(out[0], self.fp32_logits()[:16])
        vals = b.get_outputs()
        self.assertEqual(len(vals), 1)
        self.assertEqual(list(vals[0].shape()), [16, 10])
        self.assertEqual(vals[0].device_name().lower(), "cpu")
        self.assertEqual(vals[0].data_type(), "tensor(float)")
        self.assertClose(vals[0].numpy(), self.fp32_logits()[:16])

    def test_rebind_after_clear(self):
        sess = self.cpu_session()
        x, _ = self.digits()
        b = sess.io_binding()
        b.bind_cpu_input("input", x[:16])
        b.bind_output("logits", "cpu", 0)
        sess.run_with_iobinding(b)
        first = b.copy_outputs_to_cpu()[0]
        b.clear_binding_inputs()
        b.clear_binding_outputs()
        b.bind_cpu_input("input", x[100:108])
        b.bind_output("logits", "cpu")
        b.synchronize_inputs()
        sess.run_with_iobinding(b)
        second = b.copy_outputs_to_cpu()[0]
        self.assertClose(first, self.fp32_logits()[:16])
        self.assertClose(second, self.fp32_logits()[100:108])

    def test_ortvalue_input(self):
        sess = self.cpu_session()
        x, _ = self.digits()
        v = ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(x[:12]), "cpu", 0)
        self.assertEqual(list(v.shape()), [12, 1, 8, 8])
        self.assertEqual(v.data_type(), "tensor(float)")
        self.assertEqual(v.device_name().lower(), "cpu")
        np.testing.assert_array_equal(v.numpy(), x[:12])
        b = sess.io_binding()
        b.bind_ortvalue_input("input", v)
        b.bind_output("logits")
        sess.run_with_iobinding(b, ort.RunOptions())
        self.assertClose(b.copy_outputs_to_cpu()[0], self.fp32_logits()[:12])

    def test_repeated_runs_reuse_binding(self):
        sess = self.cpu_session()
        x, _ = self.digits()
        b = sess.io_binding()
        b.bind_cpu_input("input", x[:32])
        b.bind_output("logits")
        for _ in range(5):
            sess.run_with_iobinding(b)
            self.assertClose(b.copy_outputs_to_cpu()[0], self.fp32_logits()[:32])


class TestThreadSafety(BaseTest):
    def test_concurrent_runs_on_one_session(self):
        sess = self.cpu_session()
        x, _ = self.digits()
        chunks = [x[i * 24:(i + 1) * 24] for i in range(4)]
        single = [sess.run(None, {"input": c})[0] for c in chunks]
        results = {i: [] for i in range(4)}
        errors = []
        barrier = threading.Barrier(4)

        def worker(i):
            try:
                barrier.wait()
                for _ in range(10):
                    results[i].append(sess.run(None, {"input": chunks[i]})[0])
            except Exception as e:  # reported below
                errors.append(repr(e))

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        for i in range(4):
            self.assertEqual(len(results[i]), 10)
            for out in results[i]:
                np.testing.assert_array_equal(out, single[i])


class TestDtypes(BaseTest):
    def test_tensor_types_round_trip(self):
        from onnx import TensorProto, helper
        cases = [  # (onnx type, numpy dtype, op, ORT type string)
            (TensorProto.DOUBLE, np.float64, "Add", "tensor(double)"),
            (TensorProto.FLOAT16, np.float16, "Add", "tensor(float16)"),
            (TensorProto.INT32, np.int32, "Add", "tensor(int32)"),
            (TensorProto.INT64, np.int64, "Mul", "tensor(int64)"),
            (TensorProto.UINT8, np.uint8, "Max", "tensor(uint8)"),
            (TensorProto.BOOL, np.bool_, "And", "tensor(bool)"),
        ]
        r = np.random.default_rng(0)
        for et, dt, op, tname in cases:
            model = tm.make_model([helper.make_node(op, ["A", "B"], ["Y"])],
                                  [tm.vi("A", [3, 4], et), tm.vi("B", [3, 4], et)], [tm.vi("Y", [3, 4], et)])
            sess = self.cpu_session(model)
            self.assertEqual(sess.get_inputs()[0].type, tname)
            self.assertEqual(sess.get_outputs()[0].type, tname)
            a = (r.integers(0, 2, (3, 4)) if dt == np.bool_ else r.integers(0, 50, (3, 4))).astype(dt)
            b = (r.integers(0, 2, (3, 4)) if dt == np.bool_ else r.integers(0, 50, (3, 4))).astype(dt)
            y = sess.run(None, {"A": a, "B": b})[0]
            ref = {"Add": np.add, "Mul": np.multiply, "Max": np.maximum, "And": np.logical_and}[op](a, b)
            self.assertEqual(y.dtype, np.dtype(dt), tname)
            np.testing.assert_array_equal(y, ref.astype(dt), err_msg=tname)

    def test_scalar_input_and_output(self):
        from onnx import helper
        model = tm.make_model([helper.make_node("Mul", ["A", "B"], ["Y"])],
                              [tm.vi("A", []), tm.vi("B", [])], [tm.vi("Y", [])])
        sess = self.cpu_session(model)
        self.assertEqual(sess.get_inputs()[0].shape, [])
        y = sess.run(None, {"A": np.array(3.0, np.float32), "B": np.array(-2.5, np.float32)})[0]
        self.assertEqual(y.shape, ())
        self.assertEqual(float(y), -7.5)

    def test_output_that_is_an_input_passthrough(self):
        from onnx import helper
        # Identity is removed by the optimizer: the graph output is then the input itself
        model = tm.make_model([helper.make_node("Identity", ["X"], ["Y"]), helper.make_node("Neg", ["X"], ["Z"])],
                              [tm.vi("X", [2, 3])], [tm.vi("Y", [2, 3]), tm.vi("Z", [2, 3])])
        sess = self.cpu_session(model)
        x = np.arange(6, dtype=np.float32).reshape(2, 3)
        y, z = sess.run(None, {"X": x})
        np.testing.assert_array_equal(y, x)
        np.testing.assert_array_equal(z, -x)
        y[0, 0] = 100.0  # the caller's input is not aliased by the output
        self.assertEqual(x[0, 0], 0.0)


class TestThreadSafetyShapes(BaseTest):
    def test_concurrent_runs_different_batch_sizes(self):
        # each batch size is its own shape signature (plan, arena): threads race on them
        sess = self.cpu_session()
        x, _ = self.digits()
        sizes = [1, 7, 24, 64]
        ref = self.fp32_logits()
        errors, bad = [], []
        barrier = threading.Barrier(len(sizes))

        def worker(n):
            try:
                barrier.wait()
                for k in range(8):
                    start = (k * 37) % (540 - n)
                    out = sess.run(None, {"input": x[start:start + n]})[0]
                    if not np.allclose(out, ref[start:start + n], atol=1e-5, rtol=1e-5):
                        bad.append((n, k))
            except Exception as e:  # reported below
                errors.append(repr(e))

        threads = [threading.Thread(target=worker, args=(n,)) for n in sizes]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(bad, [], "wrong results (batch, iteration)")


class TestOnyxExtras(BaseTest):
    def setUp(self):
        super().setUp()
        self.require_onyx()

    def test_session_stats(self):
        sess = self.cpu_session()
        self.assertEqual(sess.get_session_stats()["runs"], 0)
        x, _ = self.digits()
        sess.run(None, {"input": x[:8]})
        sess.run(None, {"input": x[:8]})
        st = sess.get_session_stats()
        self.assertEqual(st["runs"], 2)
        for k in ("peak_activation_bytes", "weight_bytes", "naive_activation_bytes", "arena_bytes"):
            self.assertGreaterEqual(st[k], 0, k)
        self.assertGreater(st["weight_bytes"], 0)

    def test_memory_info(self):
        sess = self.cpu_session()
        sess.run(None, {"input": self.digits()[0][:8]})
        info = sess.get_memory_info()
        self.assertTrue(info)
        for m in info:
            self.assertTrue({"device", "in_use", "peak", "allocs", "frees"} <= set(m))
            self.assertGreaterEqual(m["peak"], m["in_use"])
            self.assertGreaterEqual(m["allocs"], m["frees"])
        self.assertTrue(any(m["device"].lower().startswith("cpu") for m in info))

    def test_cpu_only_has_no_copies_or_fallbacks(self):
        sess = self.cpu_session()
        sess.run(None, {"input": self.digits()[0][:8]})
        self.assertEqual(sess.get_copies(), [])
        self.assertEqual(sess.get_fallbacks(), [])
        pl = sess.get_node_placement()
        self.assertTrue(pl)
        for p in pl:
            self.assertTrue({"name", "op_type", "domain", "provider", "fallback_reason"} <= set(p))
            self.assertEqual(p["provider"], CPU)

    def test_optimize_stats(self):
        st = self.cpu_session().get_optimize_stats()
        self.assertEqual(st["nodes_before"], 12)
        self.assertLess(st["nodes_after"], 12)
        self.assertTrue(st["passes"])
        for p in st["passes"]:
            self.assertTrue({"name", "level", "runs", "changes", "nodes_removed", "nodes_added",
                             "fused", "folded", "ns"} <= set(p))


if __name__ == "__main__":
    unittest.main()
