/* module.c — the `onyx._onyx` extension module: its exceptions (ORT's
 * classes, so `except InvalidArgument` in an onnxruntime script catches
 * onyx's errors), the system and provider queries, and the two whole-model
 * operations, quantize and optimize, which run with the GIL released (the
 * quantizer's calibration reader takes it back to call Python).
 *
 * Everything else a user sees is in the .py files of python/onyx; this file only moves
 * values across. */
#define PYONYX_MODULE_C
#include "pyonyx.h"

#include <stdlib.h>
#include <string.h>

/* ---- exceptions ---- */

static PyObject *exc_base, *exc_fail, *exc_invalid_argument, *exc_no_such_file, *exc_no_model, *exc_engine,
    *exc_runtime, *exc_invalid_protobuf, *exc_model_loaded, *exc_not_implemented, *exc_invalid_graph, *exc_ep_fail,
    *exc_invalid_model;

static PyObject *exception_of(onyx_code c) {
  switch (c) {
    case ONYX_ERR_INVALID_ARGUMENT: return exc_invalid_argument;
    case ONYX_ERR_INVALID_MODEL: return exc_invalid_model;
    case ONYX_ERR_NOT_FOUND: return exc_no_such_file;
    case ONYX_ERR_NOT_IMPLEMENTED: return exc_not_implemented;
    case ONYX_ERR_RUNTIME: return exc_runtime;
    case ONYX_ERR_DEVICE: return exc_ep_fail;
    default: return exc_fail;   /* out of memory, I/O, cancelled: ORT says FAIL */
  }
}

PyObject *pyonyx_raise(onyx_status *s) {
  PyErr_Format(exception_of(onyx_status_code(s)), "[onyx] %s: %s", onyx_code_name(onyx_status_code(s)),
               onyx_status_message(s));
  onyx_status_free(s);
  return NULL;
}

onyx_status *pyonyx_status_from_exception(onyx_code code, const char *where) {
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  PyErr_NormalizeException(&type, &value, &tb);
  PyObject *str = value ? PyObject_Str(value) : NULL;
  const char *msg = str ? PyUnicode_AsUTF8(str) : NULL;
  if (!msg) PyErr_Clear();
  onyx_status *s = onyx_status_create(code, "%s raised %s: %s", where,
                                      type ? ((PyTypeObject *)type)->tp_name : "an exception", msg ? msg : "");
  Py_XDECREF(str);
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(tb);
  return s;
}

/* Creates the exception classes as onnxruntime's pybind11 module names them. */
static int add_exceptions(PyObject *m) {
  exc_base = PyErr_NewExceptionWithDoc("onyx._onyx.OnyxError", "Base of the errors onyx raises.",
                                       PyExc_RuntimeError, NULL);
  if (!exc_base || PyModule_AddObjectRef(m, "OnyxError", exc_base) < 0) return -1;
  struct {
    PyObject **slot;
    const char *name, *doc;
  } list[] = {
      {&exc_fail, "Fail", "The operation failed (out of memory, I/O, cancelled run)."},
      {&exc_invalid_argument, "InvalidArgument", "A wrong name, shape, dtype or option."},
      {&exc_no_such_file, "NoSuchFile", "A file, input or output that does not exist."},
      {&exc_no_model, "NoModel", "No model was loaded."},
      {&exc_engine, "EngineError", "An engine failed."},
      {&exc_runtime, "RuntimeException", "A kernel failed while running."},
      {&exc_invalid_protobuf, "InvalidProtobuf", "The model is not valid ONNX protobuf."},
      {&exc_model_loaded, "ModelLoaded", "A model was already loaded."},
      {&exc_not_implemented, "NotImplemented", "Valid ONNX that onyx does not support."},
      {&exc_invalid_graph, "InvalidGraph", "The model's graph is inconsistent."},
      {&exc_ep_fail, "EPFail", "An execution provider's device failed; the session re-planned without it."},
  };
  for (size_t i = 0; i < sizeof list / sizeof list[0]; i++) {
    char full[64];
    snprintf(full, sizeof full, "onyx._onyx.%s", list[i].name);
    /* InvalidArgument is also a ValueError: ORT's Python layer raises that
     * for inputs missing from the feed */
    PyObject *bases = list[i].slot == &exc_invalid_argument ? PyTuple_Pack(2, exc_base, PyExc_ValueError)
                                                            : Py_NewRef(exc_base);
    if (!bases) return -1;
    *list[i].slot = PyErr_NewExceptionWithDoc(full, list[i].doc, bases, NULL);
    Py_DECREF(bases);
    if (!*list[i].slot || PyModule_AddObjectRef(m, list[i].name, *list[i].slot) < 0) return -1;
  }
  /* onyx has one code for malformed and inconsistent models: its exception
   * is both of ORT's. */
  PyObject *bases = PyTuple_Pack(2, exc_invalid_protobuf, exc_invalid_graph);
  if (!bases) return -1;
  exc_invalid_model = PyErr_NewExceptionWithDoc("onyx._onyx.InvalidModel",
                                                "A malformed or inconsistent model (InvalidProtobuf and InvalidGraph).",
                                                bases, NULL);
  Py_DECREF(bases);
  if (!exc_invalid_model || PyModule_AddObjectRef(m, "InvalidModel", exc_invalid_model) < 0) return -1;
  return 0;
}

