"""Graph Optimization section of the test plan: constant folding, dead code,
common subexpressions, fusions (Conv+BN, Conv+Relu), layout, memory planning,
optimization levels, custom passes, optimized_model_filepath."""
import os
import unittest

import numpy as np
import onnx

import testmodels as tm
from base import BaseOptimizationTest
from ortlib import CPU, DIGITS, IS_ONYX, ort


def ops_of(model):
    return [n.op_type for n in model.graph.node]


class TestPasses(BaseOptimizationTest):
    def test_constant_folding(self):
        model, ref = tm.const_fold_model()
        sess, opt = self.optimized(model, ort.GraphOptimizationLevel.ORT_ENABLE_BASIC)
        self.assertEqual(ops_of(opt), ["Mul"], "the constant subexpression is folded to one initializer")
        x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
        self.assertClose(sess.run(None, {"X": x})[0], ref(x))
        if IS_ONYX:
            st = self.pass_stat(sess.get_optimize_stats(), "constant_folding")
            self.assertGreaterEqual(st["folded"] or st["changes"], 2)

    def _disabled_optimizers(self, name):
        model, ref = tm.const_fold_model()
        path = os.path.join(self.tmp, "nofold.onnx")
        so = self.options(ort.GraphOptimizationLevel.ORT_ENABLE_BASIC, path)
        sess = ort.InferenceSession(model.SerializeToString(), so, providers=[CPU], disabled_optimizers=[name])
        self.assertIn("Add", ops_of(onnx.load(path)), "constant folding was disabled")
        x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
        self.assertClose(sess.run(None, {"X": x})[0], ref(x))

    def test_disabled_optimizers_ort_name(self):
        # ORT's transformer name, as an ORT script passes it
        self._disabled_optimizers("ConstantFolding")

    def test_disabled_optimizers_onyx_name(self):
        self.require_onyx()
        self._disabled_optimizers("constant_folding")

    def test_dead_code_elimination(self):
        model, ref = tm.dead_branch_model()
        sess, opt = self.optimized(model, ort.GraphOptimizationLevel.ORT_ENABLE_BASIC)
        x = np.random.default_rng(1).standard_normal((4, 5)).astype(np.float32)
        self.assertClose(sess.run(None, {"X": x})[0], ref(x))
        if IS_ONYX:  # (whether ORT prunes unread nodes is not part of its contract)
            self.assertEqual(ops_of(opt), ["Relu"])
            st = self.pass_stat(sess.get_optimize_stats(), "dead_code")
            self.assertGreaterEqual(st["nodes_removed"], 3)

    def test_common_subexpression_elimination(self):
        model, ref = tm.cse_model()
        sess, opt = self.optimized(model, ort.GraphOptimizationLevel.ORT_ENABLE_BASIC)
        ops = ops_of(opt)
        self.assertEqual(ops.count("Relu"), 1, ops)
        self.assertEqual(ops.count("Mul"), 1, ops)
        x = np.random.default_rng(2).standard_normal((4, 5)).astype(np.float32)
        y, z = sess.run(["Y", "Z"], {"X": x})
        ry, rz = ref(x)
        self.assertClose(y, ry)
        self.assertClose(z, rz)

    def test_conv_bn_folding(self):
        sess, opt = self.optimized(DIGITS, ort.GraphOptimizationLevel.ORT_ENABLE_BASIC)
        self.assertNotIn("BatchNormalization", ops_of(opt))
        self.assertEqual(ops_of(opt).count("Conv"), 2)
        x, _ = self.digits()
        self.assertClose(sess.run(None, {"input": x[:64]})[0], self.fp32_logits()[:64], atol=1e-4, rtol=1e-4)
        if IS_ONYX:
            st = self.pass_stat(sess.get_optimize_stats(), "conv_bn_folding")
            self.assertEqual(st["nodes_removed"] - st["nodes_added"], 2)

    def test_conv_relu_fusion(self):
        sess, opt = self.optimized(DIGITS, ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED)
        producers = {o: n for n in opt.graph.node for o in n.output}
        relu_after_conv = [n for n in opt.graph.node if n.op_type == "Relu" and n.input[0] in producers
                           and producers[n.input[0]].op_type in ("Conv", "FusedConv")]
        self.assertEqual(relu_after_conv, [], "Conv -> Relu left unfused")
        self.assertEqual(ops_of(opt).count("FusedConv"), 2, ops_of(opt))
        x, _ = self.digits()
        self.assertClose(sess.run(None, {"input": x[:64]})[0], self.fp32_logits()[:64], atol=1e-4, rtol=1e-4)

    def test_layout_transpose_pair_removed(self):
        model, ref = tm.transpose_pair_model()
        sess, opt = self.optimized(model, ort.GraphOptimizationLevel.ORT_ENABLE_BASIC)
        self.assertNotIn("Transpose", ops_of(opt))
        x = np.random.default_rng(3).standard_normal((2, 3, 4, 5)).astype(np.float32)
        self.assertClose(sess.run(None, {"X": x})[0], ref(x))

    def test_layout_level_all_keeps_results(self):
        # level 3 (all/layout) may re-layout activations; results must not change
        x, _ = self.digits()
        s0 = self.cpu_session(DIGITS, self.options(ort.GraphOptimizationLevel.ORT_DISABLE_ALL))
        s3 = self.cpu_session(DIGITS, self.options(ort.GraphOptimizationLevel.ORT_ENABLE_ALL))
        for n in (1, 7, 64):
            self.assertClose(s3.run(None, {"input": x[:n]})[0], s0.run(None, {"input": x[:n]})[0],
                             atol=1e-4, rtol=1e-4)


