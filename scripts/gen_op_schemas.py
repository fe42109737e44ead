#!/usr/bin/python3
"""gen_op_schemas.py — writes src/ops/onnx_schemas.inc, ONNX's operator schemas as a C table.

src/ops/validate.c checks every node of an ONNX domain against the schema in
force at the model's opset: that the operator exists at that opset (and was not
removed), its input and output counts, which inputs may be omitted, its
attribute names, types and required flags, and the element types its type
constraints allow. This script takes all of that from ONNX's own schemas
(onnx.defs.get_all_schemas_with_history) so that the table is never written by
hand.

Run with Debian's Python, which has the onnx package:
    /usr/bin/python3 scripts/gen_op_schemas.py
The output is deterministic; rerun it when the system's onnx changes.

The table is complete only up to the opset of the onnx package that made it
(ONNX_SCHEMAS_OPSET in the output). Operators added in later opsets that onyx
may meet (it loads models up to ai.onnx opset 21) are listed below with the
opset that introduced them: validate.c refuses them at an older opset, and
checks nothing else about a node whose opset is newer than the table.
"""
import os
import sys

import onnx
import onnx.defs
from onnx import TensorProto

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "src", "ops", "onnx_schemas.inc")

# Domains whose schemas are written; ai.onnx.preview.training is left out
# (onyx refuses that domain when it loads a model).
DOMAINS = ("", "ai.onnx.ml")

# ai.onnx operators introduced after onnx 1.12 (opset 17), up to opset 21:
# name -> the opset that introduced it (ONNX's docs/Changelog.md).
NEWER_OPS = {
    "BitwiseAnd": 18, "BitwiseNot": 18, "BitwiseOr": 18, "BitwiseXor": 18, "CenterCropPad": 18,
    "Col2Im": 18, "GroupNormalization": 18, "Mish": 18,
    "DeformConv": 19,
    "AffineGrid": 20, "Gelu": 20, "ImageDecoder": 20, "RegexFullMatch": 20, "StringConcat": 20,
    "StringSplit": 20,
}

OPTION = {
    onnx.defs.OpSchema.FormalParameterOption.Single: "P_SINGLE",
    onnx.defs.OpSchema.FormalParameterOption.Optional: "P_OPTIONAL",
    onnx.defs.OpSchema.FormalParameterOption.Variadic: "P_VARIADIC",
}

INT_MAX = 2147483647


def dtype_bit(type_str):
    """Bit (1 << TensorProto data type) for "tensor(float)", 0 for other kinds."""
    if not type_str.startswith("tensor(") or not type_str.endswith(")"):
        return 0
    return 1 << TensorProto.DataType.Value(type_str[len("tensor("):-1].upper())


def param(schema, p):
    """One formal parameter: name, option, type variable (1-based index of its
    type constraint when every element binds it, else 0), tensor dtype mask."""
    names = [tc.type_param_str for tc in schema.type_constraints]
    assert len(names) <= 16, schema.name  # validate.c's MAX_TYPE_VARS
    if p.typeStr in names:
        tc = schema.type_constraints[names.index(p.typeStr)]
        mask = 0
        for t in tc.allowed_type_strs:
            mask |= dtype_bit(t)
        tv = names.index(p.typeStr) + 1 if p.isHomogeneous else 0
    else:
        mask, tv = dtype_bit(p.typeStr), 0
    return '{"%s", %s, %d, 0x%xu}' % (p.name, OPTION[p.option], tv, mask)


def params(schema, plist):
    if not plist:
        return "0, NULL"
    return "%d, (const schema_param[]){%s}" % (len(plist), ", ".join(param(schema, p) for p in plist))


def attrs(schema):
    items = sorted(schema.attributes.items())
    if not items:
        return "0, NULL"
    body = ", ".join('{"%s", %d, %d}' % (k, int(a.type), int(a.required)) for k, a in items)
    return "%d, (const schema_attr[]){%s}" % (len(items), body)


def clamp(n):
    return min(n, INT_MAX)


def entry(s):
    return '  {"%s", "%s", %d, %s, %d, %d, %d, %d,\n   %s,\n   %s,\n   %s},' % (
        s.domain, s.name, s.since_version, "SCHEMA_DEPRECATED" if s.deprecated else "0", s.min_input,
        clamp(s.max_input), s.min_output, clamp(s.max_output), params(s, s.inputs), params(s, s.outputs), attrs(s))


def main():
    schemas = [s for s in onnx.defs.get_all_schemas_with_history() if s.domain in DOMAINS]
    table_opset = {d: max(s.since_version for s in schemas if s.domain == d) for d in DOMAINS}
    table_opset[""] = onnx.defs.onnx_opset_version()
    body = {(s.domain, s.name, s.since_version): entry(s) for s in schemas}
    for name, since in NEWER_OPS.items():
        assert not any(k[0] == "" and k[1] == name for k in body), \
            f"{name} is in onnx {onnx.__version__}: drop it from NEWER_OPS"
        assert since > table_opset[""], name
        body[("", name, since)] = ('  {"", "%s", %d, SCHEMA_INTRODUCED_ONLY, 0, 0, 0, 0, 0, NULL, 0, NULL, 0, NULL},'
                                   % (name, since))
    lines = [
        "/* onnx_schemas.inc — ONNX's operator schemas for src/ops/validate.c. GENERATED: do not edit.",
        " *",
        f" * Made by scripts/gen_op_schemas.py from onnx {onnx.__version__} (ai.onnx opset {table_opset['']},",
        f" * ai.onnx.ml opset {table_opset['ai.onnx.ml']}), onnx.defs.get_all_schemas_with_history(), plus",
        " * the operators added to ai.onnx up to opset 21 (entries with SCHEMA_INTRODUCED_ONLY: only the",
        " * opset that introduced them is known). Sorted by domain, name and since-version (validate.c",
        " * searches it). Each entry: domain, name, since, flags, min/max inputs, min/max outputs, formal",
        " * inputs, formal outputs ({name, option, type variable, tensor dtype mask}), attributes",
        " * ({name, type, required}). */",
        "",
        "static const schema_domain schema_domains[] = {",
    ]
    lines += ['  {"%s", %d},' % (d, table_opset[d]) for d in DOMAINS]
    lines += ["};", "", "static const onnx_schema onnx_schemas[] = {"]
    lines += [body[k] for k in sorted(body)]
    lines.append("};")
    out = "\n".join(lines) + "\n"
    old = open(OUT).read() if os.path.exists(OUT) else None
    if old != out:
        with open(OUT, "w") as f:
            f.write(out)
    print(f"{OUT}: {len(body)} schemas (onnx {onnx.__version__})", file=sys.stderr)


if __name__ == "__main__":
    main()
