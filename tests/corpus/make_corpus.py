#!/usr/bin/python3
"""make_corpus.py — writes onyx's malformed-input corpus (issue #20).

Generates every case into tests/corpus/cases/ (small .onnx models, external
data files, run-time input and expected-output .pb tensors) and the manifest
tests/corpus/manifest.txt that tests/unit/test_corpus.c and
tests/cli/test_cli_corpus.sh read. Each case states the stage at which it must
fail (load, create, run), the onyx code it must fail with and a fragment of
the message; OK cases must load, create and run, and may name expected
outputs. The expectations are what a correct runtime should answer (ONNX
Runtime's behaviour, in onyx's status codes), not a recording of what onyx
happens to do; where onyx is wrong the case carries a `bug:` note (see
README.md).

Run with Debian's Python (it has onnx 1.12 and numpy):
    /usr/bin/python3 tests/corpus/make_corpus.py
The output is deterministic: rerunning it on an unchanged script changes no
file. Cases no longer generated are deleted from cases/.
"""
import os
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CASES = os.path.join(HERE, "cases")
NODE = "/usr/share/libonnx-testdata/data/node"
DIGITS = os.path.join(ROOT, "models", "digits_cnn.onnx")

F = TensorProto.FLOAT
I64 = TensorProto.INT64

entries = []     # manifest lines, in order, with category headers
written = set()  # file names written into cases/
counts = {}      # category -> number of cases
category = None

# Known library bugs, by case file: the reason goes into the manifest as
# `bug: ...` and the tests report the case as an expected failure. Filled in
# after checking each expectation against onyx; see README.md.
BUGS = {
    "nan_relu.onnx": "wrong value: Relu(NaN) gives 0 on the dnnl provider (the default dnnl,cpu); NaN must "
                     "propagate (ONNX reference, ORT, numpy; the cpu provider alone gives NaN)",
    "nan_exp.onnx": "wrong value: Exp(NaN) gives +Inf on the dnnl provider (cpu alone: NaN)",
    "nan_softmax.onnx": "wrong value: Softmax of a row holding NaN gives 0 for its other elements on the dnnl provider "
                        "(cpu alone: NaN)",
}


def section(name, comment):
    global category
    category = name
    counts.setdefault(name, 0)
    entries.append("")
    entries.append(f"# ---- {name}: {comment}")


def write_bytes(name, data):
    assert name not in written, name
    written.add(name)
    path = os.path.join(CASES, name)
    if os.path.exists(path) and open(path, "rb").read() == data:
        return
    with open(path, "wb") as f:
        f.write(data)


def quote(s):
    if s == "-" or (s and not any(c.isspace() for c in s) and '"' not in s):
        return s
    assert '"' not in s and "\n" not in s, s
    return f'"{s}"'


def case(file, stage, code, frag, inputs=None, expect=None, cli=None, sparse=None):
    """One manifest line. inputs/expect: {name: file}."""
    assert stage in ("load", "create", "run"), stage
    assert file in written, file
    fields = [file, stage, code, quote(frag)]
    opts = []
    if expect:
        opts.append("expect=" + ",".join(f"{k}={v}" for k, v in expect.items()))
    if cli:
        opts.append("cli=" + cli)
    if sparse:
        opts.append("sparse=" + sparse)
    if inputs or opts:
        fields.append(",".join(f"{k}={v}" for k, v in (inputs or {}).items()) or "-")
    fields += opts
    for v in list((inputs or {}).values()) + list((expect or {}).values()):
        assert v in written, v
    line = "  ".join(fields)
    for k in [f"{file}|{v}" for v in (inputs or {}).values()] + [file]:
        if k in BUGS:
            line += "  bug: " + BUGS.pop(k)
            break
    entries.append(line)
    counts[category] += 1


def model(nodes, inputs, outputs, inits=(), opset=13, ir=7, value_info=(), opsets=None, name="g"):
    g = helper.make_graph(list(nodes), name, list(inputs), list(outputs), list(inits),
                          value_info=list(value_info))
    ops = opsets if opsets is not None else [helper.make_opsetid("", opset)]
    m = helper.make_model(g, opset_imports=ops, producer_name="onyx-corpus")
    m.ir_version = ir
    return m


def save(name, m):
    write_bytes(name, m.SerializeToString() if hasattr(m, "SerializeToString") else m)
    return name


def vi(name, dt, shape):
    return helper.make_tensor_value_info(name, dt, shape)


def tensor_file(name, arr, tname="t"):
    """An input/expected-output .pb tensor; deduplicated by name."""
    if name not in written:
        write_bytes(name, numpy_helper.from_array(np.asarray(arr), tname).SerializeToString())
    return name


def init(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


# ---- protobuf wire helpers ---------------------------------------------------

def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field, wt):
    return varint(field << 3 | wt)


def ld(field, payload):
    return key(field, 2) + varint(len(payload)) + payload


def vint(field, n):
    return key(field, 0) + varint(n)


# A small valid model (Relu x[2] -> y) in explicit wire form, for wire-level edits.
def relu_model_fields(graph_override=None, opset_override=None, ir_field=None):
    node = ld(1, b"x") + ld(2, b"y") + ld(4, b"Relu")
    tt = vint(1, F) + ld(2, ld(1, vint(1, 2)))            # elem_type, shape{dim{dim_value:2}}
    typ = ld(1, tt)                                        # TypeProto.tensor_type
    vin = ld(1, b"x") + ld(2, typ)
    vout = ld(1, b"y") + ld(2, typ)
    graph = ld(1, node) + ld(2, b"g") + ld(11, vin) + ld(12, vout)
    if graph_override is not None:
        graph = graph_override
    opset = ld(1, b"") + vint(2, 13) if opset_override is None else opset_override
    ir = vint(1, 7) if ir_field is None else ir_field
    return ir + ld(7, graph) + ld(8, opset)


def relu_parts():
    node = ld(1, b"x") + ld(2, b"y") + ld(4, b"Relu")
    tt = vint(1, F) + ld(2, ld(1, vint(1, 2)))
    typ = ld(1, tt)
    vin = ld(1, b"x") + ld(2, typ)
    vout = ld(1, b"y") + ld(2, typ)
    return node, vin, vout


# ---- common inputs -----------------------------------------------------------

def common_inputs():
    tensor_file("in_f32_2.pb", np.array([-1, 2], np.float32), "x")
    tensor_file("in_f32_2x3.pb", np.arange(6, dtype=np.float32).reshape(2, 3) - 2, "x")
    tensor_file("in_f32_2x3_b.pb", np.ones((2, 3), np.float32), "y")
    tensor_file("in_f32_3.pb", np.array([1, 2, 3], np.float32), "x")
    tensor_file("in_f32_4.pb", np.array([1, 2, 3, 4], np.float32), "x")
    tensor_file("in_f32_2x2.pb", np.array([[1, 2], [3, 4]], np.float32), "x")
    tensor_file("in_f32_3x3.pb", np.ones((3, 3), np.float32), "x")
    tensor_file("in_f64_2x3.pb", np.ones((2, 3), np.float64), "x")
    tensor_file("in_i64_2x3.pb", np.ones((2, 3), np.int64), "x")
    tensor_file("in_i32_2x3.pb", np.ones((2, 3), np.int32), "x")
    tensor_file("in_f32_6.pb", np.ones(6, np.float32), "x")
    tensor_file("in_f32_1x2x3.pb", np.ones((1, 2, 3), np.float32), "x")
    tensor_file("in_f32_3x2.pb", np.ones((3, 2), np.float32), "x")
    tensor_file("in_f32_scalar.pb", np.array(1.5, np.float32), "x")
    tensor_file("in_f32_1x1x4x4.pb", np.ones((1, 1, 4, 4), np.float32), "x")
    tensor_file("in_f32_0x3.pb", np.zeros((0, 3), np.float32), "x")
    tensor_file("in_f32_1x3.pb", np.array([[1, -2, 3]], np.float32), "y")
    tensor_file("in_i64_1.pb", np.array([1], np.int64), "i")
    digits_x = np.load(os.path.join(ROOT, "models", "digits_test_x.npy"))[:2].astype(np.float32)
    tensor_file("in_digits_2.pb", digits_x, "input")


def relu_2x3():
    return model([helper.make_node("Relu", ["x"], ["y"])], [vi("x", F, [2, 3])], [vi("y", F, [2, 3])])


# ==== 1. truncated files ======================================================

