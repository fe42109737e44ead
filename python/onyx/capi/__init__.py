"""ORT's onnxruntime.capi namespace, for scripts that import from it."""
from . import onnxruntime_pybind11_state  # noqa: F401
