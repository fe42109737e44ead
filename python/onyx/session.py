"""ONNX Runtime's session API over onyx: InferenceSession, SessionOptions,
RunOptions, IOBinding, OrtValue, NodeArg and ModelMetadata.

The classes keep ORT's names, signatures and defaults so that scripts written
for ``import onnxruntime as ort`` run with ``import onyx as ort``. They hold
settings in Python and hand them to the C core (``onyx._onyx``) when a session
is made; ``run`` is one C call. Providers go by ORT's names or onyx's:
CPUExecutionProvider = cpu, DnnlExecutionProvider = dnnl, CUDAExecutionProvider
= cuda, TensorrtExecutionProvider = engine (onyx's own ahead-of-time GPU
engine stands in for TensorRT). Where onyx differs from ORT it says so in the
docstring.
"""
import enum
import os
import time
import warnings

from . import _onyx

# ORT's provider names <-> onyx's; names neither knows (the test-only
# simulated device "simdev") pass through unchanged.
_ORT_TO_ONYX = {
    "TensorrtExecutionProvider": "engine",
    "CUDAExecutionProvider": "cuda",
    "DnnlExecutionProvider": "dnnl",
    "CPUExecutionProvider": "cpu",
}
_ONYX_TO_ORT = {v: k for k, v in _ORT_TO_ONYX.items()}

# ORT provider-option keys with another name in onyx (engine: TensorRT's trt_*
# keys), and ORT keys onyx accepts without acting on them (with a warning).
_OPTION_KEYS = {
    "engine": {
        "trt_fp16_enable": "fp16",
        "trt_int8_enable": "int8",
        "trt_engine_cache_enable": "engine_cache_enable",
        "trt_engine_cache_path": "engine_cache_path",
        "trt_timing_cache_enable": "timing_cache_enable",
        "trt_timing_cache_path": "timing_cache_path",
        "trt_max_workspace_size": "max_workspace_size",
        "trt_builder_optimization_level": "builder_optimization_level",
        "trt_profile_min_shapes": "profile_min_shapes",
        "trt_profile_opt_shapes": "profile_opt_shapes",
        "trt_profile_max_shapes": "profile_max_shapes",
    },
}
_IGNORED_OPTION_KEYS = {
    "cuda": {"do_copy_in_default_stream", "cudnn_conv_use_max_workspace", "cudnn_conv1d_pad_to_nc1d"},
    "dnnl": {"use_arena"},
    "cpu": {"use_arena"},
}
# ORT's graph transformer names (InferenceSession's disabled_optimizers)
# and the onyx passes that do their work.
_ORT_PASSES = {
    "ConstantFolding": ["constant_folding", "shape_folding"],
    "CommonSubexpressionElimination": ["common_subexpression"],
    "EliminateIdentity": ["noop_elimination"],
    "EliminateDropout": ["noop_elimination"],
    "NoopElimination": ["noop_elimination"],
    "ConvBNFusion": ["conv_bn_folding"],
    "ConvAddFusion": ["conv_mul_add_folding"],
    "ConvMulFusion": ["conv_mul_add_folding"],
    "MatMulAddFusion": ["matmul_add_to_gemm"],
    "ConvActivationFusion": ["conv_activation_fusion"],
    "GemmActivationFusion": ["gemm_activation_fusion"],
    "MatMulBiasActivationFusion": ["matmul_bias_activation_fusion"],
    "GeluFusion": ["gelu_fusion"],
    "BiasGeluFusion": ["gelu_fusion"],
    "LayerNormFusion": ["layer_norm_fusion"],
    "SimplifiedLayerNormFusion": ["layer_norm_fusion"],
    "SkipLayerNormFusion": ["skip_layer_norm_fusion"],
    "AttentionFusion": ["attention_fusion"],
    "QDQFinalCleanupTransformer": ["dequantize_folding"],
    "QDQSelectorActionTransformer": ["qdq_fusion"],
    "DynamicQuantizeMatMulFusion": ["dynamic_quant_matmul_fusion"],
}


def _onyx_passes(names):
    """onyx pass names for a disabled_optimizers list that may use ORT's
    transformer names; names neither knows are ignored with a warning (ORT
    ignores them silently)."""
    known = set(_onyx.optimizer_passes().split(","))
    out = []
    for n in names:
        for p in _ORT_PASSES.get(n, [n] if n in known else []):
            if p not in out:
                out.append(p)
        if n not in _ORT_PASSES and n not in known:
            warnings.warn("onyx has no optimizer '%s' to disable" % n, stacklevel=3)
    return out


