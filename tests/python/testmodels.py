"""Small ONNX models built with onnx.helper (onnx 1.12: opset 13, IR version 8),
each with a NumPy reference of what it computes."""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT


def make_model(nodes, inputs, outputs, initializers=(), opset=13, name="g", **kw):
    graph = helper.make_graph(list(nodes), name, list(inputs), list(outputs), list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], **kw)
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def vi(name, shape, dtype=F):
    return helper.make_tensor_value_info(name, dtype, shape)


def init(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def rng(seed=0):
    return np.random.default_rng(seed)


def const_fold_model():
    """Y = X * ((c1 + c2) * c3): the parenthesis is a constant subexpression."""
    r = rng(1)
    c1, c2, c3 = (r.standard_normal((2, 3)).astype(np.float32) for _ in range(3))
    nodes = [
        helper.make_node("Add", ["c1", "c2"], ["s"], name="add_consts"),
        helper.make_node("Mul", ["s", "c3"], ["s3"], name="mul_consts"),
        helper.make_node("Mul", ["X", "s3"], ["Y"], name="mul_x"),
    ]
    m = make_model(nodes, [vi("X", [2, 3])], [vi("Y", [2, 3])], [init("c1", c1), init("c2", c2), init("c3", c3)])
    return m, (lambda x: x * ((c1 + c2) * c3))


def dead_branch_model():
    """Y = Relu(X); a Sigmoid and a Neg->Exp chain compute values nobody reads."""
    nodes = [
        helper.make_node("Relu", ["X"], ["Y"], name="live_relu"),
        helper.make_node("Sigmoid", ["X"], ["dead1"], name="dead_sigmoid"),
        helper.make_node("Neg", ["X"], ["dead2"], name="dead_neg"),
        helper.make_node("Exp", ["dead2"], ["dead3"], name="dead_exp"),
    ]
    m = make_model(nodes, [vi("X", [4, 5])], [vi("Y", [4, 5])])
    return m, (lambda x: np.maximum(x, 0))


def cse_model():
    """Y = Relu(X) + Relu(X) and Z = X*w + X*w, each pair written twice."""
    w = rng(2).standard_normal((4, 5)).astype(np.float32)
    nodes = [
        helper.make_node("Relu", ["X"], ["r1"], name="relu_a"),
        helper.make_node("Relu", ["X"], ["r2"], name="relu_b"),
        helper.make_node("Add", ["r1", "r2"], ["Y"], name="add_r"),
        helper.make_node("Mul", ["X", "w"], ["m1"], name="mul_a"),
        helper.make_node("Mul", ["X", "w"], ["m2"], name="mul_b"),
        helper.make_node("Add", ["m1", "m2"], ["Z"], name="add_m"),
    ]
    m = make_model(nodes, [vi("X", [4, 5])], [vi("Y", [4, 5]), vi("Z", [4, 5])], [init("w", w)])
    return m, (lambda x: [2 * np.maximum(x, 0), 2 * x * w])


def transpose_pair_model():
    """NCHW -> NHWC -> NCHW transposes that cancel, then Relu."""
    nodes = [
        helper.make_node("Transpose", ["X"], ["nhwc"], perm=[0, 2, 3, 1], name="to_nhwc"),
        helper.make_node("Transpose", ["nhwc"], ["nchw"], perm=[0, 3, 1, 2], name="to_nchw"),
        helper.make_node("Relu", ["nchw"], ["Y"], name="relu"),
    ]
    m = make_model(nodes, [vi("X", [2, 3, 4, 5])], [vi("Y", [2, 3, 4, 5])])
    return m, (lambda x: np.maximum(x, 0))


def chain_model(n=8, shape=(64, 1024)):
    """n elementwise nodes in a chain (Neg, Relu alternating): every activation
    is dead once the next node ran, so a planner reuses memory."""
    nodes, prev = [], "X"
    for i in range(n):
        out = "Y" if i == n - 1 else "t%d" % i
        nodes.append(helper.make_node("Neg" if i % 2 == 0 else "Relu", [prev], [out], name="n%d" % i))
        prev = out
    m = make_model(nodes, [vi("X", list(shape))], [vi("Y", list(shape))])

    def ref(x):
        v = x
        for i in range(n):
            v = -v if i % 2 == 0 else np.maximum(v, 0)
        return v

    return m, ref


def elementwise_model():
    """Y = Relu(A*B) + A: only ops every provider (simdev too) runs."""
    nodes = [
        helper.make_node("Mul", ["A", "B"], ["m"], name="mul"),
        helper.make_node("Relu", ["m"], ["r"], name="relu"),
        helper.make_node("Add", ["r", "A"], ["Y"], name="add"),
    ]
    m = make_model(nodes, [vi("A", [4, 8]), vi("B", [4, 8])], [vi("Y", [4, 8])])
    return m, (lambda a, b: np.maximum(a * b, 0) + a)


def matmul_model(k=64, n=32, seed=3):
    """Y = X @ W (W a float initializer), for dynamic quantization."""
    w = rng(seed).standard_normal((k, n)).astype(np.float32) * 0.1
    nodes = [helper.make_node("MatMul", ["X", "W"], ["Y"], name="matmul")]
    m = make_model(nodes, [vi("X", ["batch", k])], [vi("Y", ["batch", n])], [init("W", w)])
    return m, (lambda x: x @ w)


def relu_add_model():
    """Y = Relu(X) + c, for a custom pass that bypasses the Relu."""
    c = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    nodes = [
        helper.make_node("Relu", ["X"], ["r"], name="the_relu"),
        helper.make_node("Add", ["r", "c"], ["Y"], name="the_add"),
    ]
    m = make_model(nodes, [vi("X", [3, 4])], [vi("Y", [3, 4])], [init("c", c)])
    return m, (lambda x: np.maximum(x, 0) + c), (lambda x: x + c)


def meta_model():
    """Relu with every metadata field set."""
    nodes = [helper.make_node("Relu", ["X"], ["Y"], name="relu")]
    graph = helper.make_graph(nodes, "meta_graph", [vi("X", [None, 3])], [vi("Y", [None, 3])],
                              doc_string="graph doc")
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="onyx-tests", doc_string="model doc",
                              domain="org.onyx.tests", model_version=7)
    model.ir_version = 8
    helper.set_model_props(model, {"author": "tests", "purpose": "metadata"})
    onnx.checker.check_model(model)
    return model


def node_ops(model):
    return [n.op_type for n in model.graph.node]


def initializer_bytes(model):
    return sum(numpy_helper.to_array(t).nbytes for t in model.graph.initializer)
