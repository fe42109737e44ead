"""onyx: an ONNX inference runtime, with ONNX Runtime's Python API.

    import onyx as ort
    sess = ort.InferenceSession("model.onnx", providers=["CPUExecutionProvider"])
    logits, = sess.run(None, {"input": x})

Submodules as in onnxruntime: onyx.quantization (quantize_dynamic,
quantize_static), onyx.capi.onnxruntime_pybind11_state (the exceptions); and
onyx's own: onyx.optimizer (the graph optimizer's passes) and the helpers
ONNXQuantizer and GraphOptimizer.
"""
from . import _onyx
from ._onyx import (EngineError, EPFail, Fail, InvalidArgument, InvalidGraph, InvalidModel,  # noqa: F401
                    InvalidProtobuf, ModelLoaded, NoModel, NoSuchFile, NotImplemented, OnyxError,
                    RuntimeException)
from . import capi, optimizer, quantization  # noqa: F401
from .helpers import GraphOptimizer, ONNXQuantizer  # noqa: F401
from .session import (ExecutionMode, GraphOptimizationLevel, InferenceSession, IOBinding, ModelMetadata,  # noqa: F401
                      NodeArg, OrtValue, RunOptions, SessionOptions, get_all_providers, get_available_providers,
                      get_device, set_default_logger_severity)

__version__ = _onyx.version
SessionIOBinding = IOBinding


def get_build_info():
    """The libraries this build runs on and their versions."""
    return "onyx %s: %s" % (__version__, _onyx.library_versions())