class TestMemoryPlanning(BaseOptimizationTest):
    def test_activation_memory_reused(self):
        self.require_onyx()
        model, ref = tm.chain_model(8, (64, 1024))
        sess = self.cpu_session(model)
        x = np.random.default_rng(4).standard_normal((64, 1024)).astype(np.float32)
        self.assertClose(sess.run(None, {"X": x})[0], ref(x))
        st = sess.get_session_stats()
        self.assertEqual(st["runs"], 1)
        one = 64 * 1024 * 4
        self.assertGreaterEqual(st["naive_activation_bytes"], 7 * one, "7 intermediates of %d bytes" % one)
        self.assertGreater(st["peak_activation_bytes"], 0)
        self.assertLessEqual(st["peak_activation_bytes"], 3 * one, "a chain needs at most ~2 live buffers")
        self.assertLess(st["peak_activation_bytes"], st["naive_activation_bytes"])

    def test_digits_peak_below_naive(self):
        self.require_onyx()
        sess = self.cpu_session(DIGITS)
        x, _ = self.digits()
        sess.run(None, {"input": x[:64]})
        st = sess.get_session_stats()
        self.assertGreater(st["peak_activation_bytes"], 0)
        self.assertLess(st["peak_activation_bytes"], st["naive_activation_bytes"])
        self.assertGreater(st["weight_bytes"], 50000)

    def test_memory_order_pass_does_not_raise_peak(self):
        self.require_onyx()
        x, _ = self.digits()
        peaks = []
        for disable in ([], ["memory_order"]):
            so = ort.SessionOptions()
            if disable:
                so.disable_passes(disable)
            sess = self.cpu_session(DIGITS, so)
            sess.run(None, {"input": x[:64]})
            peaks.append(sess.get_session_stats()["peak_activation_bytes"])
        self.assertLessEqual(peaks[0], peaks[1])


