"""onnxruntime.quantization's entry points over onyx's C quantizer.

quantize_dynamic and quantize_static take ORT's arguments and defaults and
write a model ORT also runs (QDQ or QOperator). Calibration samples stream
from the CalibrationDataReader into the C quantizer one get_next() at a time.
Both return a QuantReport (ORT returns None): sizes before and after and what
happened to each node.
"""
import enum
import os
import tempfile
import warnings

from .. import _onyx


class QuantType(enum.Enum):
    QInt8 = 0
    QUInt8 = 1
    QFLOAT8E4M3FN = 2
    QInt16 = 3
    QUInt16 = 4
    QInt4 = 5
    QUInt4 = 6

    def __str__(self):
        return self.name


class QuantFormat(enum.Enum):
    QOperator = 0
    QDQ = 1

    def __str__(self):
        return self.name


class CalibrationMethod(enum.Enum):
    MinMax = 0
    Entropy = 1
    Percentile = 2
    Distribution = 3


class CalibrationDataReader:
    """Supplies calibration samples: get_next() returns {input name: array}
    for the next sample, or None when there are no more."""

    def get_next(self):
        raise NotImplementedError

    def __iter__(self):
        return self

    def __next__(self):
        item = self.get_next()
        if item is None:
            raise StopIteration
        return item


class QuantReport:
    """What a quantization did: bytes_before/bytes_after (files),
    weight_bytes_before/weight_bytes_after (initializer data), bn_folded,
    calibration_samples, calibrated_tensors, and nodes: [{name, op_type,
    quantized, note}] per node of the float model."""

    def __init__(self, d):
        self.__dict__.update(d)

    @property
    def size_reduction(self):
        """Fraction of the file's bytes the quantization saved."""
        return 1.0 - self.bytes_after / self.bytes_before if self.bytes_before else 0.0

    def __repr__(self):
        return ("QuantReport(%d -> %d bytes, weights %d -> %d, %d/%d nodes quantized)"
                % (self.bytes_before, self.bytes_after, self.weight_bytes_before, self.weight_bytes_after,
                   sum(1 for n in self.nodes if n["quantized"]), len(self.nodes)))


_TYPES = {QuantType.QInt8: "QInt8", QuantType.QUInt8: "QUInt8"}
# extra_options onyx acts on (ORT's names); the others are accepted with a warning
_EXTRA = ("ActivationSymmetric", "WeightSymmetric", "CalibPercentile")


def _type_name(t, what):
    if t not in _TYPES:
        raise _onyx.NotImplemented("%s %s: onyx quantizes to QInt8 and QUInt8" % (what, t))
    return _TYPES[t]


def _flag(v):
    return "1" if v else "0"


def _names(v):
    return ",".join(v) if v else None


class _ModelFile:
    """A path to the model: its own, or a temporary file for a ModelProto
    or bytes."""

    def __init__(self, model):
        self.tmp = None
        if isinstance(model, (str, os.PathLike)):
            self.path = os.fspath(model)
            return
        data = model.SerializeToString() if hasattr(model, "SerializeToString") else bytes(model)
        fd, self.tmp = tempfile.mkstemp(suffix=".onnx")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        self.path = self.tmp

    def __enter__(self):
        return self.path

    def __exit__(self, *exc):
        if self.tmp:
            os.unlink(self.tmp)


def _options(mode, op_types_to_quantize, per_channel, reduce_range, weight_type, nodes_to_quantize,
             nodes_to_exclude, extra_options):
    opts = [("mode", mode), ("weight_type", _type_name(weight_type, "weight_type")),
            ("per_channel", _flag(per_channel)), ("reduce_range", _flag(reduce_range))]
    for key, value in (("op_types_to_quantize", _names(op_types_to_quantize)),
                       ("nodes_to_quantize", _names(nodes_to_quantize)),
                       ("nodes_to_exclude", _names(nodes_to_exclude))):
        if value is not None:
            opts.append((key, value))
    for k, v in (extra_options or {}).items():
        if k in _EXTRA:
            opts.append((k, _flag(v) if isinstance(v, bool) else str(v)))
        else:
            warnings.warn("onyx's quantizer ignores extra option '%s'" % k, stacklevel=3)
    return opts


def quantize_dynamic(model_input, model_output, op_types_to_quantize=None, per_channel=False, reduce_range=False,
                     weight_type=QuantType.QInt8, nodes_to_quantize=None, nodes_to_exclude=None,
                     use_external_data_format=False, extra_options=None):
    """Weights to INT8 now, activations quantized at run time (ORT's
    quantize_dynamic)."""
    opts = _options("dynamic", op_types_to_quantize, per_channel, reduce_range, weight_type, nodes_to_quantize,
                    nodes_to_exclude, extra_options)
    with _ModelFile(model_input) as path:
        return QuantReport(_onyx.quantize(path, os.fspath(model_output), opts, None))


def quantize_static(model_input, model_output, calibration_data_reader, quant_format=QuantFormat.QDQ,
                    op_types_to_quantize=None, per_channel=False, reduce_range=False,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, nodes_to_quantize=None,
                    nodes_to_exclude=None, use_external_data_format=False, calibrate_method=CalibrationMethod.MinMax,
                    calibration_providers=None, extra_options=None):
    """Weights and activations to INT8 with ranges calibrated on the
    reader's samples (ORT's quantize_static)."""
    if calibrate_method == CalibrationMethod.Distribution:
        raise _onyx.NotImplemented("calibrate_method Distribution: onyx calibrates with MinMax, Entropy or "
                                   "Percentile")
    if calibration_data_reader is None:
        raise _onyx.InvalidArgument("quantize_static needs a calibration_data_reader")
    opts = _options("static", op_types_to_quantize, per_channel, reduce_range, weight_type, nodes_to_quantize,
                    nodes_to_exclude, extra_options)
    opts += [("quant_format", quant_format.name), ("activation_type", _type_name(activation_type, "activation_type")),
             ("calibrate_method", calibrate_method.name)]
    with _ModelFile(model_input) as path:
        return QuantReport(_onyx.quantize(path, os.fspath(model_output), opts, calibration_data_reader))


__all__ = ["QuantType", "QuantFormat", "CalibrationMethod", "CalibrationDataReader", "QuantReport",
           "quantize_dynamic", "quantize_static"]