# Session config keys onyx acts on; ORT accepts any key, and so does onyx,
# warning about the ones it ignores.
_CONFIG_KEYS = ("session.thread_affinity", "session.intra_op_thread_affinities", "session.numa_node")


def _onyx_name(name):
    return _ORT_TO_ONYX.get(name, name)


def _ort_name(name):
    return _ONYX_TO_ORT.get(name, name)


def get_all_providers():
    """Every provider onyx knows, by ORT's names, in default priority order."""
    return list(_ORT_TO_ONYX)


def get_available_providers():
    """The providers built in and usable on this machine, by ORT's names, in
    default priority order (a GPU provider without a GPU is not listed)."""
    return [_ort_name(p) for p in _onyx.available_providers().split(",") if p]


def get_device():
    """"GPU" when the cuda provider can run here, else "CPU" (as ORT's
    build flavours report it)."""
    return "GPU" if "cuda" in _onyx.available_providers().split(",") else "CPU"


def set_default_logger_severity(level):
    """Process-wide log threshold, ORT's scale: 0 verbose, 1 info, 2 warning,
    3 error, 4 fatal (onyx: nothing)."""
    _onyx.set_log_level(int(level))


class GraphOptimizationLevel(enum.IntEnum):
    ORT_DISABLE_ALL = 0
    ORT_ENABLE_BASIC = 1
    ORT_ENABLE_EXTENDED = 2
    ORT_ENABLE_ALL = 99


class ExecutionMode(enum.IntEnum):
    """onyx runs a graph's nodes in order, each node parallel inside
    (intra-op); ORT_PARALLEL is accepted and runs the same way."""
    ORT_SEQUENTIAL = 0
    ORT_PARALLEL = 1


def _opt_level(level):
    level = int(level)
    if level < 0:
        raise _onyx.InvalidArgument("graph_optimization_level must be >= 0, got %d" % level)
    return min(level, 3)   # ORT_ENABLE_ALL is 99, onyx's all is 3


class SessionOptions:
    """ORT's SessionOptions. Settings take effect when a session is made.

    onyx extras: set_passes / disable_passes (onyx's pass names, see
    onyx.optimizer.available_passes()) and add_custom_pass (a pass written in
    Python)."""

    def __init__(self):
        self.graph_optimization_level = GraphOptimizationLevel.ORT_ENABLE_ALL
        self.intra_op_num_threads = 0
        self.inter_op_num_threads = 0
        self.execution_mode = ExecutionMode.ORT_SEQUENTIAL
        self.optimized_model_filepath = ""
        self.enable_profiling = False
        self.profile_file_prefix = "onnxruntime_profile_"
        self.log_severity_level = 2
        self.log_verbosity_level = 0
        self.logid = ""
        self.enable_cpu_mem_arena = True
        self.enable_mem_pattern = True
        self.enable_mem_reuse = True
        self.use_deterministic_compute = False
        self._config = {}
        self._passes = None
        self._disabled = None
        self._custom_passes = []
        self._instances = []

    def add_session_config_entry(self, key, value):
        self._config[str(key)] = str(value)

    def get_session_config_entry(self, key):
        if key not in self._config:
            raise _onyx.InvalidArgument("SessionOptions has no config entry '%s'" % key)
        return self._config[key]

    def set_passes(self, names):
        """Runs only these optimizer passes (onyx's names)."""
        self._passes = list(names) if names is not None else None

    def disable_passes(self, names):
        """Skips these optimizer passes (ORT's disabled_optimizers, onyx's names)."""
        self._disabled = list(names) if names is not None else None

    def add_custom_pass(self, name, level, fn, op_types=None):
        """Registers fn(graph) -> number of changes as pass `name` at `level`
        (1..3), run after the built-in passes of its level until it reports 0.
        graph: node_count(), node(i) -> dict, bypass_node(i)."""
        ops = ",".join(op_types) if op_types else None
        self._custom_passes.append((str(name), int(level), ops, fn))

    def register_custom_ops_library(self, path):
        raise _onyx.NotImplemented("custom operator libraries are ORT's C++ ABI; onyx cannot load '%s'" % path)

    def _add_provider_instance(self, device, name="simdev"):
        """Test builds: makes a provider instance (onyx._onyx.SimDevice)
        selectable by its name in the providers list."""
        self._instances.append((name, device))

    def _to_config(self, providers, provider_options, disabled):
        cfg = {
            "threads": int(self.intra_op_num_threads),
            "opt_level": _opt_level(self.graph_optimization_level),
            "profiling": bool(self.enable_profiling),
            "log_level": int(self.log_severity_level),
            "providers": ",".join(providers),
            "provider_options": provider_options,
            "optimized_model_path": self.optimized_model_filepath or None,
            "passes": ",".join(self._passes) if self._passes is not None else None,
            "disabled": ",".join(disabled) if disabled else None,
            "custom_passes": list(self._custom_passes),
            "provider_instances": [d for _, d in self._instances],
            "config": [],
        }
        for k, v in self._config.items():
            if k in _CONFIG_KEYS:
                cfg["config"].append((k, v))
            else:
                warnings.warn("onyx ignores session config entry '%s'" % k, stacklevel=3)
        return cfg