class TestLevels(BaseOptimizationTest):
    def test_levels_same_outputs(self):
        x, _ = self.digits()
        outs = [self.cpu_session(DIGITS, self.options(lv)).run(None, {"input": x})[0] for lv in self.LEVELS]
        for lv, out in zip(self.LEVELS[1:], outs[1:]):
            self.assertClose(out, outs[0], atol=1e-4, rtol=1e-4, msg="level %s" % lv)

    def test_node_count_drops_with_level(self):
        original = len(onnx.load(DIGITS).graph.node)
        counts = [original]
        for i, lv in enumerate(self.LEVELS[1:3]):
            _, opt = self.optimized(DIGITS, lv, "lv%d.onnx" % i)
            counts.append(len(opt.graph.node))
        self.assertLess(counts[1], counts[0], counts)
        self.assertLessEqual(counts[2], counts[1], counts)
        self.assertLess(counts[2], counts[0], counts)

    def test_node_count_stats_per_level(self):
        self.require_onyx()
        after = []
        for lv in self.LEVELS:
            st = self.cpu_session(DIGITS, self.options(lv)).get_optimize_stats()
            self.assertEqual(st["nodes_before"], 12)
            after.append(st["nodes_after"])
        self.assertEqual(after[0], 12, "ORT_DISABLE_ALL changes nothing")
        self.assertLess(after[1], after[0])
        self.assertLess(after[2], after[1], "level 2 fuses Conv+Relu and Gemm+Relu")
        self.assertLessEqual(after[3], after[2])

    def test_disable_all_runs_no_pass(self):
        self.require_onyx()
        st = self.cpu_session(DIGITS, self.options(ort.GraphOptimizationLevel.ORT_DISABLE_ALL)).get_optimize_stats()
        self.assertTrue(all(p["changes"] == 0 for p in st["passes"]), st["passes"])


class TestCustomPasses(BaseOptimizationTest):
    def _bypass_relu_pass(self, calls):
        def bypass_relu(graph):
            calls.append(graph.node_count())
            changed = 0
            for i in range(graph.node_count() - 1, -1, -1):
                node = graph.node(i)
                self.assertTrue({"op_type", "domain", "name", "inputs", "outputs"} <= set(node))
                if node["op_type"] == "Relu":
                    graph.bypass_node(i)
                    changed += 1
            return changed
        return bypass_relu

    def test_custom_python_pass(self):
        self.require_onyx()
        model, with_relu, without_relu = tm.relu_add_model()
        calls = []
        so = ort.SessionOptions()
        so.add_custom_pass("bypass_relu", 1, self._bypass_relu_pass(calls))
        sess = self.cpu_session(model, so)
        self.assertGreaterEqual(len(calls), 2, "the optimizer repeats a pass until it reports 0 changes")
        self.assertEqual(calls[0], 2)
        self.assertEqual(calls[-1], 1)
        x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
        y = sess.run(None, {"X": x})[0]
        self.assertClose(y, without_relu(x))
        self.assertFalse(np.allclose(y, with_relu(x)))
        st = self.pass_stat(sess.get_optimize_stats(), "bypass_relu")
        self.assertIsNotNone(st, "the custom pass appears in get_optimize_stats()")
        self.assertEqual(st["changes"], 1)

    def test_custom_pass_not_run_below_its_level(self):
        self.require_onyx()
        model, with_relu, _ = tm.relu_add_model()
        calls = []
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        so.add_custom_pass("bypass_relu", 1, self._bypass_relu_pass(calls))
        sess = self.cpu_session(model, so)
        self.assertEqual(calls, [])
        x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
        self.assertClose(sess.run(None, {"X": x})[0], with_relu(x))

    def test_custom_pass_error_propagates(self):
        self.require_onyx()
        model, _, _ = tm.relu_add_model()

        def broken(graph):
            raise ValueError("pass failed on purpose")

        so = ort.SessionOptions()
        so.add_custom_pass("broken", 1, broken)
        with self.assertRaises(Exception) as cm:
            self.cpu_session(model, so)
        self.assertIn("pass failed on purpose", str(cm.exception))

    def test_set_and_disable_passes(self):
        self.require_onyx()
        so = ort.SessionOptions()
        so.set_passes(["conv_bn_folding"])
        path = os.path.join(self.tmp, "only_bn.onnx")
        so.optimized_model_filepath = path
        self.cpu_session(DIGITS, so)
        ops = ops_of(onnx.load(path))
        self.assertNotIn("BatchNormalization", ops)
        self.assertEqual(ops.count("Relu"), 3, "no fusion when only conv_bn_folding is selected")

        so = ort.SessionOptions()
        so.disable_passes(["conv_bn_folding"])
        sess = self.cpu_session(DIGITS, so)
        st = self.pass_stat(sess.get_optimize_stats(), "conv_bn_folding")
        self.assertTrue(st is None or st["changes"] == 0)
        x, _ = self.digits()
        self.assertClose(sess.run(None, {"input": x[:32]})[0], self.fp32_logits()[:32], atol=1e-4, rtol=1e-4)


