/* session.c — the extension's object types over onyx sessions: Session
 * (model, options, run), RunOptions, IOBinding, Value (ORT's OrtValue) and
 * GraphView (what a custom pass written in Python sees).
 *
 * Session.run is the hot path: it borrows each input array's memory
 * (convert.c), releases the GIL for onyx_session_run_with_options, so
 * Python threads run one session concurrently as onyx allows, and hands the
 * outputs back as arrays over onyx's memory. Objects the C side borrows (a
 * pass's Python function, a simulated device, bound arrays) are referenced
 * by the object that outlives the borrow, so Python's collector cannot free
 * them under onyx. */
#include "pyonyx.h"

#include <stdbool.h>
#include <string.h>
#include <time.h>

/* ---- GraphView: a custom pass's view of the graph ---- */

typedef struct {
  PyObject_HEAD onyx_graph *g;   /* NULL once the pass returned */
} graph_view;

static onyx_graph *view_graph(graph_view *v) {
  if (!v->g) PyErr_SetString(PyExc_RuntimeError, "the graph is only valid while the pass runs");
  return v->g;
}

static int view_node_index(graph_view *v, PyObject *arg, onyx_graph **g) {
  if (!(*g = view_graph(v))) return -1;
  long i = PyLong_AsLong(arg);
  if (i == -1 && PyErr_Occurred()) return -1;
  if (i < 0 || i >= onyx_pass_node_count(*g)) {
    PyErr_Format(PyExc_IndexError, "node %ld out of range (graph has %d)", i, onyx_pass_node_count(*g));
    return -1;
  }
  return (int)i;
}

static PyObject *view_node_count(PyObject *self, PyObject *args) {
  (void)args;
  onyx_graph *g = view_graph((graph_view *)self);
  return g ? PyLong_FromLong(onyx_pass_node_count(g)) : NULL;
}

static PyObject *names_list(const onyx_graph *g, int node, int n, const char *(*get)(const onyx_graph *, int, int)) {
  PyObject *l = PyList_New(n);
  for (int i = 0; l && i < n; i++) {
    const char *s = get(g, node, i);
    PyObject *o = s ? PyUnicode_FromString(s) : Py_NewRef(Py_None);
    if (!o) Py_CLEAR(l);
    else PyList_SET_ITEM(l, i, o);
  }
  return l;
}

static PyObject *view_node(PyObject *self, PyObject *arg) {
  onyx_graph *g;
  int i = view_node_index((graph_view *)self, arg, &g);
  if (i < 0) return NULL;
  PyObject *ins = names_list(g, i, onyx_pass_node_input_count(g, i), onyx_pass_node_input);
  PyObject *outs = ins ? names_list(g, i, onyx_pass_node_output_count(g, i), onyx_pass_node_output) : NULL;
  if (!outs) {
    Py_XDECREF(ins);
    return NULL;
  }
  return Py_BuildValue("{s:s,s:s,s:s,s:N,s:N}", "op_type", onyx_pass_node_op_type(g, i), "domain",
                       onyx_pass_node_domain(g, i), "name", onyx_pass_node_name(g, i), "inputs", ins, "outputs",
                       outs);
}

static PyObject *view_bypass_node(PyObject *self, PyObject *arg) {
  onyx_graph *g;
  int i = view_node_index((graph_view *)self, arg, &g);
  if (i < 0) return NULL;
  onyx_status *s = onyx_pass_bypass_node(g, i);
  if (s) return pyonyx_raise(s);
  Py_RETURN_NONE;
}