/* ---- queries ---- */

static PyObject *py_available_providers(PyObject *self, PyObject *args) {
  (void)self, (void)args;
  return PyUnicode_FromString(onyx_available_providers());
}

static PyObject *py_compiled_providers(PyObject *self, PyObject *args) {
  (void)self, (void)args;
  return PyUnicode_FromString(onyx_compiled_providers());
}

static PyObject *py_provider_unusable_reason(PyObject *self, PyObject *arg) {
  (void)self;
  const char *name = PyUnicode_AsUTF8(arg);
  if (!name) return NULL;
  const char *why = onyx_provider_unusable_reason(name);
  if (!why) Py_RETURN_NONE;
  return PyUnicode_FromString(why);
}

static PyObject *py_optimizer_passes(PyObject *self, PyObject *args) {
  (void)self, (void)args;
  return PyUnicode_FromString(onyx_optimizer_passes());
}

static PyObject *py_library_versions(PyObject *self, PyObject *args) {
  (void)self, (void)args;
  return PyUnicode_FromString(onyx_library_versions());
}

static PyObject *py_set_log_level(PyObject *self, PyObject *arg) {
  (void)self;
  long level = PyLong_AsLong(arg);
  if (level == -1 && PyErr_Occurred()) return NULL;
  if (level < ONYX_LOG_DEBUG || level > ONYX_LOG_NONE)
    return PyErr_Format(exc_invalid_argument, "log level %ld is not 0 (debug) .. 4 (none)", level);
  onyx_set_log_level((onyx_log_level)level);
  Py_RETURN_NONE;
}

static PyObject *py_system_info(PyObject *self, PyObject *args) {
  (void)self, (void)args;
  onyx_system_info i;
  onyx_system_info_get(&i);
  return Py_BuildValue(
      "{s:s,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i}", "cpu_brand", i.cpu_brand, "cores",
      i.cores, "numa_nodes", i.numa_nodes, "l1d_kb", i.l1d_kb, "l2_kb", i.l2_kb, "l3_kb", i.l3_kb, "avx2", i.avx2,
      "fma", i.fma, "avx512f", i.avx512f, "avx512bw", i.avx512bw, "avx512_vnni", i.avx512_vnni, "avx512_bf16",
      i.avx512_bf16, "avx512_fp16", i.avx512_fp16, "avx_vnni", i.avx_vnni, "amx_tile", i.amx_tile, "amx_int8",
      i.amx_int8, "amx_bf16", i.amx_bf16);
}

static PyObject *py_gpus(PyObject *self, PyObject *args) {
  (void)self, (void)args;
  int n = onyx_gpu_count();
  PyObject *list = PyList_New(0);
  for (int i = 0; list && i < n; i++) {
    onyx_gpu_info g;
    onyx_status *s = onyx_gpu_info_get(i, &g);
    if (s) {
      Py_DECREF(list);
      return pyonyx_raise(s);
    }
    PyObject *d = Py_BuildValue("{s:i,s:s,s:i,s:(ii),s:L,s:L,s:i,s:i,s:s}", "index", g.index, "name", g.name,
                                "sm_count", g.sm_count, "compute_capability", g.cc_major, g.cc_minor,
                                "total_memory", (long long)g.total_memory, "free_memory",
                                (long long)g.free_memory, "driver_version", g.driver_version, "runtime_version",
                                g.runtime_version, "usable", g.usable);
    if (!d || PyList_Append(list, d) < 0) {
      Py_XDECREF(d);
      Py_DECREF(list);
      return NULL;
    }
    Py_DECREF(d);
  }
  return list;
}

/* ---- quantize ---- */

typedef struct reader_state {
  PyObject *reader;     /* borrowed: an object with get_next() */
} reader_state;

/* The onyx_calibration_reader over a Python CalibrationDataReader: each
 * get_next() dict (or None at the end) becomes owned input tensors. */