class RunOptions:
    """ORT's RunOptions: terminate (settable from another thread while a run
    is in flight: the run stops with Fail), logid (the run's log tag),
    log levels and run config entries (kept, not acted on)."""

    def __init__(self):
        self._ro = _onyx.RunOptions()
        self._terminate = False
        self._logid = ""
        self.log_severity_level = 2
        self.log_verbosity_level = 0
        self.only_execute_path_to_fetches = False
        self._config = {}

    @property
    def terminate(self):
        return self._terminate

    @terminate.setter
    def terminate(self, on):
        self._terminate = bool(on)
        self._ro.set_terminate(self._terminate)

    @property
    def logid(self):
        return self._logid

    @logid.setter
    def logid(self, tag):
        self._logid = str(tag)
        self._ro.set_tag(self._logid or None)

    def add_run_config_entry(self, key, value):
        self._config[str(key)] = str(value)

    def get_run_config_entry(self, key):
        if key not in self._config:
            raise _onyx.InvalidArgument("RunOptions has no config entry '%s'" % key)
        return self._config[key]


class NodeArg:
    """A graph input or output: name, shape (ints; str for a symbolic dim;
    None for a dim or rank the model leaves open) and type ('tensor(float)')."""

    def __init__(self, name, type_, shape):
        self.name = name
        self.type = type_
        self.shape = shape

    def __repr__(self):
        return "NodeArg(name='%s', type='%s', shape=%r)" % (self.name, self.type, self.shape)


class ModelMetadata:
    """The model's header (ORT's ModelMetadata)."""

    def __init__(self, meta):
        self.producer_name = meta["producer_name"]
        self.graph_name = meta["graph_name"]
        self.domain = meta["domain"]
        self.description = meta["description"]
        self.graph_description = meta["graph_description"]
        self.version = meta["version"]
        self.custom_metadata_map = dict(meta["custom_metadata_map"])


def _option_value(v):
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, enum.Enum):
        return v.name
    return str(v)


def _normalize_providers(providers, provider_options, instances=()):
    """[(onyx name, {key: str})] from ORT's providers / provider_options
    arguments; providers not usable here are dropped with a warning, as ORT
    does, and cpu is always last. instances: names of provider instances the
    session options carry."""
    if providers is None:
        names = _onyx.available_providers().split(",")
        return [(n, {}) for n in names if n]
    if isinstance(providers, str):
        providers = [providers]
    if provider_options is not None and len(provider_options) != len(providers):
        raise ValueError("'providers' and 'provider_options' should be the same length if both are given.")
    available = set(_onyx.available_providers().split(",")) | set(instances)
    out, seen = [], set()
    for i, p in enumerate(providers):
        if isinstance(p, tuple):
            if len(p) != 2 or not isinstance(p[1], dict):
                raise ValueError("a provider given as a tuple must be (name, options dict)")
            name, opts = p
        else:
            name, opts = p, (provider_options[i] if provider_options is not None else {})
        if not isinstance(name, str):
            raise ValueError("provider names must be str, got %r" % (name,))
        onyx = _onyx_name(name)
        if onyx in seen:
            raise ValueError("'%s' is listed more than once" % name)
        if onyx not in available:
            why = _onyx.provider_unusable_reason(onyx) if onyx in _ONYX_TO_ORT else None
            warnings.warn("Specified provider '%s' is not in available provider names. Available providers: '%s'%s"
                          % (name, ", ".join(get_available_providers()), (" (%s)" % why) if why else ""),
                          stacklevel=3)
            continue
        seen.add(onyx)
        out.append((onyx, _map_options(onyx, opts or {})))
    if "cpu" not in seen:
        out.append(("cpu", {}))
    return out


