"""Execution Provider section of the test plan: cpu, dnnl, cuda (device
selection, streams/async, memory pools, multi-GPU, errors, cleanup) and the
engine (onyx's stand-in for TensorRT)."""
import gc
import os
import shutil
import subprocess
import unittest

import numpy as np

from base import BaseProviderTest
from ortlib import CPU, CUDA, DNNL, IS_ONYX, TRT, accuracy, digits_numpy_reference, ort


class TestCpuProvider(BaseProviderTest):
    def test_cpu_matches_numpy_reference(self):
        sess = self.session([CPU])
        self.assertEqual(sess.get_providers(), [CPU])
        x, _ = self.batch()
        out = sess.run(None, {"input": x})[0]
        self.assertEqual(out.dtype, np.float32)
        self.assertClose(out, digits_numpy_reference(x), atol=1e-4, rtol=1e-4)

    def test_cpu_accuracy(self):
        x, y = self.digits()
        out = self.session([CPU]).run(["logits"], {"input": x})[0]
        self.assertEqual(out.shape, (540, 10))
        self.assertEqual(int(np.sum(np.argmax(out, 1) == y)), 536)

    def test_cpu_always_available(self):
        self.assertIn(CPU, ort.get_available_providers())
        self.assertIn(CPU, ort.get_all_providers())

    def test_cpu_placement(self):
        self.require_onyx()
        sess = self.session([CPU])
        placement = sess.get_node_placement()
        self.assertTrue(placement)
        self.assertEqual({p["provider"] for p in placement}, {CPU})


class TestDnnlProvider(BaseProviderTest):
    def setUp(self):
        super().setUp()
        self.require_provider(DNNL)

    def test_dnnl_matches_cpu(self):
        sess = self.session([DNNL, CPU])
        self.assertEqual(sess.get_providers()[0], DNNL)
        self.assertIn(CPU, sess.get_providers())
        self.assertMatchesCpu(sess, atol=1e-3)

    def test_dnnl_takes_conv(self):
        self.require_onyx()
        sess = self.session([DNNL, CPU])
        convs = [p for p in sess.get_node_placement() if "Conv" in p["op_type"]]
        self.assertTrue(convs)
        self.assertTrue(all(p["provider"] == DNNL for p in convs), convs)

    def test_onyx_provider_names(self):
        self.require_onyx()
        sess = self.session(["dnnl", "cpu"])
        self.assertEqual(sess.get_providers(), [DNNL, CPU])
        self.assertMatchesCpu(sess, atol=1e-3)


def gpu_count():
    smi = shutil.which("nvidia-smi")
    if not smi:
        return 0
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in out.splitlines() if line.startswith("GPU "))


