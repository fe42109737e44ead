"""The exception classes where ORT scripts import them from
(onnxruntime.capi.onnxruntime_pybind11_state). InvalidModel, onyx's error for
malformed and inconsistent models, is both an InvalidProtobuf and an
InvalidGraph."""
from .._onyx import (EngineError, EPFail, Fail, InvalidArgument, InvalidGraph, InvalidModel,  # noqa: F401
                     InvalidProtobuf, ModelLoaded, NoModel, NoSuchFile, NotImplemented, OnyxError,
                     RuntimeException)
