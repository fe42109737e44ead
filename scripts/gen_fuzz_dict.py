#!/usr/bin/env python3
"""gen_fuzz_dict.py — writes tests/fuzz/onnx.dict, the libFuzzer dictionary of
the ONNX fuzz targets (scripts/fuzz.sh): the protobuf tags of fields 1..23 in
the varint, length-delimited and fixed32 wire types, the op names onyx knows
(src/ops/defs/*.def), and common attribute names and extreme varints.
Run it again when operators are added: /usr/bin/python3 scripts/gen_fuzz_dict.py"""
import glob
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def varint(v):
    out = b""
    while True:
        b, v = v & 0x7F, v >> 7
        out += bytes([b | (0x80 if v else 0)])
        if not v:
            return out


def main():
    lines = ["# onnx.dict — libFuzzer dictionary for the ONNX targets, written by",
             "# scripts/gen_fuzz_dict.py (protobuf tags, onyx's op names, attribute names)."]
    for field in range(1, 24):
        for wire in (0, 2, 5):
            t = varint(field << 3 | wire)
            lines.append('tag_%s="%s"' % (t.hex(), "".join("\\x%02x" % b for b in t)))
    ops = set()
    for path in glob.glob(os.path.join(ROOT, "src", "ops", "defs", "*.def")):
        ops.update(re.findall(r"OP\(\s*[A-Z_]+\s*,\s*(\w+)\s*,", open(path).read()))
    lines += ['op_%s="%s"' % (o, o) for o in sorted(ops)]
    words = ["axis", "axes", "keepdims", "perm", "kernel_shape", "strides", "pads", "dilations", "group", "alpha",
             "beta", "transA", "transB", "to", "mode", "value", "epsilon", "split", "num_outputs", "ai.onnx",
             "ai.onyx", "com.microsoft"]
    lines += ['word_%s="%s"' % (w.replace(".", "_"), w) for w in words]
    for i, v in enumerate((2**63 - 1, 2**64 - 1, 2**31, 2**32)):
        lines.append('varint_%d="%s"' % (i, "".join("\\x%02x" % b for b in varint(v))))
    with open(os.path.join(ROOT, "tests", "fuzz", "onnx.dict"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