static PyMethodDef view_methods[] = {
    {"node_count", view_node_count, METH_NOARGS, "Number of nodes in the graph."},
    {"node", view_node, METH_O, "node(i) -> {op_type, domain, name, inputs, outputs}."},
    {"bypass_node", view_bypass_node, METH_O,
     "Removes pass-through node i: readers of its output 0 read its input 0. Later indices shift down."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject view_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "onyx._onyx.GraphView",
    .tp_basicsize = sizeof(graph_view),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The graph a custom pass rewrites (valid during the pass only).",
    .tp_methods = view_methods,
};

/* The onyx_pass_fn of a pass written in Python: fn(view) -> changes. */
static onyx_status *run_python_pass(onyx_graph *g, void *arg, int *changed) {
  PyGILState_STATE gs = PyGILState_Ensure();
  onyx_status *s = NULL;
  graph_view *v = PyObject_New(graph_view, &view_type);
  PyObject *r = NULL;
  if (v) {
    v->g = g;
    r = PyObject_CallOneArg((PyObject *)arg, (PyObject *)v);
    v->g = NULL;
    Py_DECREF(v);
  }
  long n = r ? PyLong_AsLong(r) : -1;
  if (!r || (n == -1 && PyErr_Occurred()))
    s = pyonyx_status_from_exception(ONYX_ERR_RUNTIME, "custom pass");
  else
    *changed = n > 0 ? (int)(n > 1000000 ? 1000000 : n) : 0;
  Py_XDECREF(r);
  PyGILState_Release(gs);
  return s;
}

/* ---- RunOptions ---- */

typedef struct {
  PyObject_HEAD onyx_run_options *ro;
} run_options;

static int ro_init(PyObject *self, PyObject *args, PyObject *kw) {
  (void)args, (void)kw;
  run_options *r = (run_options *)self;
  if (r->ro) return 0;
  onyx_status *s = onyx_run_options_create(&r->ro);
  if (s) {
    pyonyx_raise(s);
    return -1;
  }
  return 0;
}

static void ro_dealloc(PyObject *self) {
  onyx_run_options_destroy(((run_options *)self)->ro);
  Py_TYPE(self)->tp_free(self);
}

static PyObject *ro_set_tag(PyObject *self, PyObject *arg) {
  const char *tag = arg == Py_None ? NULL : PyUnicode_AsUTF8(arg);
  if (arg != Py_None && !tag) return NULL;
  onyx_status *s = onyx_run_options_set_tag(((run_options *)self)->ro, tag);
  if (s) return pyonyx_raise(s);
  Py_RETURN_NONE;
}

static PyObject *ro_set_terminate(PyObject *self, PyObject *arg) {
  int on = PyObject_IsTrue(arg);
  if (on < 0) return NULL;
  onyx_run_options_set_terminate(((run_options *)self)->ro, on);
  Py_RETURN_NONE;
}

static PyMethodDef ro_methods[] = {
    {"set_tag", ro_set_tag, METH_O, "The run's tag for log lines (None clears)."},
    {"set_terminate", ro_set_terminate, METH_O, "Runs with these options stop before their next step (any thread)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ro_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "onyx._onyx.RunOptions",
    .tp_basicsize = sizeof(run_options),
    .tp_dealloc = ro_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "onyx_run_options: tag and terminate flag.",
    .tp_methods = ro_methods,
    .tp_init = ro_init,
    .tp_new = PyType_GenericNew,
};

static int run_options_of(PyObject *obj, const onyx_run_options **out) {
  if (obj == Py_None) {
    *out = NULL;
    return 0;
  }
  if (!PyObject_TypeCheck(obj, &ro_type)) {
    PyErr_Format(PyExc_TypeError, "run_options must be onyx._onyx.RunOptions, not %s", Py_TYPE(obj)->tp_name);
    return -1;
  }
  *out = ((run_options *)obj)->ro;
  return 0;
}

/* ---- Session ---- */

typedef struct {
  PyObject_HEAD onyx_session *s;
  PyObject *keep;       /* list: objects onyx borrows (pass functions, devices) */
  PyObject *inputs, *outputs;   /* lists of (name, type, shape) */
  PyObject *meta;       /* dict */
  int64_t last_run_ns;  /* time inside onyx of the last run (for overhead measurements) */
} session;

static PyTypeObject session_type;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* (name, "tensor(float)" / "seq(...)" / "optional(...)", [dims: int | str | None] or None) */
static PyObject *value_info_tuple(const onyx_model_value_info *v) {
  char type[64];
  const char *t = pyonyx_type_name(v->dtype);
  if (v->kind == ONYX_VALUE_SEQUENCE) snprintf(type, sizeof type, "seq(%s)", t);
  else if (v->kind == ONYX_VALUE_OPTIONAL) snprintf(type, sizeof type, "optional(%s)", t);
  else snprintf(type, sizeof type, "%s", t);
  PyObject *shape;
  if (v->rank < 0) {
    shape = Py_NewRef(Py_None);
  } else {
    shape = PyList_New(v->rank);
    for (int i = 0; shape && i < v->rank; i++) {
      PyObject *d = v->dims[i] >= 0 ? PyLong_FromLongLong(v->dims[i])
                    : v->dim_names[i] ? PyUnicode_FromString(v->dim_names[i])
                                      : Py_NewRef(Py_None);
      if (!d) Py_CLEAR(shape);
      else PyList_SET_ITEM(shape, i, d);
    }
  }
  if (!shape) return NULL;
  return Py_BuildValue("(ssN)", v->name, type, shape);
}

static PyObject *io_list(const onyx_model *m, int output) {
  int n = output ? onyx_model_output_count(m) : onyx_model_input_count(m);
  PyObject *l = PyList_New(n);
  for (int i = 0; l && i < n; i++) {
    onyx_model_value_info v;
    onyx_status *s = output ? onyx_model_output_info(m, i, &v) : onyx_model_input_info(m, i, &v);
    PyObject *t = s ? pyonyx_raise(s) : value_info_tuple(&v);
    if (!t) Py_CLEAR(l);
    else PyList_SET_ITEM(l, i, t);
  }
  return l;
}

static PyObject *metadata(const onyx_model *m) {
  PyObject *custom = PyDict_New();
  for (int i = 0; custom && i < onyx_model_metadata_count(m); i++) {
    const char *k, *v;
    onyx_status *s = onyx_model_metadata_prop(m, i, &k, &v);
    PyObject *val = s ? pyonyx_raise(s) : PyUnicode_FromString(v);
    if (!val || PyDict_SetItemString(custom, k, val) < 0) Py_CLEAR(custom);
    Py_XDECREF(val);
  }
  if (!custom) return NULL;
  return Py_BuildValue("{s:s,s:s,s:s,s:s,s:s,s:L,s:N}", "producer_name", onyx_model_producer_name(m), "graph_name",
                       onyx_model_graph_name(m), "domain", onyx_model_domain(m), "description",
                       onyx_model_doc_string(m), "graph_description", onyx_model_graph_doc_string(m), "version",
                       (long long)onyx_model_version(m), "custom_metadata_map", custom);
}

/* A string item of the config dict; NULL (no error) when absent or None. */
static const char *config_str(PyObject *cfg, const char *key, int *err) {
  PyObject *v = PyDict_GetItemString(cfg, key);
  if (!v || v == Py_None) return NULL;
  const char *s = PyUnicode_AsUTF8(v);
  if (!s) *err = 1;
  return s;
}

static int config_int(PyObject *cfg, const char *key, long dflt, long *out) {
  PyObject *v = PyDict_GetItemString(cfg, key);
  *out = dflt;
  if (!v || v == Py_None) return 0;
  *out = PyLong_AsLong(v);
  return *out == -1 && PyErr_Occurred() ? -1 : 0;
}

/* Builds onyx options from the dict python/onyx/session.py assembles:
 * threads, opt_level, profiling, log_level, providers, provider_options [(p, k, v)],
 * config [(k, v)], optimized_model_path, passes, disabled,
 * custom_passes [(name, level, op_types, fn)], provider_instances [dev].
 * Objects onyx will borrow are appended to `keep`. */
static onyx_options *options_from(PyObject *cfg, PyObject *keep) {
  if (!PyDict_Check(cfg)) {
    PyErr_SetString(PyExc_TypeError, "session config must be a dict");
    return NULL;
  }
  onyx_options *o;
  onyx_status *s = onyx_options_create(&o);
  if (s) {
    pyonyx_raise(s);
    return NULL;
  }
  long threads, level, profiling, log_level;
  int err = 0;
  if (config_int(cfg, "threads", 0, &threads) < 0 || config_int(cfg, "opt_level", 3, &level) < 0 ||
      config_int(cfg, "profiling", 0, &profiling) < 0 || config_int(cfg, "log_level", ONYX_LOG_WARNING, &log_level) < 0)
    goto fail;
  if (log_level < ONYX_LOG_DEBUG || log_level > ONYX_LOG_NONE) log_level = ONYX_LOG_WARNING;
  onyx_options_set_log_level(o, (onyx_log_level)log_level);
  onyx_options_set_intra_op_threads(o, (int)threads);
  onyx_options_set_optimization_level(o, (int)level);
  onyx_options_enable_profiling(o, (int)profiling);
  const char *providers = config_str(cfg, "providers", &err), *path = config_str(cfg, "optimized_model_path", &err),
             *passes = config_str(cfg, "passes", &err), *disabled = config_str(cfg, "disabled", &err);
  if (err) goto fail;
  PyObject *inst = PyDict_GetItemString(cfg, "provider_instances");
  for (Py_ssize_t i = 0; inst && i < PySequence_Size(inst); i++) {
    PyObject *dev = PySequence_GetItem(inst, i);
    if (!dev) goto fail;
#ifdef ONYX_PY_SIMDEV
    int bad = pyonyx_simdev_attach(o, dev) < 0 || PyList_Append(keep, dev) < 0;
    Py_DECREF(dev);
    if (bad) goto fail;
#else
    Py_DECREF(dev);
    PyErr_SetString(PyExc_TypeError, "provider instances exist only in onyx's test builds");
    goto fail;
#endif
  }
  if (providers && (s = onyx_options_set_providers(o, providers))) goto fail_status;
  if (path && (s = onyx_options_set_optimized_model_path(o, path))) goto fail_status;
  if (passes && (s = onyx_options_set_passes(o, passes))) goto fail_status;
  if (disabled && (s = onyx_options_disable_passes(o, disabled))) goto fail_status;
  PyObject *list = PyDict_GetItemString(cfg, "provider_options");
  for (Py_ssize_t i = 0; list && i < PySequence_Size(list); i++) {
    PyObject *item = PySequence_GetItem(list, i);
    const char *p, *k, *v;
    int ok = item && PyArg_ParseTuple(item, "sss", &p, &k, &v);
    if (ok) s = onyx_options_set_provider_option(o, p, k, v);
    Py_XDECREF(item);
    if (!ok) goto fail;
    if (s) goto fail_status;
  }
  list = PyDict_GetItemString(cfg, "config");
  for (Py_ssize_t i = 0; list && i < PySequence_Size(list); i++) {
    PyObject *item = PySequence_GetItem(list, i);
    const char *k, *v;
    int ok = item && PyArg_ParseTuple(item, "ss", &k, &v);
    if (ok) s = onyx_options_set_config(o, k, v);
    Py_XDECREF(item);
    if (!ok) goto fail;
    if (s) goto fail_status;
  }
  list = PyDict_GetItemString(cfg, "custom_passes");
  for (Py_ssize_t i = 0; list && i < PySequence_Size(list); i++) {
    PyObject *item = PySequence_GetItem(list, i), *fn;
    const char *name, *ops;
    int lvl;
    int ok = item && PyArg_ParseTuple(item, "sizO", &name, &lvl, &ops, &fn);
    if (ok && !PyCallable_Check(fn)) {
      PyErr_Format(PyExc_TypeError, "custom pass '%s' is not callable", name);
      ok = 0;
    }
    if (ok && PyList_Append(keep, fn) < 0) ok = 0;
    if (ok) s = onyx_options_add_pass(o, name, lvl, ops, run_python_pass, fn);
    Py_XDECREF(item);
    if (!ok) goto fail;
    if (s) goto fail_status;
  }
  return o;
fail_status:
  pyonyx_raise(s);
fail:
  onyx_options_destroy(o);
  return NULL;
}

static int session_init(PyObject *self, PyObject *args, PyObject *kw) {
  (void)kw;
  session *se = (session *)self;
  PyObject *model, *cfg;
  if (!PyArg_ParseTuple(args, "OO", &model, &cfg)) return -1;
  if (se->s) {
    PyErr_SetString(PyExc_RuntimeError, "Session is already initialised");
    return -1;
  }
  if (!(se->keep = PyList_New(0))) return -1;
  onyx_options *o = options_from(cfg, se->keep);
  if (!o) return -1;
  onyx_model *m = NULL;
  onyx_status *s = NULL;
  if (PyBytes_Check(model)) {
    const char *data = PyBytes_AS_STRING(model);
    size_t len = (size_t)PyBytes_GET_SIZE(model);
    Py_BEGIN_ALLOW_THREADS s = onyx_model_load_from_buffer(data, len, ".", &m);
    Py_END_ALLOW_THREADS
  } else {
    PyObject *fs;
    if (!PyUnicode_FSConverter(model, &fs)) {
      onyx_options_destroy(o);
      return -1;
    }
    const char *path = PyBytes_AS_STRING(fs);
    Py_BEGIN_ALLOW_THREADS s = onyx_model_load(path, &m);
    Py_END_ALLOW_THREADS
    Py_DECREF(fs);
  }
  if (!s) {
    se->inputs = io_list(m, 0);
    se->outputs = se->inputs ? io_list(m, 1) : NULL;
    se->meta = se->outputs ? metadata(m) : NULL;
    if (!se->meta) {
      onyx_model_destroy(m);
      onyx_options_destroy(o);
      return -1;
    }
    Py_BEGIN_ALLOW_THREADS s = onyx_session_create_from_model(m, o, &se->s);   /* takes m */
    Py_END_ALLOW_THREADS
  }
  onyx_options_destroy(o);
  if (s) {
    pyonyx_raise(s);
    return -1;
  }
  return 0;
}

static void session_dealloc(PyObject *self) {
  session *se = (session *)self;
  onyx_session_destroy(se->s);   /* before what it borrows */
  Py_XDECREF(se->keep);
  Py_XDECREF(se->inputs);
  Py_XDECREF(se->outputs);
  Py_XDECREF(se->meta);
  Py_TYPE(self)->tp_free(self);
}

static onyx_session *session_of(PyObject *self) {
  onyx_session *s = ((session *)self)->s;
  if (!s) PyErr_SetString(PyExc_RuntimeError, "the session was not initialised");
  return s;
}

/* The declared dtype of input `name` (UNDEFINED when unknown). */
static onyx_dtype input_dtype(onyx_session *s, const char *name) {
  for (int i = 0; i < onyx_session_input_count(s); i++) {
    onyx_value_info v;
    onyx_status *st = onyx_session_input_info(s, i, &v);
    if (st) {
      onyx_status_free(st);
      continue;
    }
    if (!strcmp(v.name, name)) return v.dtype;
  }
  return ONYX_DTYPE_UNDEFINED;
}

/* Fills names[i] with UTF-8 pointers borrowed from the str items of seq. */
static int utf8_names(PyObject *seq, Py_ssize_t n, const char **names, const char *what) {
  for (Py_ssize_t i = 0; i < n; i++) {
    PyObject *o = PySequence_Fast_GET_ITEM(seq, i);
    if (!PyUnicode_Check(o)) {
      PyErr_Format(PyExc_TypeError, "%s must be str, not %s", what, Py_TYPE(o)->tp_name);
      return -1;
    }
    if (!(names[i] = PyUnicode_AsUTF8(o))) return -1;
  }
  return 0;
}

/* run(output_names or None, {name: array}, run_options or None) -> [outputs] */
static PyObject *session_run(PyObject *self, PyObject *args) {
  session *se = (session *)self;
  PyObject *out_obj, *feed, *ro_obj = Py_None;
  if (!PyArg_ParseTuple(args, "OO!|O", &out_obj, &PyDict_Type, &feed, &ro_obj)) return NULL;
  onyx_session *s = session_of(self);
  const onyx_run_options *ro;
  if (!s || run_options_of(ro_obj, &ro) < 0) return NULL;
  Py_ssize_t n_in = PyDict_Size(feed), n_out;
  PyObject *out_seq = NULL;
  if (out_obj == Py_None) {
    n_out = onyx_session_output_count(s);
  } else {
    if (!(out_seq = PySequence_Fast(out_obj, "output_names must be a list of str or None"))) return NULL;
    n_out = PySequence_Fast_GET_SIZE(out_seq);
  }
  /* one allocation for the call's arrays */
  size_t bytes = (size_t)n_in * (sizeof(pyonyx_input) + sizeof(char *) + sizeof(onyx_tensor *)) +
                 (size_t)n_out * (sizeof(char *) + sizeof(onyx_tensor *));
  void *mem = PyMem_Calloc(1, bytes ? bytes : 1);
  PyObject *result = NULL;
  if (!mem) {
    Py_XDECREF(out_seq);
    return PyErr_NoMemory();
  }
  pyonyx_input *ins = mem;
  onyx_tensor **in_t = (onyx_tensor **)(ins + n_in), **out_t = in_t + n_in;
  const char **in_names = (const char **)(out_t + n_out), **out_names = in_names + n_in;
  Py_ssize_t pos = 0, k = 0;
  PyObject *key, *val;
  while (PyDict_Next(feed, &pos, &key, &val)) {
    if (!PyUnicode_Check(key)) {
      PyErr_Format(PyExc_TypeError, "input names must be str, not %s", Py_TYPE(key)->tp_name);
      goto done;
    }
    if (!(in_names[k] = PyUnicode_AsUTF8(key))) goto done;
    /* the declared dtype matters only for converting non-arrays (lists,
     * scalars): arrays, the common case, skip the lookup */
    onyx_dtype want = PyArray_Check(val) ? ONYX_DTYPE_UNDEFINED : input_dtype(s, in_names[k]);
    if (pyonyx_input_from_object(val, want, in_names[k], &ins[k]) < 0) goto done;
    in_t[k] = ins[k].t;
    k++;
  }
  if (out_seq && utf8_names(out_seq, n_out, out_names, "output names") < 0) goto done;
  onyx_status *st;
  int64_t t0, t1;
  Py_BEGIN_ALLOW_THREADS t0 = now_ns();
  st = onyx_session_run_with_options(s, ro, (int)n_in, in_names, in_t, (int)n_out, out_seq ? out_names : NULL, out_t);
  t1 = now_ns();
  Py_END_ALLOW_THREADS
  se->last_run_ns = t1 - t0;
  if (st) {
    pyonyx_raise(st);
    goto done;
  }
  result = PyList_New(n_out);
  for (Py_ssize_t i = 0; i < n_out; i++) {
    const char *name = out_seq ? out_names[i] : "";
    PyObject *o = result ? pyonyx_value_to_python(out_t[i], name) : (onyx_tensor_free(out_t[i]), NULL);
    if (!o) Py_CLEAR(result);
    else PyList_SET_ITEM(result, i, o);
  }
done:
  for (Py_ssize_t i = 0; i < k; i++) pyonyx_input_release(&ins[i]);
  PyMem_Free(mem);
  Py_XDECREF(out_seq);
  return result;
}

static PyObject *session_inputs(PyObject *self, PyObject *args) {
  (void)args;
  return Py_NewRef(((session *)self)->inputs ? ((session *)self)->inputs : Py_None);
}

static PyObject *session_outputs(PyObject *self, PyObject *args) {
  (void)args;
  return Py_NewRef(((session *)self)->outputs ? ((session *)self)->outputs : Py_None);
}

static PyObject *session_metadata(PyObject *self, PyObject *args) {
  (void)args;
  return Py_NewRef(((session *)self)->meta ? ((session *)self)->meta : Py_None);
}

static PyObject *session_set_providers(PyObject *self, PyObject *arg) {
  onyx_session *s = session_of(self);
  const char *list = s ? PyUnicode_AsUTF8(arg) : NULL;
  if (!list) return NULL;
  onyx_status *st;
  Py_BEGIN_ALLOW_THREADS st = onyx_session_set_providers(s, list);
  Py_END_ALLOW_THREADS
  if (st) return pyonyx_raise(st);
  Py_RETURN_NONE;
}

static PyObject *session_node_placement(PyObject *self, PyObject *args) {
  (void)args;
  onyx_session *s = session_of(self);
  if (!s) return NULL;
  int n = onyx_session_node_count(s);
  PyObject *l = PyList_New(n);
  for (int i = 0; l && i < n; i++) {
    onyx_node_info ni;
    onyx_status *st = onyx_session_node_info(s, i, &ni);
    PyObject *d = st ? pyonyx_raise(st)
                     : Py_BuildValue("{s:s,s:s,s:s,s:s,s:z}", "name", ni.name, "op_type", ni.op_type, "domain",
                                     ni.domain, "provider", ni.provider, "fallback_reason", ni.fallback_reason);
    if (!d) Py_CLEAR(l);
    else PyList_SET_ITEM(l, i, d);
  }
  return l;
}

static PyObject *session_stats(PyObject *self, PyObject *args) {
  (void)args;
  onyx_session *s = session_of(self);
  if (!s) return NULL;
  onyx_session_stats st;
  onyx_session_stats_get(s, &st);
  return Py_BuildValue("{s:L,s:L,s:L,s:L,s:L,s:i}", "runs", (long long)st.runs, "peak_activation_bytes",
                       (long long)st.peak_activation_bytes, "weight_bytes", (long long)st.weight_bytes,
                       "naive_activation_bytes", (long long)st.naive_activation_bytes, "arena_bytes",
                       (long long)st.arena_bytes, "intra_op_threads", onyx_session_intra_op_threads(s));
}

static PyObject *session_optimize_stats(PyObject *self, PyObject *args) {
  (void)args;
  onyx_session *s = session_of(self);
  if (!s) return NULL;
  onyx_optimize_stats st;
  onyx_session_optimize_stats(s, &st);
  return pyonyx_optimize_stats(&st);
}

static PyObject *session_fallbacks(PyObject *self, PyObject *args) {
  (void)args;
  onyx_session *s = session_of(self);
  if (!s) return NULL;
  int n = onyx_session_fallback_count(s);
  PyObject *l = PyList_New(0);
  for (int i = 0; l && i < n; i++) {
    char buf[1024];
    onyx_status *st = onyx_session_fallback_entry(s, i, buf, sizeof buf);
    if (st) {   /* the log only grows, so i < n stays valid; report anything else */
      Py_DECREF(l);
      return pyonyx_raise(st);
    }
    PyObject *u = PyUnicode_DecodeUTF8(buf, (Py_ssize_t)strlen(buf), "replace");
    if (!u || PyList_Append(l, u) < 0) Py_CLEAR(l);
    Py_XDECREF(u);
  }
  return l;
}

static PyObject *session_copies(PyObject *self, PyObject *args) {
  (void)args;
  onyx_session *s = session_of(self);
  if (!s) return NULL;
  int n = onyx_session_copy_count(s);
  PyObject *l = PyList_New(n);
  for (int i = 0; l && i < n; i++) {
    onyx_copy_info c;
    onyx_status *st = onyx_session_copy_info(s, i, &c);
    PyObject *d = st ? pyonyx_raise(st)
                     : Py_BuildValue("{s:s,s:s,s:s,s:L}", "value", c.value, "from", c.from, "to", c.to, "bytes",
                                     (long long)c.bytes);
    if (!d) Py_CLEAR(l);
    else PyList_SET_ITEM(l, i, d);
  }
  return l;
}

static PyObject *session_memory_info(PyObject *self, PyObject *args) {
  (void)args;
  onyx_session *s = session_of(self);
  if (!s) return NULL;
  int n = onyx_session_memory_count(s);
  PyObject *l = PyList_New(n);
  for (int i = 0; l && i < n; i++) {
    onyx_memory_info mi;
    onyx_status *st = onyx_session_memory_info(s, i, &mi);
    PyObject *d = st ? pyonyx_raise(st)
                     : Py_BuildValue("{s:s,s:L,s:L,s:L,s:L}", "device", mi.device, "in_use", (long long)mi.in_use,
                                     "peak", (long long)mi.peak, "allocs", (long long)mi.allocs, "frees",
                                     (long long)mi.frees);
    if (!d) Py_CLEAR(l);
    else PyList_SET_ITEM(l, i, d);
  }
  return l;
}

static PyObject *session_profile_write(PyObject *self, PyObject *arg) {
  onyx_session *s = session_of(self);
  const char *path = s ? PyUnicode_AsUTF8(arg) : NULL;
  if (!path) return NULL;
  onyx_status *st = onyx_session_profile_write(s, path);
  if (st) return pyonyx_raise(st);
  onyx_session_profile_clear(s);
  Py_RETURN_NONE;
}

static PyObject *session_last_run_ns(PyObject *self, PyObject *args) {
  (void)args;
  return PyLong_FromLongLong(((session *)self)->last_run_ns);
}

static PyMethodDef session_methods[] = {
    {"run", session_run, METH_VARARGS, "run(output_names or None, feed dict, run_options=None) -> list of outputs."},
    {"inputs", session_inputs, METH_NOARGS, "[(name, type, shape)] of the model's inputs."},
    {"outputs", session_outputs, METH_NOARGS, "[(name, type, shape)] of the model's outputs."},
    {"metadata", session_metadata, METH_NOARGS, "The model's metadata as a dict."},
    {"set_providers", session_set_providers, METH_O, "Re-partitions over a comma-separated onyx provider list."},
    {"node_placement", session_node_placement, METH_NOARGS, "Where each node of the optimized graph runs."},
    {"stats", session_stats, METH_NOARGS, "Run count and memory figures."},
    {"optimize_stats", session_optimize_stats, METH_NOARGS, "What the optimizer did when the session was made."},
    {"fallbacks", session_fallbacks, METH_NOARGS, "Fallbacks made after the session was asked for its providers."},
    {"copies", session_copies, METH_NOARGS, "The copies between memory spaces the plan makes."},
    {"memory_info", session_memory_info, METH_NOARGS, "Memory spaces in use and their allocators' statistics."},
    {"profile_write", session_profile_write, METH_O, "Writes the profile as Chrome trace JSON and clears it."},
    {"last_run_ns", session_last_run_ns, METH_NOARGS, "Nanoseconds the last run spent inside onyx."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject session_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "onyx._onyx.Session",
    .tp_basicsize = sizeof(session),
    .tp_dealloc = session_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Session(model path or bytes, config dict): an onyx_session.",
    .tp_methods = session_methods,
    .tp_init = session_init,
    .tp_new = PyType_GenericNew,
};

/* ---- Value (ORT's OrtValue) ---- */

typedef struct {
  PyObject_HEAD pyonyx_input in;   /* in.t: the tensor; in.keep: the array it borrows, if any */
  PyObject *session;               /* device tensors: the session whose space holds them */
} value;

static PyTypeObject value_type;

static void value_dealloc(PyObject *self) {
  value *v = (value *)self;
  pyonyx_input_release(&v->in);   /* before the session it may belong to */
  Py_XDECREF(v->session);
  Py_TYPE(self)->tp_free(self);
}

static value *value_new(void) { return PyObject_New(value, &value_type); }

/* Value.from_array(array): a host value over the array's memory. */
static PyObject *value_from_array(PyObject *cls, PyObject *arg) {
  (void)cls;
  value *v = value_new();
  if (!v) return NULL;
  v->session = NULL;
  if (pyonyx_input_from_object(arg, ONYX_DTYPE_UNDEFINED, "OrtValue", &v->in) < 0) {
    memset(&v->in, 0, sizeof v->in);
    Py_DECREF(v);
    return NULL;
  }
  return (PyObject *)v;
}

/* A new value holding a copy of t, in t's memory space (session: the
 * owner of that space, for device tensors). */
static PyObject *value_copy_of(onyx_tensor *t, PyObject *session_obj) {
  const char *dev = onyx_tensor_device(t);
  bool host = !strcmp(dev, "cpu");
  onyx_tensor *c;
  onyx_status *s = host ? onyx_tensor_create(onyx_tensor_dtype(t), onyx_tensor_rank(t), onyx_tensor_dims(t), &c)
                        : onyx_session_tensor_create(((session *)session_obj)->s, dev, onyx_tensor_dtype(t),
                                                     onyx_tensor_rank(t), onyx_tensor_dims(t), &c);
  if (!s && (s = onyx_tensor_copy(c, t))) onyx_tensor_free(c);
  if (s) return pyonyx_raise(s);
  value *v = value_new();
  if (!v) {
    onyx_tensor_free(c);
    return NULL;
  }
  memset(&v->in, 0, sizeof v->in);
  v->in.t = c;
  v->session = host ? NULL : Py_NewRef(session_obj);
  return (PyObject *)v;
}

static PyObject *value_numpy(PyObject *self, PyObject *args) {
  (void)args;
  onyx_tensor *t = ((value *)self)->in.t, *h;
  onyx_status *s = onyx_tensor_create(onyx_tensor_dtype(t), onyx_tensor_rank(t), onyx_tensor_dims(t), &h);
  if (!s && onyx_tensor_dtype(t) == ONYX_DTYPE_STRING) {
    /* string values only come from arrays (strings live on the host): copy the array */
    onyx_tensor_free(h);
    PyObject *keep = ((value *)self)->in.keep;
    if (keep && PyArray_Check(keep)) return PyArray_NewCopy((PyArrayObject *)keep, NPY_CORDER);
    return pyonyx_raise(onyx_status_create(ONYX_ERR_NOT_IMPLEMENTED, "a string OrtValue not made from an array"));
  }
  if (!s && (s = onyx_tensor_copy(h, t))) onyx_tensor_free(h);
  if (s) return pyonyx_raise(s);
  return pyonyx_value_to_python(h, "OrtValue");
}

static PyObject *value_shape(PyObject *self, PyObject *args) {
  (void)args;
  onyx_tensor *t = ((value *)self)->in.t;
  PyObject *l = PyList_New(onyx_tensor_rank(t));
  for (int i = 0; l && i < onyx_tensor_rank(t); i++) {
    PyObject *d = PyLong_FromLongLong(onyx_tensor_dims(t)[i]);
    if (!d) Py_CLEAR(l);
    else PyList_SET_ITEM(l, i, d);
  }
  return l;
}

static PyObject *value_data_type(PyObject *self, PyObject *args) {
  (void)args;
  return PyUnicode_FromString(pyonyx_type_name(onyx_tensor_dtype(((value *)self)->in.t)));
}

static PyObject *value_device(PyObject *self, PyObject *args) {
  (void)args;
  return PyUnicode_FromString(onyx_tensor_device(((value *)self)->in.t));
}

static PyMethodDef value_methods[] = {
    {"from_array", value_from_array, METH_O | METH_CLASS, "A host value over an array's memory (no copy)."},
    {"numpy", value_numpy, METH_NOARGS, "A host copy as an ndarray."},
    {"shape", value_shape, METH_NOARGS, "The dims."},
    {"data_type", value_data_type, METH_NOARGS, "ORT's type string, e.g. tensor(float)."},
    {"device", value_device, METH_NOARGS, "The memory space: cpu, cuda:0..."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject value_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "onyx._onyx.Value",
    .tp_basicsize = sizeof(value),
    .tp_dealloc = value_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A tensor in some memory space (ORT's OrtValue).",
    .tp_methods = value_methods,
};

/* ---- IOBinding ---- */

typedef struct {
  PyObject_HEAD onyx_io_binding *b;
  PyObject *session;   /* the session object (outlives the binding) */
  PyObject *bound;     /* dict: input name -> what its tensor borrows (Value) */
} io_binding;

static int binding_init(PyObject *self, PyObject *args, PyObject *kw) {
  (void)kw;
  io_binding *ib = (io_binding *)self;
  PyObject *so;
  if (!PyArg_ParseTuple(args, "O!", &session_type, &so)) return -1;
  onyx_session *s = session_of(so);
  if (!s || ib->b) return ib->b ? 0 : -1;
  onyx_status *st = onyx_io_binding_create(s, &ib->b);
  if (st) {
    pyonyx_raise(st);
    return -1;
  }
  ib->session = Py_NewRef(so);
  if (!(ib->bound = PyDict_New())) return -1;
  return 0;
}

static void binding_dealloc(PyObject *self) {
  io_binding *ib = (io_binding *)self;
  onyx_io_binding_destroy(ib->b);   /* before the tensors it borrows and its session */
  Py_XDECREF(ib->bound);
  Py_XDECREF(ib->session);
  Py_TYPE(self)->tp_free(self);
}

/* bind_input(name, array or Value) */
static PyObject *binding_bind_input(PyObject *self, PyObject *args) {
  io_binding *ib = (io_binding *)self;
  const char *name;
  PyObject *obj, *v;
  if (!PyArg_ParseTuple(args, "sO", &name, &obj)) return NULL;
  if (PyObject_TypeCheck(obj, &value_type)) {
    v = Py_NewRef(obj);
  } else {
    value *nv = value_new();
    if (!nv) return NULL;
    nv->session = NULL;
    onyx_dtype want = input_dtype(((session *)ib->session)->s, name);
    if (pyonyx_input_from_object(obj, want, name, &nv->in) < 0) {
      memset(&nv->in, 0, sizeof nv->in);
      Py_DECREF(nv);
      return NULL;
    }
    v = (PyObject *)nv;
  }
  onyx_status *st = onyx_io_binding_bind_input(ib->b, name, ((value *)v)->in.t);
  /* the previous tensor of this name is released only now that it is no longer bound */
  int rc = st ? -1 : PyDict_SetItemString(ib->bound, name, v);
  Py_DECREF(v);
  if (st) return pyonyx_raise(st);
  if (rc < 0) return NULL;
  Py_RETURN_NONE;
}

/* bind_output(name, device string or Value) */
static PyObject *binding_bind_output(PyObject *self, PyObject *args) {
  io_binding *ib = (io_binding *)self;
  const char *name;
  PyObject *obj;
  if (!PyArg_ParseTuple(args, "sO", &name, &obj)) return NULL;
  onyx_status *st;
  if (PyObject_TypeCheck(obj, &value_type)) {
    char key[512];
    snprintf(key, sizeof key, "\x01out:%s", name);   /* output tensors are kept under a distinct key */
    st = onyx_io_binding_bind_output(ib->b, name, ((value *)obj)->in.t);
    if (!st && PyDict_SetItemString(ib->bound, key, obj) < 0) return NULL;
  } else {
    const char *dev = PyUnicode_AsUTF8(obj);
    if (!dev) return NULL;
    st = onyx_io_binding_bind_output_to_device(ib->b, name, dev);
  }
  if (st) return pyonyx_raise(st);
  Py_RETURN_NONE;
}

static PyObject *binding_clear(PyObject *self, PyObject *arg) {
  io_binding *ib = (io_binding *)self;
  int outputs = PyObject_IsTrue(arg);
  if (outputs < 0) return NULL;
  if (outputs) onyx_io_binding_clear_outputs(ib->b);
  else onyx_io_binding_clear_inputs(ib->b);
  /* drop the objects only the cleared side borrowed */
  PyObject *keys = PyDict_Keys(ib->bound);
  for (Py_ssize_t i = 0; keys && i < PyList_GET_SIZE(keys); i++) {
    const char *k = PyUnicode_AsUTF8(PyList_GET_ITEM(keys, i));
    if (k && (k[0] == '\x01') == outputs && PyDict_DelItem(ib->bound, PyList_GET_ITEM(keys, i)) < 0) Py_CLEAR(keys);
  }
  if (!keys) return NULL;
  Py_DECREF(keys);
  Py_RETURN_NONE;
}

static PyObject *binding_run(PyObject *self, PyObject *args) {
  io_binding *ib = (io_binding *)self;
  PyObject *ro_obj = Py_None;
  const onyx_run_options *ro;
  if (!PyArg_ParseTuple(args, "|O", &ro_obj) || run_options_of(ro_obj, &ro) < 0) return NULL;
  session *se = (session *)ib->session;
  onyx_status *st;
  int64_t t0, t1;
  Py_BEGIN_ALLOW_THREADS t0 = now_ns();
  st = onyx_session_run_with_binding(se->s, ro, ib->b);
  t1 = now_ns();
  Py_END_ALLOW_THREADS
  se->last_run_ns = t1 - t0;
  if (st) return pyonyx_raise(st);
  Py_RETURN_NONE;
}

/* outputs() -> [(name, Value)]: copies of the bound outputs, in their spaces */
static PyObject *binding_outputs(PyObject *self, PyObject *args) {
  (void)args;
  io_binding *ib = (io_binding *)self;
  int n = onyx_io_binding_output_count(ib->b);
  PyObject *l = PyList_New(n);
  for (int i = 0; l && i < n; i++) {
    onyx_tensor *t = onyx_io_binding_output(ib->b, i);
    PyObject *v = t ? value_copy_of(t, ib->session)
                    : pyonyx_raise(onyx_status_create(ONYX_ERR_INVALID_ARGUMENT,
                                                      "output '%s' has no value before a run",
                                                      onyx_io_binding_output_name(ib->b, i)));
    PyObject *item = v ? Py_BuildValue("(sN)", onyx_io_binding_output_name(ib->b, i), v) : NULL;
    if (!item) Py_CLEAR(l);
    else PyList_SET_ITEM(l, i, item);
  }
  return l;
}

static PyMethodDef binding_methods[] = {
    {"bind_input", binding_bind_input, METH_VARARGS, "bind_input(name, array or Value)."},
    {"bind_output", binding_bind_output, METH_VARARGS, "bind_output(name, device string or Value)."},
    {"clear", binding_clear, METH_O, "clear(outputs: bool): clears the inputs or the outputs."},
    {"run", binding_run, METH_VARARGS, "run(run_options=None) with the bound inputs and outputs."},
    {"outputs", binding_outputs, METH_NOARGS, "[(name, Value)]: copies of the outputs of the last run."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject binding_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "onyx._onyx.IOBinding",
    .tp_basicsize = sizeof(io_binding),
    .tp_dealloc = binding_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "IOBinding(session): an onyx_io_binding.",
    .tp_methods = binding_methods,
    .tp_init = binding_init,
    .tp_new = PyType_GenericNew,
};

int pyonyx_session_types_init(PyObject *m) {
  PyTypeObject *types[] = {&view_type, &ro_type, &session_type, &value_type, &binding_type};
  const char *names[] = {"GraphView", "RunOptions", "Session", "Value", "IOBinding"};
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
    if (PyType_Ready(types[i]) < 0 || PyModule_AddObjectRef(m, names[i], (PyObject *)types[i]) < 0) return -1;
  return 0;
}