class TestOptimizedModelFile(BaseOptimizationTest):
    def test_optimized_model_filepath_loadable(self):
        sess, opt = self.optimized(DIGITS, ort.GraphOptimizationLevel.ORT_ENABLE_BASIC)
        onnx.checker.check_model(opt)  # level 1 writes standard ONNX
        path = os.path.join(self.tmp, "opt.onnx")
        reloaded = self.cpu_session(path)
        x, _ = self.digits()
        self.assertClose(reloaded.run(None, {"input": x})[0], self.fp32_logits(), atol=1e-4, rtol=1e-4)
        self.assertEqual([i.name for i in reloaded.get_inputs()], ["input"])

    def test_optimized_model_filepath_extended_reloads(self):
        sess, _ = self.optimized(DIGITS, ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED, "ext.onnx")
        reloaded = self.cpu_session(os.path.join(self.tmp, "ext.onnx"))
        x, _ = self.digits()
        self.assertClose(reloaded.run(None, {"input": x[:64]})[0], self.fp32_logits()[:64], atol=1e-4, rtol=1e-4)


class TestOptimizerModule(BaseOptimizationTest):
    def setUp(self):
        super().setUp()
        self.require_onyx()
        import onyx.optimizer
        self.opt = onyx.optimizer

    def test_available_passes(self):
        names = self.opt.available_passes()
        for p in ("constant_folding", "common_subexpression", "conv_bn_folding", "dead_code",
                  "conv_activation_fusion", "memory_order"):
            self.assertIn(p, names)

    def test_optimize_model_bytes_and_path(self):
        with open(DIGITS, "rb") as f:
            raw = f.read()
        out = self.opt.optimize_model(raw, level=1)
        m = onnx.load_from_string(out)
        onnx.checker.check_model(m)
        self.assertNotIn("BatchNormalization", ops_of(m))
        dst = os.path.join(self.tmp, "o.onnx")
        res = self.opt.optimize_model(DIGITS, level=1, output_path=dst)
        self.assertEqual(res, dst)
        self.assertEqual(ops_of(onnx.load(dst)), ops_of(m))
        x, _ = self.digits()
        self.assertClose(self.cpu_session(out).run(None, {"input": x})[0], self.fp32_logits(), atol=1e-4, rtol=1e-4)

    def test_optimize_model_passes_and_stats(self):
        out, stats = self.opt.optimize_model(DIGITS, level=3, passes=["conv_bn_folding"], return_stats=True)
        ops = ops_of(onnx.load_from_string(out))
        self.assertNotIn("BatchNormalization", ops)
        self.assertEqual(ops.count("Relu"), 3)
        self.assertEqual(stats["nodes_before"], 12)
        self.assertEqual(stats["nodes_after"], len(ops))
        out2 = self.opt.optimize_model(DIGITS, level=1, disabled=["conv_bn_folding"])
        self.assertEqual(ops_of(onnx.load_from_string(out2)).count("BatchNormalization"), 2)

    def test_unknown_pass_rejected(self):
        with self.assertRaises(Exception):
            self.opt.optimize_model(DIGITS, level=1, passes=["no_such_pass"])


if __name__ == "__main__":
    unittest.main()