def _map_options(provider, opts):
    keys = _OPTION_KEYS.get(provider, {})
    ignored = _IGNORED_OPTION_KEYS.get(provider, set())
    out = {}
    for k, v in opts.items():
        if k in ignored:
            warnings.warn("onyx's '%s' provider ignores option '%s'" % (provider, k), stacklevel=4)
            continue
        out[keys.get(k, k)] = _option_value(v)
    return out


class InferenceSession:
    """ORT's InferenceSession over an onyx session.

    path_or_bytes: a model file, its bytes, or an object with
    SerializeToString() (an onnx.ModelProto). providers: names or (name,
    options) pairs in priority order; None: every provider usable here, in
    onyx's default order (ORT 1.9+ asks for an explicit list on GPU builds;
    onyx picks the best available)."""

    def __init__(self, path_or_bytes, sess_options=None, providers=None, provider_options=None, **kwargs):
        if hasattr(path_or_bytes, "SerializeToString"):
            path_or_bytes = path_or_bytes.SerializeToString()
        if isinstance(path_or_bytes, (bytes, bytearray)):
            self._model_path = None
            model = bytes(path_or_bytes)
        elif isinstance(path_or_bytes, (str, os.PathLike)):
            self._model_path = os.fspath(path_or_bytes)
            model = self._model_path
        else:
            raise TypeError("Unable to load from type '%s'" % type(path_or_bytes))
        self._sess_options = sess_options if sess_options is not None else SessionOptions()
        disabled = kwargs.pop("disabled_optimizers", None)
        if kwargs:
            raise TypeError("unexpected keyword arguments: %s" % ", ".join(kwargs))
        self._disabled = _onyx_passes(disabled) if disabled else (self._sess_options._disabled or None)
        self._instances = [n for n, _ in self._sess_options._instances]
        self._providers = _normalize_providers(providers, provider_options, self._instances)
        cfg = self._sess_options._to_config([p for p, _ in self._providers], self._provider_option_list(),
                                            self._disabled)
        self._profiling_start_ns = time.time_ns()
        self._sess = _onyx.Session(model, cfg)
        self._inputs = [NodeArg(n, t, s) for n, t, s in self._sess.inputs()]
        self._outputs = [NodeArg(n, t, s) for n, t, s in self._sess.outputs()]

    def _provider_option_list(self):
        return [(p, k, v) for p, opts in self._providers for k, v in opts.items()]

    def run(self, output_names, input_feed, run_options=None):
        """Runs the model: output_names (None or [] for all), input_feed
        {name: array}. Returns a list of arrays (lists for sequences, None for
        empty optionals). Safe from several threads at once."""
        return self._sess.run(output_names or None, input_feed, run_options._ro if run_options else None)

    def get_inputs(self):
        return list(self._inputs)

    def get_outputs(self):
        return list(self._outputs)

    def get_overridable_initializers(self):
        """onyx does not let initializers be fed at run time: none."""
        return []

    def get_providers(self):
        return [_ort_name(p) for p, _ in self._providers]

    def get_provider_options(self):
        return {_ort_name(p): dict(opts) for p, opts in self._providers}

    def get_session_options(self):
        return self._sess_options

    def get_modelmeta(self):
        return ModelMetadata(self._sess.metadata())

    def set_providers(self, providers=None, provider_options=None):
        """Re-partitions the live session over new providers; runs in flight
        finish on the old plan. A provider keeps the options it was first
        made with in this session."""
        new = _normalize_providers(providers, provider_options, self._instances)
        self._sess.set_providers(",".join(p for p, _ in new))
        self._providers = new

    def disable_fallback(self):
        """ORT lets TensorRT/CUDA sessions refuse CPU fallback; onyx always
        places what a provider cannot take on the next one (accepted, no-op)."""

    def enable_fallback(self):
        """See disable_fallback."""

    def get_profiling_start_time_ns(self):
        return self._profiling_start_ns

    def end_profiling(self):
        """Writes the profile (Chrome trace JSON) to
        '<profile_file_prefix>_<date>.json' and returns its path; '' when
        profiling is off."""
        if not self._sess_options.enable_profiling:
            return ""
        path = "%s_%s.json" % (self._sess_options.profile_file_prefix.rstrip("_"),
                               time.strftime("%Y-%m-%d_%H-%M-%S"))
        self._sess.profile_write(path)
        return path

    def io_binding(self):
        return IOBinding(self)

    def run_with_iobinding(self, iobinding, run_options=None):
        iobinding._b.run(run_options._ro if run_options else None)

    # ---- onyx extras ----

    def get_node_placement(self):
        """[{name, op_type, domain, provider (ORT's name), fallback_reason}]
        for each node of the optimized graph."""
        out = self._sess.node_placement()
        for n in out:
            n["provider"] = _ort_name(n["provider"])
        return out

    def get_session_stats(self):
        """{runs, peak_activation_bytes, weight_bytes, naive_activation_bytes,
        arena_bytes, intra_op_threads}."""
        return self._sess.stats()

    def get_optimize_stats(self):
        """What the optimizer did: {level, nodes_before, nodes_after, passes}."""
        return self._sess.optimize_stats()

    def get_fallbacks(self):
        """Lines describing fallbacks made after the session chose its
        providers (failed compiles, lost devices)."""
        return self._sess.fallbacks()

    def get_copies(self):
        """[{value, from, to, bytes}]: copies between memory spaces per run."""
        return self._sess.copies()

    def get_memory_info(self):
        """[{device, in_use, peak, allocs, frees}] per memory space in use."""
        return self._sess.memory_info()


