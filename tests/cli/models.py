"""models.py — writes the small ONNX models the CLI tests run, into argv[1].

Used by tests/cli/test_*.sh (not a test itself). Built with the onnx Python
package so the tests exercise onyx's loader on files another tool wrote.
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]


def save(name, nodes, inputs, outputs, inits=(), opsets=(("", 13),)):
    g = helper.make_graph(nodes, name, inputs, outputs, initializer=list(inits))
    m = helper.make_model(g, producer_name="onyx-cli-test", producer_version="1.2",
                          opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])
    m.ir_version = 8
    onnx.save(m, f"{out}/{name}.onnx")


vi = helper.make_tensor_value_info

# Identity of each dtype over a symbolic batch dim: id_<dtype>.onnx
dtypes = {"float32": TensorProto.FLOAT, "float64": TensorProto.DOUBLE,
          "float16": TensorProto.FLOAT16, "int8": TensorProto.INT8, "uint8": TensorProto.UINT8,
          "int16": TensorProto.INT16, "uint16": TensorProto.UINT16, "int32": TensorProto.INT32,
          "int64": TensorProto.INT64, "uint32": TensorProto.UINT32, "uint64": TensorProto.UINT64,
          "bool": TensorProto.BOOL, "bfloat16": TensorProto.BFLOAT16, "string": TensorProto.STRING}
for name, t in dtypes.items():
    save(f"id_{name}", [helper.make_node("Identity", ["x"], ["y"])],
         [vi("x", t, ["N", 3])], [vi("y", t, ["N", 3])])

# Identity then Relu: 2 nodes at optimization level 0, 1 from level 1 on
# (the Identity is removed), so a command's node count shows its level.
save("id_relu", [helper.make_node("Identity", ["x"], ["i"]), helper.make_node("Relu", ["i"], ["y"])],
     [vi("x", TensorProto.FLOAT, ["N", 3])], [vi("y", TensorProto.FLOAT, ["N", 3])])

# Two inputs sharing the symbolic dim "batch"; output names that are not
# file names.
save("two", [helper.make_node("Identity", ["x"], ["out/put:0"]),
             helper.make_node("Identity", ["z"], ["w"])],
     [vi("x", TensorProto.FLOAT, ["batch", 2]), vi("z", TensorProto.INT64, ["batch"])],
     [vi("out/put:0", TensorProto.FLOAT, ["batch", 2]), vi("w", TensorProto.INT64, ["batch"])])

# Names that need JSON escaping, a symbolic and an unnamed dim, initializers,
# ops onyx lacks (one in another domain onyx knows).
odd = 'we"ird\\name\n\ttab é'
save("odd", [helper.make_node("Identity", [odd], ["a"], name="n0"),
             helper.make_node("NoSuchOp", ["a", "w"], ["b"]),
             helper.make_node("Frobnicate", ["b"], ["c"], domain="com.microsoft"),
             helper.make_node("NoSuchOp", ["c", "k"], ["d"])],
     [vi(odd, TensorProto.FLOAT, ["seq", None, 4])],
     [vi("d", TensorProto.FLOAT, None)],
     inits=[numpy_helper.from_array(np.ones((2, 3), np.float32), "w"),
            numpy_helper.from_array(np.array([7], np.int64), "k")],
     opsets=(("", 13), ("com.microsoft", 1)))

# A small CNN over a symbolic batch, of ops the cpu provider has: what
# `onyx bench` times in the tests (big enough that concurrent runs overlap).
rng = np.random.default_rng(0)


def weight(name, *shape):
    return numpy_helper.from_array((rng.standard_normal(shape) * 0.3).astype(np.float32), name)


save("cnn", [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("MaxPool", ["c1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Conv", ["p1", "w2"], ["c2"], pads=[1, 1, 1, 1]),
             helper.make_node("GlobalAveragePool", ["c2"], ["g"]),
             helper.make_node("Flatten", ["g"], ["f"]),
             helper.make_node("Gemm", ["f", "w3", "b3"], ["logits"], transB=1),
             helper.make_node("Softmax", ["logits"], ["prob"])],
     [vi("x", TensorProto.FLOAT, ["batch", 3, 32, 32])],
     [vi("prob", TensorProto.FLOAT, ["batch", 10])],
     inits=[weight("w1", 16, 3, 3, 3), weight("b1", 16), weight("w2", 32, 16, 3, 3),
            weight("w3", 10, 32), weight("b3", 10)])

# Outputs that change from run to run (RandomUniformLike without a seed):
# `onyx bench --check` must notice.
save("noisy", [helper.make_node("RandomUniformLike", ["x"], ["y"])],
     [vi("x", TensorProto.FLOAT, ["batch", 4])], [vi("y", TensorProto.FLOAT, ["batch", 4])])

# Two float inputs, each through a MatMul, summed: static quantization
# calibrated from .npz archives (an array per input name) or per-input
# .npy folders.
save("two_mm", [helper.make_node("MatMul", ["a", "wa"], ["pa"]),
                helper.make_node("MatMul", ["b", "wb"], ["pb"]),
                helper.make_node("Add", ["pa", "pb"], ["y"])],
     [vi("a", TensorProto.FLOAT, ["batch", 8]), vi("b", TensorProto.FLOAT, ["batch", 8])],
     [vi("y", TensorProto.FLOAT, ["batch", 4])],
     inits=[weight("wa", 8, 4), weight("wb", 8, 4)])