static onyx_status *read_calibration(void *arg, int n_inputs, const char *const *names, onyx_tensor **inputs,
                                     int *done) {
  reader_state *rs = arg;
  PyGILState_STATE g = PyGILState_Ensure();
  onyx_status *s = NULL;
  PyObject *feed = PyObject_CallMethod(rs->reader, "get_next", NULL);
  if (!feed) {
    s = pyonyx_status_from_exception(ONYX_ERR_RUNTIME, "calibration_data_reader.get_next()");
  } else if (feed == Py_None) {
    *done = 1;
  } else if (!PyDict_Check(feed)) {
    s = onyx_status_create(ONYX_ERR_INVALID_ARGUMENT,
                           "calibration_data_reader.get_next() returned %s, expected a dict of input arrays or None",
                           Py_TYPE(feed)->tp_name);
  } else {
    int i = 0;
    for (; i < n_inputs && !s; i++) {
      PyObject *v = PyDict_GetItemString(feed, names[i]);
      if (!v)
        s = onyx_status_create(ONYX_ERR_INVALID_ARGUMENT, "calibration sample has no input '%s'", names[i]);
      else
        s = pyonyx_tensor_copy_from(v, names[i], &inputs[i]);
    }
    if (s)
      for (int j = 0; j < i - 1; j++) onyx_tensor_free(inputs[j]);
  }
  Py_XDECREF(feed);
  PyGILState_Release(g);
  return s;
}

static PyObject *node_reports(const onyx_quant_report *r) {
  PyObject *list = PyList_New(r->n_nodes);
  for (int i = 0; list && i < r->n_nodes; i++) {
    const onyx_quant_node_report *n = &r->nodes[i];
    PyObject *d = Py_BuildValue("{s:s,s:s,s:O,s:s}", "name", n->name, "op_type", n->op_type, "quantized",
                                n->quantized ? Py_True : Py_False, "note", n->note ? n->note : "");
    if (!d) {
      Py_DECREF(list);
      return NULL;
    }
    PyList_SET_ITEM(list, i, d);
  }
  return list;
}

/* quantize(model_in, model_out, options: [(name, value)], reader or None) -> dict */
static PyObject *py_quantize(PyObject *self, PyObject *args) {
  (void)self;
  const char *in, *out;
  PyObject *opts, *reader;
  if (!PyArg_ParseTuple(args, "ssO!O", &in, &out, &PyList_Type, &opts, &reader)) return NULL;
  onyx_quant_options *qo;
  onyx_status *s = onyx_quant_options_create(&qo);
  if (s) return pyonyx_raise(s);
  for (Py_ssize_t i = 0; !s && i < PyList_GET_SIZE(opts); i++) {
    const char *k, *v;
    if (!PyArg_ParseTuple(PyList_GET_ITEM(opts, i), "ss", &k, &v)) {
      onyx_quant_options_destroy(qo);
      return NULL;
    }
    s = onyx_quant_options_set(qo, k, v);
  }
  reader_state rs = {reader};
  if (!s && reader != Py_None) onyx_quant_options_set_calibration_reader(qo, read_calibration, &rs);
  onyx_quant_report *r = NULL;
  if (!s) {
    Py_BEGIN_ALLOW_THREADS s = onyx_quantize(in, qo, out, &r);
    Py_END_ALLOW_THREADS
  }
  onyx_quant_options_destroy(qo);
  if (s) return pyonyx_raise(s);
  PyObject *nodes = node_reports(r);
  PyObject *d = nodes ? Py_BuildValue("{s:L,s:L,s:L,s:L,s:i,s:i,s:i,s:N}", "bytes_before", (long long)r->bytes_before,
                                      "bytes_after", (long long)r->bytes_after, "weight_bytes_before",
                                      (long long)r->weight_bytes_before, "weight_bytes_after",
                                      (long long)r->weight_bytes_after, "bn_folded", r->bn_folded,
                                      "calibration_samples", r->calibration_samples, "calibrated_tensors",
                                      r->calibrated_tensors, "nodes", nodes)
                      : NULL;
  onyx_quant_report_destroy(r);
  return d;
}

/* ---- optimize ---- */

PyObject *pyonyx_optimize_stats(const onyx_optimize_stats *st) {
  PyObject *passes = PyList_New(st->n_passes);
  for (int i = 0; passes && i < st->n_passes; i++) {
    const onyx_pass_stat *p = &st->passes[i];
    PyObject *d = Py_BuildValue("{s:s,s:i,s:L,s:L,s:L,s:L,s:L,s:L,s:L}", "name", p->name, "level", p->level, "runs",
                                (long long)p->runs, "changes", (long long)p->changes, "nodes_removed",
                                (long long)p->nodes_removed, "nodes_added", (long long)p->nodes_added, "fused",
                                (long long)p->fused, "folded", (long long)p->folded, "ns", (long long)p->ns);
    if (!d) {
      Py_DECREF(passes);
      return NULL;
    }
    PyList_SET_ITEM(passes, i, d);
  }
  if (!passes) return NULL;
  return Py_BuildValue("{s:i,s:L,s:L,s:N}", "level", st->level, "nodes_before", (long long)st->nodes_before,
                       "nodes_after", (long long)st->nodes_after, "passes", passes);
}