def process_gpu_mib():
    """This process's GPU memory in MiB per nvidia-smi, or None."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return None
    try:
        out = subprocess.run([smi, "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    total = 0
    for line in out.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 2 and parts[0] == str(os.getpid()) and parts[1].isdigit():
            total += int(parts[1])
    return total


class TestCudaProvider(BaseProviderTest):
    def setUp(self):
        super().setUp()
        self.require_provider(CUDA, "CUDAExecutionProvider not in get_available_providers() (no usable GPU)")

    def test_device_selection(self):
        sess = self.session([(CUDA, {"device_id": 0}), CPU])
        self.assertEqual(sess.get_providers()[0], CUDA)
        self.assertEqual(sess.get_provider_options()[CUDA]["device_id"], "0")
        self.assertMatchesCpu(sess)

    def test_streams_async_io_binding(self):
        sess = self.session([CUDA, CPU])
        x, _ = self.batch()
        ref = self.cpu_session().run(None, {"input": x})[0]
        binding = sess.io_binding()
        binding.bind_cpu_input("input", x)
        binding.bind_output("logits", "cuda", 0)
        for _ in range(3):  # output memory reused across runs, each run on its stream
            sess.run_with_iobinding(binding)
            binding.synchronize_outputs()
            out = binding.get_outputs()[0]
            self.assertEqual(out.device_name().lower(), "cuda")
            self.assertClose(binding.copy_outputs_to_cpu()[0], ref, atol=1e-3, rtol=0)
        # a device-resident input
        xv = ort.OrtValue.ortvalue_from_numpy(x, "cuda", 0)
        binding.bind_ortvalue_input("input", xv)
        sess.run_with_iobinding(binding)
        self.assertClose(binding.copy_outputs_to_cpu()[0], ref, atol=1e-3, rtol=0)

    def test_memory_pool_limit(self):
        limit = 256 * 1024 * 1024
        sess = self.session([(CUDA, {"gpu_mem_limit": limit, "arena_extend_strategy": "kSameAsRequested"}), CPU])
        self.assertEqual(int(sess.get_provider_options()[CUDA]["gpu_mem_limit"]), limit)
        self.assertMatchesCpu(sess)
        if IS_ONYX:
            cuda = [m for m in sess.get_memory_info() if m["device"].lower().startswith("cuda")]
            self.assertTrue(cuda, "no cuda memory space in get_memory_info()")
            self.assertGreater(cuda[0]["peak"], 0)
            self.assertLessEqual(cuda[0]["peak"], limit)

    def test_memory_pool_too_small_fails_cleanly(self):
        sess = self.session([(CUDA, {"gpu_mem_limit": 4096}), CPU])
        x, _ = self.batch()
        ref = self.cpu_session().run(None, {"input": x})[0]
        try:
            out = sess.run(None, {"input": x})[0]
        except Exception:  # the pool is too small: an error, not a crash
            out = None
        if out is not None:  # (a runtime may satisfy the run another way; then it must be right)
            self.assertClose(out, ref, atol=1e-3, rtol=0)
        # the failure left the provider usable for a session with room
        self.assertMatchesCpu(self.session([CUDA, CPU]))

    def test_multi_gpu(self):
        if gpu_count() < 2:
            self.skipTest("needs >= 2 GPUs")
        s0 = self.session([(CUDA, {"device_id": 0}), CPU])
        s1 = self.session([(CUDA, {"device_id": 1}), CPU])
        self.assertEqual(s1.get_provider_options()[CUDA]["device_id"], "1")
        a, b = self.assertMatchesCpu(s0), self.assertMatchesCpu(s1)
        self.assertClose(a, b, atol=1e-3, rtol=0)

    def test_bad_device_id_raises(self):
        with self.assertRaises(Exception):
            s = self.session([(CUDA, {"device_id": 999}), CPU])
            s.run(None, {"input": self.batch()[0]})
        # the process is still fine afterwards
        self.assertMatchesCpu(self.session([CUDA, CPU]))

    def test_cleanup_many_sessions(self):
        x, _ = self.batch()
        ref = self.cpu_session().run(None, {"input": x})[0]
        for _ in range(3):  # warm: library handles, pools
            self.session([CUDA, CPU]).run(None, {"input": x})
        gc.collect()
        before = process_gpu_mib()
        for _ in range(25):
            sess = self.session([CUDA, CPU])
            self.assertClose(sess.run(None, {"input": x})[0], ref, atol=1e-3, rtol=0)
            del sess
        gc.collect()
        after = process_gpu_mib()
        if before is not None and after is not None:
            self.assertLess(after - before, 64, "GPU memory grew %d MiB over 25 sessions" % (after - before))


class TestEngineProvider(BaseProviderTest):
    def setUp(self):
        super().setUp()
        self.require_provider(TRT, "engine provider not built (issue #16)")

    def test_engine_matches_cpu(self):
        sess = self.session([TRT, CUDA, CPU])
        self.assertEqual(sess.get_providers()[0], TRT)
        self.assertMatchesCpu(sess)

    def test_engine_fp16(self):
        sess = self.session([(TRT, {"trt_fp16_enable": True}), CUDA, CPU])
        x, y = self.digits()
        out = sess.run(None, {"input": x})[0]
        self.assertGreaterEqual(accuracy(out, y), 530 / 540)


if __name__ == "__main__":
    unittest.main()