def truncated():
    section("truncated", "prefixes of valid models; a prefix ending on a top-level field boundary parses, "
            "and is then a model without a graph or without opset imports")
    srcs = [("digits", open(DIGITS, "rb").read(),
             [0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 1597, 2584, 4181, 6765,
              10946, 17711, 28657, 46368, -40, -12, -3, -1])]
    for t in ("test_add", "test_conv_with_strides_padding", "test_if"):
        data = open(os.path.join(NODE, t, "model.onnx"), "rb").read()
        n = len(data)
        srcs.append((t[5:], data, sorted({1, 7, n // 5, n // 3, n // 2, 2 * n // 3, n - 9, n - 1})))
    for tag, data, lengths in srcs:
        for L in lengths:
            if L < 0:
                L += len(data)
            name = f"trunc_{tag}_{L:05d}.onnx"
            write_bytes(name, data[:L])
            m = onnx.ModelProto()
            try:
                m.ParseFromString(data[:L])
                parses = True
            except Exception:
                parses = False
            if not parses:
                case(name, "load", "INVALID_MODEL", "protobuf decoding failed")
            elif not m.HasField("graph"):
                case(name, "load", "INVALID_MODEL", "has no graph")
            else:
                case(name, "load", "INVALID_MODEL", "imports no opset")


# ==== 2. wire-level damage ====================================================

def wire():
    section("wire", "wrong wire types and malformed protobuf framing")
    node, vin, vout = relu_parts()
    graph = ld(1, node) + ld(2, b"g") + ld(11, vin) + ld(12, vout)
    opset = ld(1, b"") + vint(2, 13)
    good = vint(1, 7) + ld(7, graph) + ld(8, opset)
    write_bytes("wire_valid_reference.onnx", good)
    tensor_file("in_f32_2.pb", np.array([-1, 2], np.float32), "x")
    tensor_file("out_relu_2.pb", np.array([0, 2], np.float32), "y")
    case("wire_valid_reference.onnx", "run", "OK", "-", {"x": "in_f32_2.pb"}, expect={"y": "out_relu_2.pb"})

    bad = {
        # ModelProto.ir_version (varint) sent as a length-delimited field
        "wire_ir_version_as_bytes.onnx": ld(1, b"\x07") + ld(7, graph) + ld(8, opset),
        # ModelProto.graph (message) sent as a varint
        "wire_graph_as_varint.onnx": vint(1, 7) + vint(7, 5) + ld(8, opset),
        # graph as fixed32 / fixed64
        "wire_graph_as_fixed32.onnx": vint(1, 7) + key(7, 5) + b"\0\0\0\0" + ld(8, opset),
        "wire_graph_as_fixed64.onnx": vint(1, 7) + key(7, 1) + b"\0" * 8 + ld(8, opset),
        # NodeProto.op_type (string) as varint
        "wire_op_type_as_varint.onnx": vint(1, 7) + ld(7, ld(1, ld(1, b"x") + ld(2, b"y") + vint(4, 3))
                                                         + ld(11, vin) + ld(12, vout)) + ld(8, opset),
        # OperatorSetIdProto.version (varint) as bytes
        "wire_opset_version_as_bytes.onnx": vint(1, 7) + ld(7, graph) + ld(8, ld(1, b"") + ld(2, b"\x0d")),
        # deprecated group wire types (3, 4) and the undefined ones (6, 7)
        "wire_start_group.onnx": good + key(30, 3),
        "wire_end_group.onnx": key(30, 4) + good,
        "wire_type_6.onnx": good + key(30, 6) + b"\0",
        "wire_type_7.onnx": key(5, 7) + good,
        # field number 0 is not a valid protobuf field
        "wire_field_zero.onnx": vint(0, 1) + good,
        # a varint of 11 bytes (more than 10 continuation bytes)
        "wire_overlong_varint.onnx": key(1, 0) + b"\xff" * 10 + b"\x01" + ld(7, graph) + ld(8, opset),
        # length prefix larger than what follows
        "wire_length_past_end.onnx": vint(1, 7) + key(7, 2) + varint(len(graph) + 50) + graph + ld(8, opset),
        # length prefix of 2^63 (would overflow a signed size)
        "wire_length_2e63.onnx": vint(1, 7) + key(7, 2) + varint(1 << 63) + graph,
        # length prefix of 2^64-1
        "wire_length_max.onnx": vint(1, 7) + key(7, 2) + b"\xff" * 9 + b"\x01" + graph,
        # an inner length that runs past its enclosing message
        "wire_inner_length_past_outer.onnx": vint(1, 7) + ld(7, key(1, 2) + varint(len(node) + 20) + node)
                                             + ld(8, opset),
        # a varint cut off at the end of the file
        "wire_truncated_varint.onnx": good + key(1, 0) + b"\x80\x80",
        # a file of 0xff bytes
        "wire_all_ff.onnx": b"\xff" * 64,
        # a text file that is not protobuf
        "wire_text.onnx": b"this is not an ONNX model, just text\n",
        # a fixed64 cut short
        "wire_truncated_fixed64.onnx": good + key(30, 1) + b"\0\0\0",
        # packed TensorProto.dims with a length that is not a whole number of varints
        "wire_bad_packed_dims.onnx": vint(1, 7) + ld(7, graph + ld(5, ld(1, b"\x80") + vint(2, F) + ld(8, b"w")))
                                     + ld(8, opset),
    }
    for name, data in bad.items():
        write_bytes(name, data)
        case(name, "load", "INVALID_MODEL", "protobuf decoding failed")

    # Unknown fields with valid wire types are skipped, as protobuf requires.
    write_bytes("wire_unknown_fields_ok.onnx",
                vint(1, 7) + ld(99, b"future") + vint(100, 12345) + key(101, 5) + b"abcd"
                + ld(7, graph + ld(77, b"x")) + ld(8, opset))
    case("wire_unknown_fields_ok.onnx", "run", "OK", "-", {"x": "in_f32_2.pb"}, expect={"y": "out_relu_2.pb"})
    # Messages nested far beyond any real model (sequence of sequence of ...).
    t = ld(1, vint(1, F))
    for _ in range(300):
        t = ld(4, ld(1, t))
    deep = vint(1, 7) + ld(7, ld(1, node) + ld(11, ld(1, b"x") + ld(2, t)) + ld(12, vout)) + ld(8, opset)
    write_bytes("wire_nested_300_deep.onnx", deep)
    case("wire_nested_300_deep.onnx", "load", "INVALID_MODEL", "nested more than")


# ==== 3. graph structure ========================================================

def structure():
    section("graph", "cycles, dangling names, duplicates, missing initializers")
    x23, y23 = vi("x", F, [2, 3]), vi("y", F, [2, 3])
    n = helper.make_node
    cases_ = {
        "cycle_two_nodes.onnx": model([n("Relu", ["b"], ["a"], name="r1"), n("Add", ["x", "a"], ["b"], name="r2"),
                                       n("Identity", ["b"], ["y"], name="out")], [x23], [y23]),
        "cycle_self_loop.onnx": model([n("Add", ["x", "s"], ["s"], name="self"), n("Identity", ["s"], ["y"])],
                                      [x23], [y23]),
        "cycle_three_nodes.onnx": model([n("Relu", ["c"], ["a"], name="n1"), n("Relu", ["a"], ["b"], name="n2"),
                                         n("Add", ["b", "x"], ["c"], name="n3"), n("Identity", ["x"], ["y"])],
                                        [x23], [y23]),
    }
    for name, m in cases_.items():
        save(name, m)
        case(name, "create", "INVALID_MODEL", "cycle")

    save("dangling_node_input.onnx", model([n("Add", ["x", "nowhere"], ["y"], name="add")], [x23], [y23]))
    case("dangling_node_input.onnx", "create", "INVALID_MODEL", "nowhere")
    save("dangling_graph_output.onnx", model([n("Relu", ["x"], ["r"])], [x23], [y23]))
    case("dangling_graph_output.onnx", "create", "INVALID_MODEL", "'y'")
    save("dangling_mid_chain.onnx", model([n("Relu", ["x"], ["a"]), n("Relu", ["b"], ["c"], name="r2"),
                                           n("Add", ["a", "c"], ["y"])], [x23], [y23]))
    case("dangling_mid_chain.onnx", "create", "INVALID_MODEL", "'b'")
    # a required input left empty (""), which means "omitted" only for optional inputs
    save("dangling_required_omitted.onnx", model([n("Add", ["x", ""], ["y"], name="add")], [x23], [y23]))
    case("dangling_required_omitted.onnx", "create", "INVALID_MODEL", "add")
    # a subgraph reading a name no enclosing graph defines
    then_g = helper.make_graph([n("Identity", ["ghost"], ["t"])], "then", [], [vi("t", F, [2, 3])])
    else_g = helper.make_graph([n("Identity", ["x"], ["e"])], "else", [], [vi("e", F, [2, 3])])
    save("dangling_in_subgraph.onnx",
         model([n("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)],
               [vi("c", TensorProto.BOOL, []), x23], [y23]))
    case("dangling_in_subgraph.onnx", "load", "INVALID_MODEL", "ghost")
    # a cycle inside a subgraph
    then_c = helper.make_graph([n("Relu", ["q"], ["p"]), n("Add", ["p", "x"], ["q"]), n("Identity", ["q"], ["t"])],
                               "then", [], [vi("t", F, [2, 3])])
    save("cycle_in_subgraph.onnx",
         model([n("If", ["c"], ["y"], then_branch=then_c, else_branch=else_g)],
               [vi("c", TensorProto.BOOL, []), x23], [y23]))
    case("cycle_in_subgraph.onnx", "create", "INVALID_MODEL", "cycle")

    # duplicates
    save("dup_node_outputs.onnx", model([n("Relu", ["x"], ["y"], name="a"), n("Neg", ["x"], ["y"], name="b")],
                                        [x23], [y23]))
    case("dup_node_outputs.onnx", "create", "INVALID_MODEL", "'y'")
    save("dup_output_in_one_node.onnx", model([n("Split", ["x"], ["y", "y"], axis=0)], [x23], [vi("y", F, [1, 3])]))
    case("dup_output_in_one_node.onnx", "create", "INVALID_MODEL", "'y'")
    save("dup_node_writes_graph_input.onnx", model([n("Relu", ["x"], ["x"], name="r"), n("Identity", ["x"], ["y"])],
                                                   [x23], [y23]))
    case("dup_node_writes_graph_input.onnx", "create", "INVALID_MODEL", "'r'")
    w = init("w", np.ones((2, 3), np.float32))
    save("dup_node_writes_initializer.onnx", model([n("Relu", ["x"], ["w"], name="r"), n("Add", ["x", "w"], ["y"])],
                                                   [x23], [y23], [w]))
    case("dup_node_writes_initializer.onnx", "create", "INVALID_MODEL", "'w'")
    save("dup_initializer.onnx", model([n("Add", ["x", "w"], ["y"])], [x23], [y23],
                                       [w, init("w", np.zeros((2, 3), np.float32))]))
    case("dup_initializer.onnx", "load", "INVALID_MODEL", "given twice")
    save("dup_graph_input.onnx", model([n("Relu", ["x"], ["y"])], [x23, x23], [y23]))
    case("dup_graph_input.onnx", "load", "INVALID_MODEL", "listed twice")
    # Node names need not be unique in ONNX (ORT accepts it): OK.
    save("dup_node_names_ok.onnx", model([n("Relu", ["x"], ["a"], name="same"), n("Neg", ["a"], ["y"], name="same")],
                                         [x23], [y23]))
    tensor_file("out_dup_names.pb", -np.maximum(np.arange(6, dtype=np.float32).reshape(2, 3) - 2, 0), "y")
    case("dup_node_names_ok.onnx", "run", "OK", "-", {"x": "in_f32_2x3.pb"}, expect={"y": "out_dup_names.pb"})
    # An initializer also listed as a graph input is a constant with a default (ORT): OK.
    save("init_also_input_ok.onnx", model([n("Add", ["x", "w"], ["y"])], [x23, vi("w", F, [2, 3])], [y23], [w]))
    tensor_file("out_plus_one.pb", np.arange(6, dtype=np.float32).reshape(2, 3) - 1, "y")
    case("init_also_input_ok.onnx", "run", "OK", "-", {"x": "in_f32_2x3.pb"}, expect={"y": "out_plus_one.pb"})
    # A graph whose output is its input, no nodes: valid ONNX.
    save("empty_graph_passthrough_ok.onnx", model([], [x23], [x23]))
    tensor_file("out_x_2x3.pb", np.arange(6, dtype=np.float32).reshape(2, 3) - 2, "x")
    case("empty_graph_passthrough_ok.onnx", "run", "OK", "-", {"x": "in_f32_2x3.pb"}, expect={"x": "out_x_2x3.pb"})

    section("missing_init", "weights a node reads that no initializer provides")
    save("missing_init_conv_weight.onnx",
         model([n("Conv", ["x", "W", "B"], ["y"], name="conv", kernel_shape=[3, 3])],
               [vi("x", F, [1, 1, 8, 8])], [vi("y", F, [1, 4, 6, 6])], [init("B", np.zeros(4, np.float32))]))
    case("missing_init_conv_weight.onnx", "create", "INVALID_MODEL", "'W'")
    save("missing_init_gemm_bias.onnx",
         model([n("Gemm", ["x", "W", "C"], ["y"], name="gemm")], [vi("x", F, [2, 3])], [vi("y", F, [2, 4])],
               [init("W", np.ones((3, 4), np.float32))]))
    case("missing_init_gemm_bias.onnx", "create", "INVALID_MODEL", "'C'")
    save("missing_init_reshape_shape.onnx",
         model([n("Reshape", ["x", "shape"], ["y"], name="reshape")], [x23], [vi("y", F, [3, 2])]))
    case("missing_init_reshape_shape.onnx", "create", "INVALID_MODEL", "'shape'")
    # The weight is declared a graph input (old exporters) but has no initializer: the
    # model is valid and the weight must be fed; a run without it is refused.
    save("missing_init_declared_input.onnx",
         model([n("Add", ["x", "w"], ["y"])], [x23, vi("w", F, [2, 3])], [y23]))
    case("missing_init_declared_input.onnx", "run", "INVALID_ARGUMENT", "'w'", {"x": "in_f32_2x3.pb"}, cli="OK")
    # An initializer with no name.
    save("missing_init_name.onnx", model([n("Add", ["x", "w"], ["y"])], [x23], [y23],
                                         [init("", np.ones((2, 3), np.float32))]))
    case("missing_init_name.onnx", "load", "INVALID_MODEL", "no name")
    # A node with no op_type.
    nn = n("Relu", ["x"], ["y"])
    nn.op_type = ""
    save("missing_op_type.onnx", model([nn], [x23], [y23]))
    case("missing_op_type.onnx", "load", "INVALID_MODEL", "no op_type")
    # A graph input with no name.
    save("missing_input_name.onnx", model([n("Relu", ["x"], ["y"])], [x23, vi("", F, [1])], [y23]))
    case("missing_input_name.onnx", "load", "INVALID_MODEL", "no name")


# ==== 4. initializer data vs dims ================================================

def init_size():
    section("init_size", "initializer data that does not match its dims and type")
    x4 = vi("x", F, [4])
    y4 = vi("y", F, [4])
    n = helper.make_node

    def add_with(t, name):
        save(name, model([n("Add", ["x", "w"], ["y"])], [x4], [y4], [t]))

    t = TensorProto(name="w", data_type=F, dims=[4], raw_data=b"\0" * 12)
    add_with(t, "init_raw_too_short.onnx")
    case("init_raw_too_short.onnx", "load", "INVALID_MODEL", "raw_data has 12 bytes")
    t = TensorProto(name="w", data_type=F, dims=[4], raw_data=b"\0" * 20)
    add_with(t, "init_raw_too_long.onnx")
    case("init_raw_too_long.onnx", "load", "INVALID_MODEL", "raw_data has 20 bytes")
    t = TensorProto(name="w", data_type=F, dims=[4], raw_data=b"")
    add_with(t, "init_raw_empty.onnx")
    case("init_raw_empty.onnx", "load", "INVALID_MODEL", "needs")
    t = TensorProto(name="w", data_type=F, dims=[4], float_data=[1, 2, 3])
    add_with(t, "init_float_data_short.onnx")
    case("init_float_data_short.onnx", "load", "INVALID_MODEL", "float_data holds 3 values")
    t = TensorProto(name="w", data_type=F, dims=[4], float_data=[1, 2, 3, 4, 5])
    add_with(t, "init_float_data_long.onnx")
    case("init_float_data_long.onnx", "load", "INVALID_MODEL", "float_data holds 5 values")
    t = TensorProto(name="w", data_type=F, dims=[4])
    add_with(t, "init_no_data.onnx")
    case("init_no_data.onnx", "load", "INVALID_MODEL", "holds 0 values")
    t = TensorProto(name="w", data_type=I64, dims=[4], int64_data=[1, 2])
    save("init_int64_data_short.onnx",
         model([n("Reshape", ["x", "w"], ["y"])], [x4], [vi("y", F, None)], [t]))
    case("init_int64_data_short.onnx", "load", "INVALID_MODEL", "int64_data holds 2 values")
    t = helper.make_tensor("w", F, [2, 2], [1, 2, 3, 4])
    t.dims[0] = -2
    add_with(t, "init_negative_dim.onnx")
    case("init_negative_dim.onnx", "load", "INVALID_MODEL", "negative")
    t = helper.make_tensor("w", F, [4], [1, 2, 3, 4])
    t.data_type = 0
    add_with(t, "init_no_data_type.onnx")
    case("init_no_data_type.onnx", "load", "INVALID_MODEL", "no data type")
    t = helper.make_tensor("w", F, [4], [1, 2, 3, 4])
    t.data_type = 99
    add_with(t, "init_data_type_99.onnx")
    case("init_data_type_99.onnx", "load", "NOT_IMPLEMENTED", "data type 99")
    # float data in the wrong typed field (int64_data for a float tensor)
    t = TensorProto(name="w", data_type=F, dims=[4], int64_data=[1, 2, 3, 4])
    add_with(t, "init_wrong_typed_field.onnx")
    case("init_wrong_typed_field.onnx", "load", "INVALID_MODEL", "float_data holds 0 values")
    # an initializer whose type disagrees with the op (int64 + float)
    add_with(init("w", np.ones(4, np.int64)), "init_dtype_mismatch_op.onnx")
    case("init_dtype_mismatch_op.onnx", "create", "INVALID_MODEL", "Add")
    # an initializer whose shape cannot broadcast with the input
    add_with(init("w", np.ones(3, np.float32)), "init_shape_mismatch_op.onnx")
    case("init_shape_mismatch_op.onnx", "create", "INVALID_MODEL", "broadcast")
    # string tensor with raw_data
    t = TensorProto(name="w", data_type=TensorProto.STRING, dims=[1], raw_data=b"abc")
    save("init_string_raw_data.onnx", model([n("Identity", ["w"], ["y"])], [], [vi("y", TensorProto.STRING, [1])], [t]))
    case("init_string_raw_data.onnx", "load", "INVALID_MODEL", "string_data holds 0 values")
    # Zero-size initializers are valid: [0] and [2,0].
    save("init_zero_size_ok.onnx",
         model([n("Concat", ["x", "w"], ["y"], axis=0)], [x4], [y4], [init("w", np.zeros(0, np.float32))]))
    tensor_file("out_f32_4.pb", np.array([1, 2, 3, 4], np.float32), "y")
    case("init_zero_size_ok.onnx", "run", "OK", "-", {"x": "in_f32_4.pb"}, expect={"y": "out_f32_4.pb"})


# ==== 5. shapes overflowing int64, symbolic conflicts =============================

def shapes():
    section("shape_overflow", "element counts beyond int64 and absurd sizes")
    n = helper.make_node
    big = 1 << 62
    t = TensorProto(name="w", data_type=F, dims=[1 << 32, 1 << 32])
    save("overflow_init_dims.onnx", model([n("Add", ["x", "w"], ["y"])], [vi("x", F, [1])], [vi("y", F, None)], [t]))
    case("overflow_init_dims.onnx", "load", "INVALID_MODEL", "too large")
    t = TensorProto(name="w", data_type=F, dims=[(1 << 63) - 1])
    save("overflow_init_int64_max.onnx",
         model([n("Add", ["x", "w"], ["y"])], [vi("x", F, [1])], [vi("y", F, None)], [t]))
    case("overflow_init_int64_max.onnx", "load", "INVALID_MODEL", "too large")
    t = TensorProto(name="w", data_type=F, dims=[3, 1 << 61, 3])
    save("overflow_init_three_dims.onnx",
         model([n("Add", ["x", "w"], ["y"])], [vi("x", F, [1])], [vi("y", F, None)], [t]))
    case("overflow_init_three_dims.onnx", "load", "INVALID_MODEL", "too large")
    # A declared input shape whose element count overflows: refused when the session is made.
    save("overflow_input_dims.onnx",
         model([n("Relu", ["x"], ["y"])], [vi("x", F, [big, big])], [vi("y", F, [big, big])]))
    case("overflow_input_dims.onnx", "load", "INVALID_MODEL", "'x'")
    # Reshape to a constant shape whose product overflows int64.
    save("overflow_reshape_target.onnx",
         model([n("Reshape", ["x", "s"], ["y"], name="reshape")], [vi("x", F, [4])], [vi("y", F, None)],
               [init("s", np.array([big, 4, 4], np.int64))]))
    case("overflow_reshape_target.onnx", "create", "INVALID_MODEL", "reshape")
    # ConstantOfShape whose product overflows int64.
    save("overflow_constant_of_shape.onnx",
         model([n("ConstantOfShape", ["s"], ["y"], name="cos")], [], [vi("y", F, None)],
               [init("s", np.array([1 << 40, 1 << 40], np.int64))]))
    case("overflow_constant_of_shape.onnx", "create", "INVALID_MODEL", "cos")
    # Expand of a run-time input to a shape whose product overflows int64.
    save("overflow_expand_runtime.onnx",
         model([n("Expand", ["x", "s"], ["y"], name="expand")], [vi("x", F, [1])], [vi("y", F, None)],
               [init("s", np.array([1 << 31, 1 << 31, 1 << 31], np.int64))]))
    case("overflow_expand_runtime.onnx", "create", "INVALID_MODEL", "expand")
    # Tile repeats overflowing int64.
    save("overflow_tile.onnx",
         model([n("Tile", ["x", "r"], ["y"], name="tile")], [vi("x", F, [4])], [vi("y", F, None)],
               [init("r", np.array([big], np.int64))]))
    case("overflow_tile.onnx", "create", "INVALID_MODEL", "tile")
    # 4 TiB of output, no overflow: cannot be allocated; refused without a crash.
    save("huge_constant_of_shape_4tib.onnx",
         model([n("ConstantOfShape", ["s"], ["y"], name="cos")], [], [vi("y", F, None)],
               [init("s", np.array([1 << 20, 1 << 20], np.int64))]))
    case("huge_constant_of_shape_4tib.onnx", "run", "OUT_OF_MEMORY", "4398046511104 bytes")
    # Same at run time, the size coming from an input.
    save("huge_expand_runtime_4tib.onnx",
         model([n("Expand", ["x", "s"], ["y"], name="expand")], [vi("x", F, [1]), vi("s", I64, ["R"])],
               [vi("y", F, None)]))
    tensor_file("in_shape_huge.pb", np.array([1 << 20, 1 << 20], np.int64), "s")
    tensor_file("in_f32_1.pb", np.array([1], np.float32), "x")
    case("huge_expand_runtime_4tib.onnx", "run", "OUT_OF_MEMORY", "-", {"x": "in_f32_1.pb", "s": "in_shape_huge.pb"})
    # Same, the shape overflowing int64.
    tensor_file("in_shape_overflow.pb", np.array([1 << 31, 1 << 31, 1 << 31], np.int64), "s")
    case("huge_expand_runtime_4tib.onnx", "run", "INVALID_ARGUMENT", "expand",
         {"x": "in_f32_1.pb", "s": "in_shape_overflow.pb"})
    # A declared dim that is negative.
    save("negative_declared_dim.onnx", model([n("Relu", ["x"], ["y"])], [vi("x", F, [-3])], [vi("y", F, [3])]))
    case("negative_declared_dim.onnx", "load", "INVALID_MODEL", "negative")

    section("symbolic", "symbolic-dim conflicts and inconsistent declarations")
    save("sym_add_n.onnx", model([n("Add", ["x", "y"], ["z"])], [vi("x", F, ["N"]), vi("y", F, ["N"])],
                                 [vi("z", F, ["N"])]))
    tensor_file("in_y_4.pb", np.ones(4, np.float32), "y")
    case("sym_add_n.onnx", "run", "INVALID_ARGUMENT", "N", {"x": "in_f32_3.pb", "y": "in_y_4.pb"})
    tensor_file("in_y_3.pb", np.ones(3, np.float32), "y")
    tensor_file("out_sym_add.pb", np.array([2, 3, 4], np.float32), "z")
    case("sym_add_n.onnx", "run", "OK", "-", {"x": "in_f32_3.pb", "y": "in_y_3.pb"}, expect={"z": "out_sym_add.pb"})
    save("sym_square.onnx", model([n("Relu", ["x"], ["y"])], [vi("x", F, ["N", "N"])], [vi("y", F, ["N", "N"])]))
    case("sym_square.onnx", "run", "INVALID_ARGUMENT", "N", {"x": "in_f32_2x3.pb"})
    case("sym_square.onnx", "run", "OK", "-", {"x": "in_f32_3x3.pb"})
    # N bound to 2 by x, and y declared [N] with a static 3 in the same model
    save("sym_vs_static.onnx", model([n("MatMul", ["x", "w"], ["y"])], [vi("x", F, ["B", "K"])],
                                     [vi("y", F, ["B", 2])], [init("w", np.ones((3, 2), np.float32))]))
    case("sym_vs_static.onnx", "run", "INVALID_ARGUMENT", "MatMul", {"x": "in_f32_2x2.pb"})
    # an output declared float that the graph makes int64 (ORT: type error)
    save("decl_output_wrong_dtype.onnx", model([n("Shape", ["x"], ["y"])], [vi("x", F, [2, 3])], [vi("y", F, [2])]))
    case("decl_output_wrong_dtype.onnx", "create", "INVALID_MODEL", "'y'", {"x": "in_f32_2x3.pb"})
    # an output declared with a rank the graph cannot give
    save("decl_output_wrong_rank.onnx", model([n("Relu", ["x"], ["y"])], [vi("x", F, [2, 3])], [vi("y", F, [2, 3, 4])]))
    case("decl_output_wrong_rank.onnx", "create", "INVALID_MODEL", "'y'", {"x": "in_f32_2x3.pb"})
    # an input declared with a type onyx has no kernel for under Relu (string)
    save("decl_input_string_relu.onnx",
         model([n("Relu", ["x"], ["y"])], [vi("x", TensorProto.STRING, [2])], [vi("y", TensorProto.STRING, [2])]))
    tensor_file("in_str_2.pb", np.array([b"a", b"b"], object), "x")
    case("decl_input_string_relu.onnx", "create", "INVALID_MODEL", "Relu", {"x": "in_str_2.pb"})


# ==== 6. external data ===============================================================

def external():
    section("external", "external data escaping the folder, past the end, malformed")
    write_bytes("ext_weights.bin", np.arange(16, dtype=np.float32).tobytes())   # 64 bytes
    n = helper.make_node

    def ext_model(name, entries, dims=(4,), dt=F):
        t = TensorProto(name="w", data_type=dt, dims=list(dims))
        t.data_location = TensorProto.EXTERNAL
        for k, v in entries:
            e = t.external_data.add()
            e.key, e.value = k, v
        shape = list(dims) if len(dims) == 1 and dims[0] < 1 << 20 else None
        save(name, model([n("Add", ["x", "w"], ["y"])], [vi("x", dt, [1])], [vi("y", dt, shape)], [t]))

    ext_model("ext_ok.onnx", [("location", "ext_weights.bin"), ("offset", "16"), ("length", "16")])
    tensor_file("out_ext_ok.pb", np.array([5, 6, 7, 8], np.float32), "y")
    tensor_file("in_f32_1.pb", np.array([1], np.float32), "x")
    case("ext_ok.onnx", "run", "OK", "-", {"x": "in_f32_1.pb"}, expect={"y": "out_ext_ok.pb"})
    ext_model("ext_parent_dir.onnx", [("location", "../manifest.txt")])
    case("ext_parent_dir.onnx", "load", "INVALID_MODEL", "inside the model's folder")
    ext_model("ext_absolute.onnx", [("location", "/etc/passwd")])
    case("ext_absolute.onnx", "load", "INVALID_MODEL", "inside the model's folder")
    ext_model("ext_dotdot_inside.onnx", [("location", "nodir/../../manifest.txt")])
    case("ext_dotdot_inside.onnx", "load", "INVALID_MODEL", "inside the model's folder")
    ext_model("ext_deep_escape.onnx", [("location", "../../../../../../../../../../etc/hostname")])
    case("ext_deep_escape.onnx", "load", "INVALID_MODEL", "inside the model's folder")
    # A symlink inside the folder that leads outside it.
    link = os.path.join(CASES, "ext_link_outside.bin")
    if os.path.lexists(link) and os.readlink(link) != "../README.md":
        os.remove(link)
    if not os.path.lexists(link):
        os.symlink("../README.md", link)
    written.add("ext_link_outside.bin")
    ext_model("ext_symlink_escape.onnx", [("location", "ext_link_outside.bin"), ("length", "16")])
    case("ext_symlink_escape.onnx", "load", "INVALID_MODEL", "resolves outside the model's folder")
    ext_model("ext_offset_past_end.onnx", [("location", "ext_weights.bin"), ("offset", "100"), ("length", "16")])
    case("ext_offset_past_end.onnx", "load", "INVALID_MODEL", "exceeds")
    ext_model("ext_length_past_end.onnx", [("location", "ext_weights.bin"), ("offset", "56"), ("length", "16")])
    case("ext_length_past_end.onnx", "load", "INVALID_MODEL", "exceeds")
    ext_model("ext_offset_overflow.onnx",
              [("location", "ext_weights.bin"), ("offset", str((1 << 63) - 8)), ("length", "16")])
    case("ext_offset_overflow.onnx", "load", "INVALID_MODEL", "exceeds")
    ext_model("ext_offset_not_number.onnx", [("location", "ext_weights.bin"), ("offset", "12abc")])
    case("ext_offset_not_number.onnx", "load", "INVALID_MODEL", "not a byte count")
    ext_model("ext_offset_negative.onnx", [("location", "ext_weights.bin"), ("offset", "-16"), ("length", "16")])
    case("ext_offset_negative.onnx", "load", "INVALID_MODEL", "not a byte count")
    ext_model("ext_length_too_big_number.onnx",
              [("location", "ext_weights.bin"), ("length", "99999999999999999999999")])
    case("ext_length_too_big_number.onnx", "load", "INVALID_MODEL", "not a byte count")
    ext_model("ext_length_wrong_for_shape.onnx", [("location", "ext_weights.bin"), ("length", "12")])
    case("ext_length_wrong_for_shape.onnx", "load", "INVALID_MODEL", "the shape needs 16")
    ext_model("ext_whole_file_wrong_size.onnx", [("location", "ext_weights.bin")])
    case("ext_whole_file_wrong_size.onnx", "load", "INVALID_MODEL", "the shape needs 16")
    ext_model("ext_no_location.onnx", [("offset", "0"), ("length", "16")])
    case("ext_no_location.onnx", "load", "INVALID_MODEL", "without a location")
    ext_model("ext_empty_location.onnx", [("location", ""), ("length", "16")])
    case("ext_empty_location.onnx", "load", "INVALID_MODEL", "without a location")
    ext_model("ext_missing_file.onnx", [("location", "no_such_weights.bin"), ("length", "16")])
    case("ext_missing_file.onnx", "load", "NOT_FOUND", "no_such_weights.bin")
    ext_model("ext_location_is_folder.onnx", [("location", "."), ("length", "16")])
    case("ext_location_is_folder.onnx", "load", "INVALID_MODEL", "-")
    ext_model("ext_string_tensor.onnx", [("location", "ext_weights.bin")], dt=TensorProto.STRING)
    case("ext_string_tensor.onnx", "load", "INVALID_MODEL", "string tensors cannot use external data")
    # 2^40 bytes declared (float [2^38]) against a 64-byte file: refused before any allocation.
    ext_model("ext_length_2e40.onnx", [("location", "ext_weights.bin"), ("length", str(1 << 40))], dims=(1 << 38,))
    case("ext_length_2e40.onnx", "load", "INVALID_MODEL", "exceeds")

    section("huge", "multi-GB and TB models as sparse files made at test time (not checked in)")
    # The .onnx is checked in; the sparse file it names is created next to a
    # copy of it in a temporary folder by the tests (manifest option sparse=).
    def huge(name, bin_name, length, dims, offset=0, indices=True):
        t = TensorProto(name="w", data_type=F, dims=list(dims))
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", bin_name), ("offset", str(offset)), ("length", str(length))):
            e = t.external_data.add()
            e.key, e.value = k, v
        save(name, model([n("Gather", ["w", "i"], ["y"], name="gather", axis=0)], [vi("i", I64, [1])],
                         [vi("y", F, [1] + list(dims[1:]))], [t]))

    tensor_file("out_f32_zero1.pb", np.zeros(1, np.float32), "y")
    # A 1 TiB embedding table in a sparse file: mapped, not read; a lookup reads a page.
    huge("huge_sparse_1tib.onnx", "huge_sparse_1tib.bin", 1 << 40, [1 << 38])
    case("huge_sparse_1tib.onnx", "run", "OK", "-", {"i": "in_i64_1.pb"}, expect={"y": "out_f32_zero1.pb"},
         sparse="huge_sparse_1tib.bin:1099511627776")
    # The declared range runs 4 KiB past the end of a 1 TiB sparse file.
    huge("huge_sparse_short.onnx", "huge_sparse_short.bin", 1 << 40, [1 << 38], offset=4096)
    case("huge_sparse_short.onnx", "load", "INVALID_MODEL", "exceeds", sparse="huge_sparse_short.bin:1099511627776")
    # Offset not page-aligned (cannot be borrowed from the mapping): a runtime
    # that copies it must refuse the 1 TiB allocation cleanly, not crash.
    huge("huge_sparse_unaligned.onnx", "huge_sparse_unaligned.bin", 1 << 40, [1 << 38], offset=4)
    case("huge_sparse_unaligned.onnx", "load", "OUT_OF_MEMORY", "-", sparse="huge_sparse_unaligned.bin:1099511627780")
    # 6 GiB (more than fits in 32 bits) in a sparse file, [3*2^29] floats.
    huge("huge_sparse_6gib.onnx", "huge_sparse_6gib.bin", 6 << 30, [3 << 29])
    case("huge_sparse_6gib.onnx", "run", "OK", "-", {"i": "in_i64_1.pb"}, expect={"y": "out_f32_zero1.pb"},
         sparse="huge_sparse_6gib.bin:6442450944")


# ==== 7. opsets and domains ==========================================================

def opsets():
    section("opset", "unsupported, future, missing and invalid opset imports; unknown domains and ops")
    n = helper.make_node
    x, y = vi("x", F, [2, 3]), vi("y", F, [2, 3])
    relu = [n("Relu", ["x"], ["y"], name="relu")]
    save("opset_ai_onnx_99.onnx", model(relu, [x], [y], opset=99))
    case("opset_ai_onnx_99.onnx", "load", "NOT_IMPLEMENTED", "opset 99")
    save("opset_ai_onnx_named_99.onnx", model(relu, [x], [y], opsets=[helper.make_opsetid("ai.onnx", 99)]))
    case("opset_ai_onnx_named_99.onnx", "load", "NOT_IMPLEMENTED", "opset 99")
    save("opset_zero.onnx", model(relu, [x], [y], opset=0))
    case("opset_zero.onnx", "load", "INVALID_MODEL", "opset 0")
    save("opset_negative.onnx", model(relu, [x], [y], opset=-5))
    case("opset_negative.onnx", "load", "INVALID_MODEL", "-5")
    save("opset_huge_version.onnx", model(relu, [x], [y], opsets=[helper.make_opsetid("", 13),
                                                                  helper.make_opsetid("com.example", 1 << 40)]))
    case("opset_huge_version.onnx", "load", "INVALID_MODEL", "out of range")
    save("opset_missing.onnx", model(relu, [x], [y], opsets=[]))
    case("opset_missing.onnx", "load", "INVALID_MODEL", "imports no opset")
    m = model(relu, [x], [y])
    m.opset_import[0].ClearField("version")
    save("opset_no_version.onnx", m)
    case("opset_no_version.onnx", "load", "INVALID_MODEL", "has no version")
    save("opset_unknown_domain.onnx",
         model([n("Frobnicate", ["x"], ["y"], domain="com.example", name="frob")], [x], [y],
               opsets=[helper.make_opsetid("", 13), helper.make_opsetid("com.example", 1)]))
    case("opset_unknown_domain.onnx", "load", "NOT_IMPLEMENTED", "com.example")
    save("opset_unknown_domain_not_imported.onnx",
         model([n("Frobnicate", ["x"], ["y"], domain="com.example", name="frob")], [x], [y]))
    case("opset_unknown_domain_not_imported.onnx", "load", "NOT_IMPLEMENTED", "com.example")
    save("opset_ml_domain_not_imported.onnx",
         model([n("Normalizer", ["x"], ["y"], domain="ai.onnx.ml", name="norm")], [x], [y]))
    case("opset_ml_domain_not_imported.onnx", "load", "INVALID_MODEL", "imports no opset")
    save("op_unknown_in_ai_onnx.onnx", model([n("NoSuchOp", ["x"], ["y"], name="nso")], [x], [y]))
    case("op_unknown_in_ai_onnx.onnx", "create", "NOT_IMPLEMENTED", "NoSuchOp")
    # Gelu exists since opset 20; at opset 13 there is no such operator (ORT: no Op registered).
    save("op_newer_than_opset.onnx", model([n("Gelu", ["x"], ["y"], name="gelu")], [x], [y]))
    case("op_newer_than_opset.onnx", "create", "INVALID_MODEL", "Gelu", {"x": "in_f32_2x3.pb"})
    # An op removed in later opsets (Upsample deprecated at 10) used at opset 13.
    save("op_removed_in_opset.onnx",
         model([n("Upsample", ["x", "s"], ["y"], name="up")], [vi("x", F, [1, 1, 2, 2])], [vi("y", F, [1, 1, 4, 4])],
               [init("s", np.array([1, 1, 2, 2], np.float32))]))
    tensor_file("in_f32_1x1x2x2.pb", np.ones((1, 1, 2, 2), np.float32), "x")
    case("op_removed_in_opset.onnx", "create", "INVALID_MODEL", "Upsample", {"x": "in_f32_1x1x2x2.pb"})
    # IR version newer than onyx reads, or none (ORT: "Unknown model file format version" for both). onyx
    # refuses them when the session is made (onyx_model_check); onyx_model_load reads any header so that
    # `onyx inspect` can still show it.
    m = relu_2x3()
    m.ir_version = 99
    save("ir_version_99.onnx", m)
    case("ir_version_99.onnx", "create", "NOT_IMPLEMENTED", "IR version 99", {"x": "in_f32_2x3.pb"})
    m = relu_2x3()
    m.ClearField("ir_version")
    save("ir_version_missing.onnx", m)
    case("ir_version_missing.onnx", "create", "INVALID_MODEL", "IR version", {"x": "in_f32_2x3.pb"})


# ==== 8. op arity =====================================================================

def arity():
    section("arity", "ops with wrong input/output counts")
    n = helper.make_node
    x, y = vi("x", F, [2, 3]), vi("y", F, [2, 3])
    bad = {
        "arity_relu_two_inputs.onnx": ([n("Relu", ["x", "x"], ["y"], name="op")], []),
        "arity_relu_no_input.onnx": ([n("Relu", [], ["y"], name="op")], []),
        "arity_add_one_input.onnx": ([n("Add", ["x"], ["y"], name="op")], []),
        "arity_add_three_inputs.onnx": ([n("Add", ["x", "x", "x"], ["y"], name="op")], []),
        "arity_relu_two_outputs.onnx": ([n("Relu", ["x"], ["y", "z"], name="op")], []),
        "arity_relu_no_output.onnx": ([n("Relu", ["x"], [], name="op"), n("Identity", ["x"], ["y"])], []),
        "arity_gemm_four_inputs.onnx": ([n("Gemm", ["x", "w", "c", "c"], ["y"], name="op")],
                                        [init("w", np.ones((3, 3), np.float32)), init("c", np.ones(3, np.float32))]),
        "arity_conv_one_input.onnx": ([n("Conv", ["x"], ["y"], name="op")], []),
        "arity_batchnorm_three_inputs.onnx": ([n("BatchNormalization", ["x", "s", "s"], ["y"], name="op")],
                                              [init("s", np.ones(3, np.float32))]),
        "arity_dropout_three_outputs.onnx": ([n("Dropout", ["x"], ["y", "m", "z"], name="op")], []),
        "arity_concat_no_inputs.onnx": ([n("Concat", [], ["y"], name="op", axis=0)], []),
    }
    for name, (nodes, inits) in bad.items():
        save(name, model(nodes, [x], [y], inits))
        case(name, "create", "INVALID_MODEL", "'op'", {"x": "in_f32_2x3.pb"})
    # Optional inputs omitted with "" are fine (Clip without min, with max).
    save("arity_clip_omitted_optional_ok.onnx",
         model([n("Clip", ["x", "", "mx"], ["y"], name="op")], [x], [y], [init("mx", np.array(1, np.float32))]))
    tensor_file("out_clip.pb", np.minimum(np.arange(6, dtype=np.float32).reshape(2, 3) - 2, 1), "y")
    case("arity_clip_omitted_optional_ok.onnx", "run", "OK", "-", {"x": "in_f32_2x3.pb"}, expect={"y": "out_clip.pb"})
    # Trailing optional output omitted with "" is fine too (Dropout mask).
    save("arity_dropout_omitted_mask_ok.onnx", model([n("Dropout", ["x"], ["y", ""], name="op")], [x], [y]))
    case("arity_dropout_omitted_mask_ok.onnx", "run", "OK", "-", {"x": "in_f32_2x3.pb"}, expect={"y": "out_x_2x3.pb"})


# ==== 9. attributes ====================================================================

def attributes():
    section("attr", "attributes of the wrong type, missing or out of range")
    n = helper.make_node
    x4, y4 = vi("x", F, [1, 1, 4, 4]), vi("y", F, None)
    x, y = vi("x", F, [2, 3]), vi("y", F, None)

    def with_attr(opname, inputs, a, inits=(), xin=x, **kw):
        nd = n(opname, inputs, ["y"], name="op", **kw)
        if a is not None:
            nd.attribute.append(a)
        return model([nd], [xin], [y4], list(inits))

    A = helper.make_attribute
    ks_float = A("kernel_shape", [3.0, 3.0])
    bad = {
        "attr_conv_kernel_shape_floats.onnx": with_attr("Conv", ["x", "w"], ks_float,
                                                        [init("w", np.ones((1, 1, 3, 3), np.float32))], x4),
        "attr_transpose_perm_string.onnx": with_attr("Transpose", ["x"], A("perm", "1,0")),
        "attr_gemm_alpha_ints.onnx": with_attr("Gemm", ["x", "w"], A("alpha", [1, 2]),
                                               [init("w", np.ones((3, 2), np.float32))]),
        "attr_flatten_axis_float.onnx": with_attr("Flatten", ["x"], A("axis", 1.5)),
        "attr_leakyrelu_alpha_string.onnx": with_attr("LeakyRelu", ["x"], A("alpha", "0.1")),
        "attr_softmax_axis_graph.onnx": with_attr(
            "Softmax", ["x"], A("axis", helper.make_graph([], "g", [], []))),
        "attr_concat_axis_missing.onnx": model([n("Concat", ["x", "x"], ["y"], name="op")], [x], [y]),
        "attr_softmax_axis_out_of_range.onnx": with_attr("Softmax", ["x"], A("axis", 5)),
        "attr_transpose_perm_wrong_length.onnx": with_attr("Transpose", ["x"], A("perm", [0, 1, 2])),
        "attr_transpose_perm_repeated.onnx": with_attr("Transpose", ["x"], A("perm", [0, 0])),
        "attr_cast_to_99.onnx": with_attr("Cast", ["x"], A("to", 99)),
        "attr_maxpool_kernel_zero.onnx": with_attr("MaxPool", ["x"], A("kernel_shape", [0, 0]), xin=x4),
        "attr_conv_strides_negative.onnx": with_attr("Conv", ["x", "w"], A("strides", [-1, -1]),
                                                     [init("w", np.ones((1, 1, 3, 3), np.float32))], x4),
        "attr_split_sizes_wrong_sum.onnx": model([n("Split", ["x", "s"], ["y", "z"], name="op", axis=1)],
                                                 [x], [y, vi("z", F, None)], [init("s", np.array([1, 5], np.int64))]),
    }
    for name, m in bad.items():
        save(name, m)
        xin = "in_f32_1x1x4x4.pb" if m.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 1 else "in_f32_2x3.pb"
        case(name, "create", "INVALID_MODEL", "'op'", {"x": xin})
    # AttributeProto.type says INT but the value is in f; and a type number that does not exist.
    a = A("axis", 1)
    a.ClearField("i")
    a.f = 1.0
    save("attr_type_field_mismatch.onnx", with_attr("Flatten", ["x"], a))
    case("attr_type_field_mismatch.onnx", "load", "INVALID_MODEL", "'axis'", {"x": "in_f32_2x3.pb"})
    # (python's protobuf refuses an unknown enum value: patch the bytes, type INT -> 99)
    data = with_attr("Flatten", ["x"], A("axis", 1)).SerializeToString()
    assert data.count(b"\xa0\x01\x02") == 1
    save("attr_type_99.onnx", data.replace(b"\xa0\x01\x02", b"\xa0\x01\x63"))
    case("attr_type_99.onnx", "load", "INVALID_MODEL", "no valid type")
    a = onnx.AttributeProto()
    a.name = "axis"
    save("attr_type_undefined_no_value.onnx", with_attr("Flatten", ["x"], a))
    case("attr_type_undefined_no_value.onnx", "load", "INVALID_MODEL", "no valid type")
    a = A("alpha", 1.0)
    a.name = ""
    save("attr_no_name.onnx", with_attr("LeakyRelu", ["x"], a))
    case("attr_no_name.onnx", "load", "INVALID_MODEL", "without a name")
    # An attribute the op does not define: ORT refuses ("Unrecognized attribute").
    save("attr_unknown_name.onnx", with_attr("Relu", ["x"], A("frobnication", 3)))
    case("attr_unknown_name.onnx", "create", "INVALID_MODEL", "frobnication", {"x": "in_f32_2x3.pb"})


# ==== 10. run-time inputs ==================================================================

def runtime():
    section("run_inputs", "inputs of wrong name, dtype, rank, shape, count")
    n = helper.make_node
    save("rt_add_2x3.onnx", model([n("Add", ["x", "y"], ["z"], name="add")], [vi("x", F, [2, 3]), vi("y", F, [2, 3])],
                                  [vi("z", F, [2, 3])]))
    ok = {"x": "in_f32_2x3.pb", "y": "in_f32_2x3_b.pb"}
    tensor_file("out_add_2x3.pb", np.arange(6, dtype=np.float32).reshape(2, 3) - 1, "z")
    case("rt_add_2x3.onnx", "run", "OK", "-", ok, expect={"z": "out_add_2x3.pb"})
    case("rt_add_2x3.onnx", "run", "INVALID_ARGUMENT", "'q'", {"x": "in_f32_2x3.pb", "y": "in_f32_2x3_b.pb",
                                                         "q": "in_f32_2x3.pb"})
    case("rt_add_2x3.onnx", "run", "INVALID_ARGUMENT", "'X'", {"X": "in_f32_2x3.pb", "y": "in_f32_2x3_b.pb"})
    case("rt_add_2x3.onnx", "run", "INVALID_ARGUMENT", "'y'", {"x": "in_f32_2x3.pb"}, cli="OK")
    case("rt_add_2x3.onnx", "run", "INVALID_ARGUMENT", "'x'", {"x": "in_f64_2x3.pb", "y": "in_f32_2x3_b.pb"})
    case("rt_add_2x3.onnx", "run", "INVALID_ARGUMENT", "'x'", {"x": "in_i64_2x3.pb", "y": "in_f32_2x3_b.pb"})
    case("rt_add_2x3.onnx", "run", "INVALID_ARGUMENT", "'y'", {"x": "in_f32_2x3.pb", "y": "in_i32_2x3.pb"})
    case("rt_add_2x3.onnx", "run", "INVALID_ARGUMENT", "'x'", {"x": "in_f32_6.pb", "y": "in_f32_2x3_b.pb"})
    case("rt_add_2x3.onnx", "run", "INVALID_ARGUMENT", "'x'", {"x": "in_f32_1x2x3.pb", "y": "in_f32_2x3_b.pb"})
    case("rt_add_2x3.onnx", "run", "INVALID_ARGUMENT", "'x'", {"x": "in_f32_3x2.pb", "y": "in_f32_2x3_b.pb"})
    case("rt_add_2x3.onnx", "run", "INVALID_ARGUMENT", "'x'", {"x": "in_f32_scalar.pb", "y": "in_f32_2x3_b.pb"})
    case("rt_add_2x3.onnx", "run", "INVALID_ARGUMENT", "'x'", {"x": "in_f32_0x3.pb", "y": "in_f32_2x3_b.pb"})
    # digits CNN: wrong channel count, wrong spatial size, rank 3, int input
    save("rt_digits.onnx", open(DIGITS, "rb").read())
    tensor_file("in_digits_2ch.pb", np.zeros((1, 2, 8, 8), np.float32), "input")
    tensor_file("in_digits_7x7.pb", np.zeros((1, 1, 7, 7), np.float32), "input")
    tensor_file("in_digits_rank3.pb", np.zeros((1, 8, 8), np.float32), "input")
    tensor_file("in_digits_int.pb", np.zeros((1, 1, 8, 8), np.int64), "input")
    case("rt_digits.onnx", "run", "INVALID_ARGUMENT", "'input'", {"input": "in_digits_2ch.pb"})
    case("rt_digits.onnx", "run", "INVALID_ARGUMENT", "'input'", {"input": "in_digits_7x7.pb"})
    case("rt_digits.onnx", "run", "INVALID_ARGUMENT", "'input'", {"input": "in_digits_rank3.pb"})
    case("rt_digits.onnx", "run", "INVALID_ARGUMENT", "'input'", {"input": "in_digits_int.pb"})
    case("rt_digits.onnx", "run", "OK", "-", {"input": "in_digits_2.pb"})
    # Gather index out of range: a run-time data error (ORT: INVALID_ARGUMENT).
    save("rt_gather.onnx", model([n("Gather", ["x", "i"], ["y"], name="gather", axis=0)],
                                 [vi("x", F, [4]), vi("i", I64, [1])], [vi("y", F, [1])]))
    tensor_file("in_i64_oob.pb", np.array([7], np.int64), "i")
    tensor_file("in_i64_neg.pb", np.array([-1], np.int64), "i")
    tensor_file("out_gather_last.pb", np.array([4], np.float32), "y")
    case("rt_gather.onnx", "run", "INVALID_ARGUMENT", "gather", {"x": "in_f32_4.pb", "i": "in_i64_oob.pb"})
    case("rt_gather.onnx", "run", "OK", "-", {"x": "in_f32_4.pb", "i": "in_i64_neg.pb"},
         expect={"y": "out_gather_last.pb"})
    # Reshape to a shape from an input with the wrong element count.
    save("rt_reshape.onnx", model([n("Reshape", ["x", "s"], ["y"], name="reshape")],
                                  [vi("x", F, [6]), vi("s", I64, [2])], [vi("y", F, None)]))
    tensor_file("in_shape_4x2.pb", np.array([4, 2], np.int64), "s")
    tensor_file("in_shape_neg2.pb", np.array([-1, -1], np.int64), "s")
    case("rt_reshape.onnx", "run", "INVALID_ARGUMENT", "reshape", {"x": "in_f32_6.pb", "s": "in_shape_4x2.pb"})
    case("rt_reshape.onnx", "run", "INVALID_ARGUMENT", "reshape", {"x": "in_f32_6.pb", "s": "in_shape_neg2.pb"})

    section("nan_inf", "NaN and Inf inputs: they run, and NaN/Inf propagate as IEEE says")
    nan, inf = np.float32("nan"), np.float32("inf")
    xs = np.array([nan, inf, -inf, 0, 1, -1], np.float32)
    tensor_file("in_naninf.pb", xs, "x")

    def unary(op, out, name=None, **kw):
        fname = name or f"nan_{op.lower()}.onnx"
        save(fname, model([n(op, ["x"], ["y"], **kw)], [vi("x", F, [6])], [vi("y", F, [6])]))
        oname = tensor_file("out_" + fname.replace(".onnx", ".pb"), np.asarray(out, np.float32), "y")
        case(fname, "run", "OK", "-", {"x": "in_naninf.pb"}, expect={"y": oname})

    with np.errstate(all="ignore"):
        unary("Relu", [nan, inf, 0, 0, 1, 0])
        unary("Neg", -xs)
        unary("Abs", np.abs(xs))
        unary("Sqrt", np.sqrt(xs))
        unary("Exp", np.exp(xs))
        unary("Log", np.log(xs))
        unary("Sigmoid", 1 / (1 + np.exp(-xs)))
        unary("Tanh", np.tanh(xs))
        unary("Floor", np.floor(xs))
        unary("Reciprocal", 1 / xs)
        unary("Sign", [nan, 1, -1, 0, 1, -1])
        unary("Identity", xs)
        save("nan_add.onnx", model([n("Add", ["x", "x"], ["y"])], [vi("x", F, [6])], [vi("y", F, [6])]))
        tensor_file("out_nan_add.pb", xs + xs, "y")
        case("nan_add.onnx", "run", "OK", "-", {"x": "in_naninf.pb"}, expect={"y": "out_nan_add.pb"})
        save("nan_mul_zero.onnx", model([n("Mul", ["x", "z"], ["y"])], [vi("x", F, [6])], [vi("y", F, [6])],
                                        [init("z", np.zeros(6, np.float32))]))
        tensor_file("out_nan_mul_zero.pb", xs * 0, "y")
        case("nan_mul_zero.onnx", "run", "OK", "-", {"x": "in_naninf.pb"}, expect={"y": "out_nan_mul_zero.pb"})
        save("nan_div_by_x.onnx", model([n("Div", ["o", "x"], ["y"])], [vi("x", F, [6])], [vi("y", F, [6])],
                                        [init("o", np.ones(6, np.float32))]))
        tensor_file("out_nan_div.pb", 1 / xs, "y")
        case("nan_div_by_x.onnx", "run", "OK", "-", {"x": "in_naninf.pb"}, expect={"y": "out_nan_div.pb"})
        save("nan_sub_self.onnx", model([n("Sub", ["x", "x"], ["y"])], [vi("x", F, [6])], [vi("y", F, [6])]))
        tensor_file("out_nan_sub.pb", xs - xs, "y")
        case("nan_sub_self.onnx", "run", "OK", "-", {"x": "in_naninf.pb"}, expect={"y": "out_nan_sub.pb"})
        # Softmax of a row with NaN is all NaN; of a row with +Inf is NaN where the exp overflows
        save("nan_softmax.onnx", model([n("Softmax", ["x"], ["y"], axis=1)], [vi("x", F, [2, 3])],
                                       [vi("y", F, [2, 3])]))
        tensor_file("in_softmax_nan.pb", np.array([[nan, 1, 2], [0, 0, 0]], np.float32), "x")
        tensor_file("out_softmax_nan.pb", np.array([[nan, nan, nan], [1 / 3, 1 / 3, 1 / 3]], np.float32), "y")
        case("nan_softmax.onnx", "run", "OK", "-", {"x": "in_softmax_nan.pb"}, expect={"y": "out_softmax_nan.pb"})
        save("nan_matmul.onnx", model([n("MatMul", ["x", "w"], ["y"])], [vi("x", F, [2, 2])], [vi("y", F, [2, 2])],
                                      [init("w", np.eye(2, dtype=np.float32))]))
        tensor_file("in_matmul_nan.pb", np.array([[nan, 1], [2, 3]], np.float32), "x")
        tensor_file("out_matmul_nan.pb", np.array([[nan, nan], [2, 3]], np.float32), "y")
        case("nan_matmul.onnx", "run", "OK", "-", {"x": "in_matmul_nan.pb"}, expect={"y": "out_matmul_nan.pb"})
        save("nan_reducesum.onnx", model([n("ReduceSum", ["x", "ax"], ["y"], keepdims=0)], [vi("x", F, [2, 3])],
                                         [vi("y", F, [2])], [init("ax", np.array([1], np.int64))]))
        tensor_file("in_reduce_nan.pb", np.array([[nan, 1, 2], [inf, 1, 2]], np.float32), "x")
        tensor_file("out_reduce_nan.pb", np.array([nan, inf], np.float32), "y")
        case("nan_reducesum.onnx", "run", "OK", "-", {"x": "in_reduce_nan.pb"}, expect={"y": "out_reduce_nan.pb"})
        # The whole digits CNN fed NaN: it runs (values unspecified after MaxPool).
        tensor_file("in_digits_nan.pb", np.full((1, 1, 8, 8), nan, np.float32), "input")
        case("rt_digits.onnx", "run", "OK", "-", {"input": "in_digits_nan.pb"})
        tensor_file("in_digits_inf.pb", np.full((1, 1, 8, 8), inf, np.float32), "input")
        case("rt_digits.onnx", "run", "OK", "-", {"input": "in_digits_inf.pb"})
        # Conv with a NaN in the input makes NaN in every output it touches.
        save("nan_conv.onnx", model([n("Conv", ["x", "w"], ["y"], kernel_shape=[1, 1])], [vi("x", F, [1, 1, 2, 2])],
                                    [vi("y", F, [1, 1, 2, 2])], [init("w", np.full((1, 1, 1, 1), 2, np.float32))]))
        tensor_file("in_conv_nan.pb", np.array([[[[nan, 1], [inf, -inf]]]], np.float32), "x")
        tensor_file("out_conv_nan.pb", np.array([[[[nan, 2], [inf, -inf]]]], np.float32), "y")
        case("nan_conv.onnx", "run", "OK", "-", {"x": "in_conv_nan.pb"}, expect={"y": "out_conv_nan.pb"})

    section("empty", "empty tensors and zero-size dims, where ONNX allows them")
    sym = lambda op, **kw: model([n(op, ["x"], ["y"], **kw)], [vi("x", F, ["N", 3])], [vi("y", F, None)])
    tensor_file("out_f32_0x3.pb", np.zeros((0, 3), np.float32), "y")
    for op in ("Relu", "Sigmoid", "Neg", "Identity"):
        name = f"empty_{op.lower()}.onnx"
        save(name, sym(op))
        case(name, "run", "OK", "-", {"x": "in_f32_0x3.pb"}, expect={"y": "out_f32_0x3.pb"})
    save("empty_softmax.onnx", sym("Softmax", axis=1))
    case("empty_softmax.onnx", "run", "OK", "-", {"x": "in_f32_0x3.pb"}, expect={"y": "out_f32_0x3.pb"})
    save("empty_transpose.onnx", sym("Transpose", perm=[1, 0]))
    tensor_file("out_f32_3x0.pb", np.zeros((3, 0), np.float32), "y")
    case("empty_transpose.onnx", "run", "OK", "-", {"x": "in_f32_0x3.pb"}, expect={"y": "out_f32_3x0.pb"})
    save("empty_add_broadcast.onnx", model([n("Add", ["x", "y"], ["z"])], [vi("x", F, ["N", 3]), vi("y", F, [1, 3])],
                                           [vi("z", F, None)]))
    tensor_file("out_z_0x3.pb", np.zeros((0, 3), np.float32), "z")
    case("empty_add_broadcast.onnx", "run", "OK", "-", {"x": "in_f32_0x3.pb", "y": "in_f32_1x3.pb"},
         expect={"z": "out_z_0x3.pb"})
    # [2,0] x [0,3] is a [2,3] of zeros
    save("empty_matmul_inner.onnx", model([n("MatMul", ["x", "w"], ["y"])], [vi("x", F, [2, "K"])],
                                          [vi("y", F, None)], [init("w", np.zeros((0, 3), np.float32))]))
    tensor_file("in_f32_2x0.pb", np.zeros((2, 0), np.float32), "x")
    tensor_file("out_f32_2x3_zero.pb", np.zeros((2, 3), np.float32), "y")
    case("empty_matmul_inner.onnx", "run", "OK", "-", {"x": "in_f32_2x0.pb"}, expect={"y": "out_f32_2x3_zero.pb"})
    save("empty_reducesum.onnx", model([n("ReduceSum", ["x", "ax"], ["y"], keepdims=0)], [vi("x", F, ["N", 3])],
                                       [vi("y", F, None)], [init("ax", np.array([0], np.int64))]))
    tensor_file("out_f32_zero3.pb", np.zeros(3, np.float32), "y")
    case("empty_reducesum.onnx", "run", "OK", "-", {"x": "in_f32_0x3.pb"}, expect={"y": "out_f32_zero3.pb"})
    save("empty_concat.onnx", model([n("Concat", ["x", "y"], ["z"], axis=0)], [vi("x", F, ["N", 3]),
                                                                             vi("y", F, [1, 3])], [vi("z", F, None)]))
    tensor_file("out_concat_empty.pb", np.array([[1, -2, 3]], np.float32), "z")
    case("empty_concat.onnx", "run", "OK", "-", {"x": "in_f32_0x3.pb", "y": "in_f32_1x3.pb"},
         expect={"z": "out_concat_empty.pb"})
    # [0,3] -> [3,-1]: the -1 is 0 elements / 3 = 0
    save("empty_reshape.onnx", model([n("Reshape", ["x", "s"], ["y"])], [vi("x", F, ["N", 3])], [vi("y", F, None)],
                                     [init("s", np.array([3, -1], np.int64))]))
    case("empty_reshape.onnx", "run", "OK", "-", {"x": "in_f32_0x3.pb"}, expect={"y": "out_f32_3x0.pb"})
    # [0,3] -> [3,0] with allowzero=0: the 0 copies the input's dim 1 (3), so [3,3]: 9 elements from 0
    save("empty_reshape_copy_dim.onnx", model([n("Reshape", ["x", "s"], ["y"], name="reshape")], [vi("x", F, ["N", 3])],
                                              [vi("y", F, None)], [init("s", np.array([3, 0], np.int64))]))
    case("empty_reshape_copy_dim.onnx", "run", "INVALID_ARGUMENT", "reshape", {"x": "in_f32_0x3.pb"})
    save("empty_gather_indices.onnx", model([n("Gather", ["x", "i"], ["y"], axis=0)],
                                            [vi("x", F, [4]), vi("i", I64, ["K"])], [vi("y", F, None)]))
    tensor_file("in_i64_empty.pb", np.zeros(0, np.int64), "i")
    tensor_file("out_f32_empty.pb", np.zeros(0, np.float32), "y")
    case("empty_gather_indices.onnx", "run", "OK", "-", {"x": "in_f32_4.pb", "i": "in_i64_empty.pb"},
         expect={"y": "out_f32_empty.pb"})
    tensor_file("in_digits_0.pb", np.zeros((0, 1, 8, 8), np.float32), "input")
    tensor_file("out_digits_0.pb", np.zeros((0, 10), np.float32), "logits")
    case("rt_digits.onnx", "run", "OK", "-", {"input": "in_digits_0.pb"}, expect={"logits": "out_digits_0.pb"})
    save("empty_conv_batch.onnx", model([n("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])],
                                        [vi("x", F, ["N", 1, 4, 4])], [vi("y", F, None)],
                                        [init("w", np.ones((2, 1, 3, 3), np.float32))]))
    tensor_file("in_f32_0x1x4x4.pb", np.zeros((0, 1, 4, 4), np.float32), "x")
    tensor_file("out_f32_0x2x4x4.pb", np.zeros((0, 2, 4, 4), np.float32), "y")
    case("empty_conv_batch.onnx", "run", "OK", "-", {"x": "in_f32_0x1x4x4.pb"}, expect={"y": "out_f32_0x2x4x4.pb"})
    # A static zero-size dim declared in the model.
    save("empty_static_dim.onnx", model([n("Relu", ["x"], ["y"])], [vi("x", F, [0, 3])], [vi("y", F, [0, 3])]))
    case("empty_static_dim.onnx", "run", "OK", "-", {"x": "in_f32_0x3.pb"}, expect={"y": "out_f32_0x3.pb"})


def main():
    os.makedirs(CASES, exist_ok=True)
    common_inputs()
    truncated()
    wire()
    structure()
    init_size()
    shapes()
    external()
    opsets()
    arity()
    attributes()
    runtime()
    assert not BUGS, f"bug notes for cases that no longer exist: {sorted(BUGS)}"
    for f in sorted(os.listdir(CASES)):
        if f not in written:
            os.remove(os.path.join(CASES, f))
    total = sum(counts.values())
    head = [
        "# manifest.txt — onyx's malformed-input corpus (issue #20). Generated by",
        "# make_corpus.py; edit that, not this. Format (README.md):",
        "#   <file> <stage> <code> <fragment> [<inputs>|- [<option>...]] [bug: <reason>]",
        "# stage: load | create | run; code: an onyx_code_name() name or OK;",
        "# fragment: text the error message must contain (\"...\" when it has spaces, - for none);",
        "# inputs: name=file.pb,... ; options: expect=name=file.pb,...  cli=<CODE>  sparse=<file>:<bytes>",
        f"# {total} cases: " + ", ".join(f"{k} {v}" for k, v in counts.items()),
    ]
    text = "\n".join(head + entries) + "\n"
    path = os.path.join(HERE, "manifest.txt")
    if not os.path.exists(path) or open(path).read() != text:
        open(path, "w").write(text)
    print(f"{total} cases in {len(written)} files:", ", ".join(f"{k} {v}" for k, v in counts.items()))


if __name__ == "__main__":
    sys.exit(main())
