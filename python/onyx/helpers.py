"""Convenience classes in the shape of the project's test plan helpers:
ONNXQuantizer (a model path in, quantized model paths out) and GraphOptimizer
(named optimization groups over onyx's passes). They are thin wrappers over
onyx.quantization and onyx.optimizer."""
import os
import tempfile

from . import optimizer, quantization
from .quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType
from .session import InferenceSession


class _ListReader(CalibrationDataReader):
    """Feeds samples from an iterable of input dicts, or of arrays for a
    one-input model."""

    def __init__(self, samples, input_name):
        self._it = iter(samples)
        self._name = input_name

    def get_next(self):
        sample = next(self._it, None)
        if sample is None or isinstance(sample, dict):
            return sample
        return {self._name: sample}


class ONNXQuantizer:
    """Quantizes one model: quantize_dynamic(...) and quantize_static(...)
    each write a new file into output_dir (default: a temporary folder kept
    for the object's life) and return its path; last_report holds the
    QuantReport."""

    def __init__(self, model_path, output_dir=None):
        self.model_path = os.fspath(model_path)
        if output_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="onyx-quant-")
            output_dir = self._tmp.name
        self.output_dir = os.fspath(output_dir)
        self.last_report = None
        self._count = 0

    def _out(self, tag):
        self._count += 1
        base = os.path.splitext(os.path.basename(self.model_path))[0]
        return os.path.join(self.output_dir, "%s.%s.%d.onnx" % (base, tag, self._count))

    def quantize_dynamic(self, weight_type=QuantType.QInt8, per_channel=False, **kwargs):
        out = self._out("dynamic")
        self.last_report = quantization.quantize_dynamic(self.model_path, out, weight_type=weight_type,
                                                         per_channel=per_channel, **kwargs)
        return out

    def quantize_static(self, calibration_data, calibration_method=CalibrationMethod.MinMax,
                        quant_format=QuantFormat.QDQ, per_channel=False, **kwargs):
        if isinstance(calibration_data, CalibrationDataReader):
            reader = calibration_data
        else:
            first_input = InferenceSession(self.model_path, providers=["CPUExecutionProvider"]).get_inputs()[0].name
            reader = _ListReader(calibration_data, first_input)
        out = self._out("static")
        self.last_report = quantization.quantize_static(self.model_path, out, reader, quant_format=quant_format,
                                                        per_channel=per_channel,
                                                        calibrate_method=calibration_method, **kwargs)
        return out


# The plan's optimization names, as groups of onyx passes.
GROUPS = {
    "constant_folding": ["constant_folding", "shape_folding", "subgraph_constants"],
    "dead_code_elimination": ["dead_code", "noop_elimination"],
    "common_subexpression_elimination": ["common_subexpression"],
    "node_fusion": ["conv_bn_folding", "conv_mul_add_folding", "matmul_add_to_gemm", "qdq_fusion",
                    "dynamic_quant_matmul_fusion", "dequantize_folding", "gelu_fusion", "layer_norm_fusion",
                    "skip_layer_norm_fusion", "attention_fusion", "conv_activation_fusion",
                    "gemm_activation_fusion", "matmul_bias_activation_fusion"],
    "memory_optimizer": ["memory_order"],
}


class GraphOptimizer:
    """optimize(model, names) runs the named optimizations (the groups in
    GROUPS, or onyx pass names) and returns the optimized model's bytes;
    last_stats holds what each pass did."""

    def __init__(self, level=3):
        self.level = level
        self.last_stats = None

    def optimize(self, model, optimizations=None):
        passes = None
        if optimizations is not None:
            known = set(optimizer.available_passes())
            passes = []
            for name in optimizations:
                group = GROUPS.get(name, [name] if name in known else None)
                if group is None:
                    raise ValueError("unknown optimization '%s' (groups: %s; passes: %s)"
                                     % (name, ", ".join(GROUPS), ", ".join(sorted(known))))
                passes += [p for p in group if p not in passes]
        data, self.last_stats = optimizer.optimize_model(model, level=self.level, passes=passes, return_stats=True)
        return data
