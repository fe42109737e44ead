"""Provider Selection section of the test plan, on onyx's simulated device
(simdev: Add, Mul, Relu, MatMul, Conv float32 and Reshape only): priority,
fallback, mixed execution with device copies, switching, device-lost recovery."""
import threading
import unittest

import numpy as np

import testmodels as tm
from base import BaseProviderTest
from ortlib import CPU, DIGITS, exc, ort


class TestProviderSelection(BaseProviderTest):
    def setUp(self):
        super().setUp()
        self.g = ort.GraphOptimizationLevel

    # --- priority --------------------------------------------------------
    def test_priority_first_listed_provider_wins(self):
        dev = self.sim_device()
        model, ref = tm.elementwise_model()
        a = np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32)
        b = np.random.default_rng(1).standard_normal((4, 8)).astype(np.float32)
        first = self.sim_session(dev, model, ["simdev", CPU], self.g.ORT_DISABLE_ALL)
        self.assertEqual([p["provider"] for p in first.get_node_placement()], ["simdev"] * 3)
        self.assertClose(first.run(None, {"A": a, "B": b})[0], ref(a, b))
        self.assertGreaterEqual(dev.counts()["kernels"], 3)

        dev2 = self.sim_device()
        last = self.sim_session(dev2, model, [CPU, "simdev"], self.g.ORT_DISABLE_ALL)
        self.assertEqual([p["provider"] for p in last.get_node_placement()], [CPU] * 3)
        self.assertClose(last.run(None, {"A": a, "B": b})[0], ref(a, b))
        self.assertEqual(dev2.counts()["kernels"], 0, "cpu listed first: nothing runs on simdev")

    def test_priority_on_digits(self):
        dev = self.sim_device()
        sess = self.sim_session(dev, DIGITS, ["simdev", CPU], self.g.ORT_DISABLE_ALL)
        pl = sess.get_node_placement()
        by_op = {}
        for p in pl:
            by_op.setdefault(p["op_type"], set()).add(p["provider"])
        self.assertEqual(by_op["Conv"], {"simdev"})
        self.assertEqual(by_op["Relu"], {"simdev"})
        for p in pl:
            if p["provider"] == "simdev":
                self.assertFalse(p["fallback_reason"], "a node on the first provider has no fallback reason")

    # --- fallback --------------------------------------------------------
    def test_fallback_unsupported_op_runs_on_next(self):
        dev = self.sim_device()
        sess = self.sim_session(dev, DIGITS, ["simdev", CPU])  # default level
        pools = [p for p in sess.get_node_placement() if p["op_type"] == "MaxPool"]
        self.assertEqual(len(pools), 2)
        for p in pools:
            self.assertEqual(p["provider"], CPU)
            self.assertTrue(p["fallback_reason"], "MaxPool's fallback names why simdev declined it")
        x, _ = self.batch()
        self.assertClose(sess.run(None, {"input": x})[0], self.cpu_session().run(None, {"input": x})[0],
                         atol=1e-4, rtol=1e-4)

    # --- mixed execution with copies --------------------------------------
    def test_mixed_execution_device_copies(self):
        dev = self.sim_device()
        sess = self.sim_session(dev, DIGITS, ["simdev", CPU], self.g.ORT_DISABLE_ALL)
        providers = {p["provider"] for p in sess.get_node_placement()}
        self.assertEqual(providers, {"simdev", CPU}, "digits runs partly on each")
        copies = sess.get_copies()
        self.assertTrue(copies, "values cross between simdev and cpu memory")
        static = {"features.0.weight": 16 * 1 * 9 * 4, "features.4.weight": 32 * 16 * 9 * 4}
        for c in copies:
            self.assertTrue({"value", "from", "to", "bytes"} <= set(c))
            self.assertNotEqual(c["from"], c["to"])
            # bytes: known for fixed shapes; -1 for values sized by the symbolic batch
            self.assertTrue(c["bytes"] > 0 or c["bytes"] == -1, c)
            if c["value"] in static:
                self.assertEqual(c["bytes"], static[c["value"]], c)
        self.assertIn("input", {c["value"] for c in copies}, "the input is copied to the device")
        self.assertTrue(any("simdev" in str(c["from"]) for c in copies))
        self.assertTrue(any("simdev" in str(c["to"]) for c in copies))
        x, _ = self.batch()
        out = sess.run(None, {"input": x})[0]
        self.assertClose(out, self.cpu_session().run(None, {"input": x})[0], atol=1e-5, rtol=1e-5)
        n = dev.counts()
        self.assertGreater(n["kernels"], 0)
        self.assertGreater(n["copies_in"], 0)
        self.assertGreater(n["copies_out"], 0)
        self.assertGreater(n["bytes_in"], 0)

    def test_mixed_execution_concurrent_runs(self):
        dev = self.sim_device()
        dev.set_kernel_delay(200)  # widen the window for a missing stream sync
        sess = self.sim_session(dev, DIGITS, ["simdev", CPU], self.g.ORT_DISABLE_ALL)
        x, _ = self.digits()
        chunks = [x[i * 16:(i + 1) * 16] for i in range(4)]
        ref = [self.cpu_session().run(None, {"input": c})[0] for c in chunks]
        results, errors = {}, []

        def worker(i):
            try:
                results[i] = [sess.run(None, {"input": chunks[i]})[0] for _ in range(3)]
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        for i in range(4):
            for out in results[i]:
                self.assertClose(out, ref[i], atol=1e-5, rtol=1e-5)

    # --- switching -------------------------------------------------------
    def test_switching_providers_between_runs(self):
        dev = self.sim_device()
        sess = self.sim_session(dev, DIGITS, ["simdev", CPU], self.g.ORT_DISABLE_ALL)
        x, _ = self.batch()
        a = sess.run(None, {"input": x})[0]
        k = dev.counts()["kernels"]
        self.assertGreater(k, 0)

        sess.set_providers([CPU])
        self.assertEqual(sess.get_providers(), [CPU])
        self.assertEqual({p["provider"] for p in sess.get_node_placement()}, {CPU})
        b = sess.run(None, {"input": x})[0]
        self.assertEqual(dev.counts()["kernels"], k, "cpu-only run used simdev")

        sess.set_providers(["simdev", CPU])
        self.assertIn("simdev", {p["provider"] for p in sess.get_node_placement()})
        c = sess.run(None, {"input": x})[0]
        self.assertGreater(dev.counts()["kernels"], k)
        self.assertClose(a, b)
        self.assertClose(c, b)

    def test_switching_ort_providers(self):
        # the ORT-visible part: set_providers between runs, same results
        sess = self.session([CPU])
        x, _ = self.batch()
        a = sess.run(None, {"input": x})[0]
        avail = [p for p in ("DnnlExecutionProvider", "CUDAExecutionProvider") if p in ort.get_available_providers()]
        other = [avail[0], CPU] if avail else [CPU]
        sess.set_providers(other)
        self.assertEqual(sess.get_providers()[0], other[0])
        b = sess.run(None, {"input": x})[0]
        sess.set_providers([CPU])
        self.assertEqual(sess.get_providers(), [CPU])
        c = sess.run(None, {"input": x})[0]
        self.assertClose(a, b, atol=1e-3, rtol=0)
        self.assertClose(a, c)

    # --- device lost -----------------------------------------------------
    def test_device_lost_recovery(self):
        dev = self.sim_device()
        sess = self.sim_session(dev, DIGITS, ["simdev", CPU], self.g.ORT_DISABLE_ALL)
        x, _ = self.batch()
        ref = self.cpu_session().run(None, {"input": x})[0]
        self.assertClose(sess.run(None, {"input": x})[0], ref, atol=1e-5, rtol=1e-5)
        self.assertEqual(sess.get_fallbacks(), [])

        dev.lose_device_at(2)
        with self.assertRaises(exc("EPFail")):
            sess.run(None, {"input": x})
        fallbacks = sess.get_fallbacks()
        self.assertTrue(fallbacks, "the lost device is recorded")
        self.assertTrue(any("simdev" in f for f in fallbacks), fallbacks)

        out = sess.run(None, {"input": x})[0]
        self.assertClose(out, ref, atol=1e-5, rtol=1e-5)
        self.assertNotIn("simdev", {p["provider"] for p in sess.get_node_placement()})
        self.assertClose(sess.run(None, {"input": x})[0], ref, atol=1e-5, rtol=1e-5)

    def test_allocation_failure_then_recovery(self):
        dev = self.sim_device()
        sess = self.sim_session(dev, DIGITS, ["simdev", CPU], self.g.ORT_DISABLE_ALL)
        x, _ = self.digits()
        x1, x2 = x[:64], x[64:112]  # a new batch size: the run plans (allocates) anew
        ref2 = self.cpu_session().run(None, {"input": x2})[0]
        sess.run(None, {"input": x1})
        dev.fail_alloc_at(1)
        try:
            out = sess.run(None, {"input": x2})[0]
        except Exception as e:  # an out-of-memory error is fine; a wrong result is not
            self.assertTrue(str(e), "the error carries a message")
        else:
            self.assertClose(out, ref2, atol=1e-5, rtol=1e-5)
        self.assertClose(sess.run(None, {"input": x2})[0], ref2, atol=1e-5, rtol=1e-5)
        self.assertClose(sess.run(None, {"input": x1})[0], self.cpu_session().run(None, {"input": x1})[0],
                         atol=1e-5, rtol=1e-5)

if __name__ == "__main__":
    unittest.main()
