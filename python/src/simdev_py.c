/* simdev_py.c — SimDevice, the simulated discrete device of tests/simdev
 * exposed to Python, in test builds only (ONYX_PY_SIMDEV), so the Python
 * suite tests fallback, mixed execution with device copies, provider
 * switching and device-lost recovery on machines without a GPU. It is the
 * one file of the extension that uses onyx's internal API (it attaches a
 * provider instance to the options, as the C tests do). */
#include "pyonyx.h"

#include "exec/session_internal.h"
#include "simdev.h"

typedef struct {
  PyObject_HEAD onyx_provider *p;
} sim_device;

static PyTypeObject sim_type;

static int sim_init(PyObject *self, PyObject *args, PyObject *kw) {
  static char *kwlist[] = {"pool_mb", NULL};
  int pool_mb = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "|i", kwlist, &pool_mb)) return -1;
  sim_device *d = (sim_device *)self;
  if (d->p) return 0;
  onyx_status *s = simdev_create(pool_mb, &d->p);
  if (s) {
    pyonyx_raise(s);
    return -1;
  }
  return 0;
}

static void sim_dealloc(PyObject *self) {
  simdev_destroy(((sim_device *)self)->p);
  Py_TYPE(self)->tp_free(self);
}

static int64_t arg_i64(PyObject *arg, int *err) {
  long long v = PyLong_AsLongLong(arg);
  *err = v == -1 && PyErr_Occurred();
  return v;
}

static PyObject *sim_fail_alloc_at(PyObject *self, PyObject *arg) {
  int err;
  int64_t n = arg_i64(arg, &err);
  if (err) return NULL;
  simdev_fail_alloc_at(((sim_device *)self)->p, n);
  Py_RETURN_NONE;
}

static PyObject *sim_lose_device_at(PyObject *self, PyObject *arg) {
  int err;
  int64_t n = arg_i64(arg, &err);
  if (err) return NULL;
  simdev_lose_device_at(((sim_device *)self)->p, n);
  Py_RETURN_NONE;
}

static PyObject *sim_set_kernel_delay(PyObject *self, PyObject *arg) {
  int err;
  int64_t us = arg_i64(arg, &err);
  if (err) return NULL;
  simdev_set_kernel_delay(((sim_device *)self)->p, (int)us);
  Py_RETURN_NONE;
}

static PyObject *sim_counts(PyObject *self, PyObject *args) {
  (void)args;
  simdev_counts c;
  simdev_get_counts(((sim_device *)self)->p, &c);
  return Py_BuildValue("{s:L,s:L,s:L,s:L,s:L,s:L,s:L,s:L}", "kernels", (long long)c.kernels, "copies_in",
                       (long long)c.copies_in, "copies_out", (long long)c.copies_out, "copies_on",
                       (long long)c.copies_on, "allocs", (long long)c.allocs, "frees", (long long)c.frees,
                       "bytes_in", (long long)c.bytes_in, "bytes_out", (long long)c.bytes_out);
}

static PyMethodDef sim_methods[] = {
    {"fail_alloc_at", sim_fail_alloc_at, METH_O, "The n-th allocation from now fails, once (<= 0: none)."},
    {"lose_device_at", sim_lose_device_at, METH_O, "The n-th kernel queued from now loses the device (<= 0: never)."},
    {"set_kernel_delay", sim_set_kernel_delay, METH_O, "Sleeps this many microseconds before each kernel."},
    {"counts", sim_counts, METH_NOARGS, "What the device did so far."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject sim_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "onyx._onyx.SimDevice",
    .tp_basicsize = sizeof(sim_device),
    .tp_dealloc = sim_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "SimDevice(pool_mb=0): the test-only simulated device (provider 'simdev').",
    .tp_methods = sim_methods,
    .tp_init = sim_init,
    .tp_new = PyType_GenericNew,
};

int pyonyx_simdev_init(PyObject *m) {
  if (PyType_Ready(&sim_type) < 0) return -1;
  return PyModule_AddObjectRef(m, "SimDevice", (PyObject *)&sim_type);
}

int pyonyx_simdev_attach(onyx_options *o, PyObject *dev) {
  if (!PyObject_TypeCheck(dev, &sim_type) || !((sim_device *)dev)->p) {
    PyErr_Format(PyExc_TypeError, "expected an initialised onyx._onyx.SimDevice, not %s", Py_TYPE(dev)->tp_name);
    return -1;
  }
  onyx_status *s = onyx_options_add_provider(o, ((sim_device *)dev)->p);
  if (s) {
    pyonyx_raise(s);
    return -1;
  }
  return 0;
}