def _device_name(device_type, device_id):
    device_type = str(device_type).lower()
    return "cpu" if device_type == "cpu" else "%s:%d" % (device_type, int(device_id))


class OrtValue:
    """A tensor in a memory space (ORT's OrtValue). ortvalue_from_numpy
    makes a host value over the array's memory; device values come from an
    IOBinding's outputs bound to a device."""

    def __init__(self, value):
        self._v = value

    @staticmethod
    def ortvalue_from_numpy(numpy_obj, device_type="cpu", device_id=0):
        if _device_name(device_type, device_id) != "cpu":
            raise _onyx.NotImplemented("onyx makes device values through a session: bind the output to '%s' "
                                       "with IOBinding.bind_output and use get_outputs()" % device_type)
        return OrtValue(_onyx.Value.from_array(numpy_obj))

    def numpy(self):
        return self._v.numpy()

    def shape(self):
        return self._v.shape()

    def data_type(self):
        return self._v.data_type()

    def device_name(self):
        return self._v.device().split(":")[0]

    def is_tensor(self):
        return True

    def has_value(self):
        return True


class IOBinding:
    """ORT's SessionIOBinding: inputs bound once (host arrays or OrtValues),
    outputs to a memory space ('cpu', 'cuda') or an OrtValue; runs are
    synchronous, so synchronize_* have nothing to wait for."""

    def __init__(self, session):
        self._session = session
        self._b = _onyx.IOBinding(session._sess)

    def bind_cpu_input(self, name, arr_on_cpu):
        self._b.bind_input(name, arr_on_cpu)

    def bind_input(self, name, device_type, device_id, element_type, shape, buffer_ptr):
        raise _onyx.NotImplemented("onyx does not bind raw buffer pointers; use bind_cpu_input or "
                                   "bind_ortvalue_input")

    def bind_ortvalue_input(self, name, ortvalue):
        self._b.bind_input(name, ortvalue._v)

    def bind_output(self, name, device_type="cpu", device_id=0, element_type=None, shape=None, buffer_ptr=None):
        if buffer_ptr is not None:
            raise _onyx.NotImplemented("onyx does not bind raw buffer pointers; use bind_ortvalue_output")
        self._b.bind_output(name, _device_name(device_type, device_id))

    def bind_ortvalue_output(self, name, ortvalue):
        self._b.bind_output(name, ortvalue._v)

    def get_outputs(self):
        return [OrtValue(v) for _, v in self._b.outputs()]

    def copy_outputs_to_cpu(self):
        return [v.numpy() for _, v in self._b.outputs()]

    def clear_binding_inputs(self):
        self._b.clear(False)

    def clear_binding_outputs(self):
        self._b.clear(True)

    def synchronize_inputs(self):
        pass

    def synchronize_outputs(self):
        pass