/* optimize(model: str path | bytes, level, passes, disabled, providers) -> (bytes, stats) */
static PyObject *py_optimize(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *model;
  int level;
  const char *passes, *disabled, *providers;
  if (!PyArg_ParseTuple(args, "Oizzz", &model, &level, &passes, &disabled, &providers)) return NULL;
  onyx_options *o = NULL;
  onyx_model *m = NULL;
  onyx_optimize_stats st;
  void *buf = NULL;
  size_t len = 0;
  onyx_status *s = onyx_options_create(&o);
  if (!s) onyx_options_set_optimization_level(o, level);
  if (!s && passes) s = onyx_options_set_passes(o, passes);
  if (!s && disabled) s = onyx_options_disable_passes(o, disabled);
  if (!s && providers) s = onyx_options_set_providers(o, providers);
  if (!s) {
    if (PyBytes_Check(model)) {
      const char *data = PyBytes_AS_STRING(model);
      Py_ssize_t n = PyBytes_GET_SIZE(model);
      Py_BEGIN_ALLOW_THREADS s = onyx_model_load_from_buffer(data, (size_t)n, ".", &m);
      Py_END_ALLOW_THREADS
    } else {
      const char *path = PyUnicode_AsUTF8(model);
      if (!path) {
        onyx_options_destroy(o);
        return NULL;
      }
      Py_BEGIN_ALLOW_THREADS s = onyx_model_load(path, &m);
      Py_END_ALLOW_THREADS
    }
  }
  if (!s) {
    Py_BEGIN_ALLOW_THREADS s = onyx_model_optimize(m, o, &st);
    if (!s) s = onyx_model_save_to_buffer(m, &buf, &len);
    Py_END_ALLOW_THREADS
  }
  onyx_model_destroy(m);
  onyx_options_destroy(o);
  if (s) return pyonyx_raise(s);
  PyObject *bytes = PyBytes_FromStringAndSize(buf, (Py_ssize_t)len);
  onyx_buffer_free(buf);
  PyObject *stats = bytes ? pyonyx_optimize_stats(&st) : NULL;
  if (!stats) {
    Py_XDECREF(bytes);
    return NULL;
  }
  return Py_BuildValue("(NN)", bytes, stats);
}

static PyMethodDef methods[] = {
    {"available_providers", py_available_providers, METH_NOARGS,
     "Comma-separated onyx names of the providers usable here, in default priority order."},
    {"compiled_providers", py_compiled_providers, METH_NOARGS, "Comma-separated onyx names of every provider built in."},
    {"provider_unusable_reason", py_provider_unusable_reason, METH_O,
     "Why provider NAME cannot be used here, or None."},
    {"optimizer_passes", py_optimizer_passes, METH_NOARGS, "Comma-separated names of the built-in passes."},
    {"library_versions", py_library_versions, METH_NOARGS, "The libraries onyx runs on and their versions."},
    {"set_log_level", py_set_log_level, METH_O, "Process-wide log threshold: 0 debug .. 4 none."},
    {"system_info", py_system_info, METH_NOARGS, "What this machine offers, as onyx sees it."},
    {"gpus", py_gpus, METH_NOARGS, "The NVIDIA GPUs the cuda provider sees."},
    {"quantize", py_quantize, METH_VARARGS,
     "quantize(model_in, model_out, [(option, value)], reader) -> report dict."},
    {"optimize", py_optimize, METH_VARARGS,
     "optimize(model path or bytes, level, passes, disabled, providers) -> (bytes, stats)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "onyx._onyx", "The C core of the onyx Python package (use `import onyx`).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__onyx(void) {
  import_array();
  PyObject *m = PyModule_Create(&module_def);
  if (!m) return NULL;
  if (add_exceptions(m) < 0 || PyModule_AddStringConstant(m, "version", ONYX_VERSION_STRING) < 0 ||
      pyonyx_convert_init() < 0 || pyonyx_session_types_init(m) < 0
#ifdef ONYX_PY_SIMDEV
      || pyonyx_simdev_init(m) < 0
#endif
  ) {
    Py_DECREF(m);
    return NULL;
  }
  return m;
}
