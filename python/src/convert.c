/* convert.c — NumPy arrays to onyx tensors and back, without copies where
 * the memory allows.
 *
 * In: a C-contiguous, aligned, native-order array of a dtype onyx has is
 * lent to onyx as it is (onyx_tensor_borrow); anything else is first made
 * into such an array (np.ascontiguousarray's copy). Out: an output tensor
 * becomes an ndarray over its own memory, with a small owner object as the
 * array's base, so the tensor lives exactly as long as the array (and any
 * view of it) does. Strings cross as Python str (NumPy object arrays), as
 * they do in onnxruntime. */
#include "pyonyx.h"

#include <string.h>

int pyonyx_npy_type(onyx_dtype t) {
  switch (t) {
    case ONYX_DTYPE_FLOAT: return NPY_FLOAT32;
    case ONYX_DTYPE_UINT8: return NPY_UINT8;
    case ONYX_DTYPE_INT8: return NPY_INT8;
    case ONYX_DTYPE_UINT16: return NPY_UINT16;
    case ONYX_DTYPE_INT16: return NPY_INT16;
    case ONYX_DTYPE_INT32: return NPY_INT32;
    case ONYX_DTYPE_INT64: return NPY_INT64;
    case ONYX_DTYPE_STRING: return NPY_OBJECT;
    case ONYX_DTYPE_BOOL: return NPY_BOOL;
    case ONYX_DTYPE_FLOAT16: return NPY_FLOAT16;
    case ONYX_DTYPE_DOUBLE: return NPY_FLOAT64;
    case ONYX_DTYPE_UINT32: return NPY_UINT32;
    case ONYX_DTYPE_UINT64: return NPY_UINT64;
    case ONYX_DTYPE_COMPLEX64: return NPY_COMPLEX64;
    case ONYX_DTYPE_COMPLEX128: return NPY_COMPLEX128;
    default: return -1;
  }
}

onyx_dtype pyonyx_dtype_of(PyArrayObject *a) {
  PyArray_Descr *d = PyArray_DESCR(a);
  int size = (int)d->elsize;
  switch (d->kind) {
    case 'f':
      return size == 4 ? ONYX_DTYPE_FLOAT : size == 8 ? ONYX_DTYPE_DOUBLE : size == 2 ? ONYX_DTYPE_FLOAT16
                                                                                      : ONYX_DTYPE_UNDEFINED;
    case 'i':
      return size == 1 ? ONYX_DTYPE_INT8 : size == 2 ? ONYX_DTYPE_INT16 : size == 4 ? ONYX_DTYPE_INT32
             : size == 8                                                             ? ONYX_DTYPE_INT64
                                                                                     : ONYX_DTYPE_UNDEFINED;
    case 'u':
      return size == 1 ? ONYX_DTYPE_UINT8 : size == 2 ? ONYX_DTYPE_UINT16 : size == 4 ? ONYX_DTYPE_UINT32
             : size == 8                                                              ? ONYX_DTYPE_UINT64
                                                                                      : ONYX_DTYPE_UNDEFINED;
    case 'b': return ONYX_DTYPE_BOOL;
    case 'c': return size == 8 ? ONYX_DTYPE_COMPLEX64 : size == 16 ? ONYX_DTYPE_COMPLEX128 : ONYX_DTYPE_UNDEFINED;
    case 'O':
    case 'U':
    case 'S': return ONYX_DTYPE_STRING;
    default: return ONYX_DTYPE_UNDEFINED;
  }
}

const char *pyonyx_type_name(onyx_dtype t) {
  static const char *const names[ONYX_DTYPE_COUNT_] = {
      [ONYX_DTYPE_FLOAT] = "tensor(float)",        [ONYX_DTYPE_UINT8] = "tensor(uint8)",
      [ONYX_DTYPE_INT8] = "tensor(int8)",          [ONYX_DTYPE_UINT16] = "tensor(uint16)",
      [ONYX_DTYPE_INT16] = "tensor(int16)",        [ONYX_DTYPE_INT32] = "tensor(int32)",
      [ONYX_DTYPE_INT64] = "tensor(int64)",        [ONYX_DTYPE_STRING] = "tensor(string)",
      [ONYX_DTYPE_BOOL] = "tensor(bool)",          [ONYX_DTYPE_FLOAT16] = "tensor(float16)",
      [ONYX_DTYPE_DOUBLE] = "tensor(double)",      [ONYX_DTYPE_UINT32] = "tensor(uint32)",
      [ONYX_DTYPE_UINT64] = "tensor(uint64)",      [ONYX_DTYPE_COMPLEX64] = "tensor(complex64)",
      [ONYX_DTYPE_COMPLEX128] = "tensor(complex128)", [ONYX_DTYPE_BFLOAT16] = "tensor(bfloat16)",
      [ONYX_DTYPE_FLOAT8E4M3FN] = "tensor(float8e4m3fn)", [ONYX_DTYPE_FLOAT8E4M3FNUZ] = "tensor(float8e4m3fnuz)",
      [ONYX_DTYPE_FLOAT8E5M2] = "tensor(float8e5m2)", [ONYX_DTYPE_FLOAT8E5M2FNUZ] = "tensor(float8e5m2fnuz)",
      [ONYX_DTYPE_UINT4] = "tensor(uint4)",        [ONYX_DTYPE_INT4] = "tensor(int4)",
  };
  return t > 0 && t < ONYX_DTYPE_COUNT_ && names[t] ? names[t] : "tensor(undefined)";
}

static PyObject *raise_input(const char *name, const char *what) {
  return pyonyx_raise(onyx_status_create(ONYX_ERR_INVALID_ARGUMENT, "input '%s': %s", name, what));
}

/* The array as onyx can borrow it: C-contiguous, aligned, native byte
 * order. A new reference (the same object when it already is). */
static PyArrayObject *borrowable(PyArrayObject *a) {
  PyArray_Descr *want = NULL;
  if (!PyArray_ISNOTSWAPPED(a)) want = PyArray_DescrNewByteorder(PyArray_DESCR(a), NPY_NATIVE);
  return (PyArrayObject *)PyArray_FromAny((PyObject *)a, want, 0, 0, NPY_ARRAY_IN_ARRAY, NULL);
}

/* String elements as UTF-8 pointers into Python objects that `keep` (an
 * object array) holds. */
static int string_input(PyArrayObject *a, const char *name, int rank, const int64_t *dims, pyonyx_input *out) {
  PyArrayObject *objs = (PyArrayObject *)PyArray_FromAny((PyObject *)a, PyArray_DescrFromType(NPY_OBJECT), 0, 0,
                                                         NPY_ARRAY_IN_ARRAY | NPY_ARRAY_FORCECAST, NULL);
  if (!objs) return -1;
  npy_intp n = PyArray_SIZE(objs);
  char **strs = PyMem_Calloc(n ? (size_t)n : 1, sizeof(char *));
  if (!strs) {
    Py_DECREF(objs);
    PyErr_NoMemory();
    return -1;
  }
  PyObject **items = PyArray_DATA(objs);
  for (npy_intp i = 0; i < n; i++) {
    PyObject *o = items[i];
    if (PyUnicode_Check(o)) {
      strs[i] = (char *)PyUnicode_AsUTF8(o);
    } else if (PyBytes_Check(o)) {
      strs[i] = PyBytes_AS_STRING(o);
    } else {
      PyMem_Free(strs);
      Py_DECREF(objs);
      raise_input(name, "a string tensor holds an element that is neither str nor bytes");
      return -1;
    }
    if (!strs[i]) {
      PyMem_Free(strs);
      Py_DECREF(objs);
      return -1;
    }
  }
  onyx_status *s = onyx_tensor_borrow(ONYX_DTYPE_STRING, rank, dims, strs, (size_t)n * sizeof(char *), &out->t);
  if (s) {
    PyMem_Free(strs);
    Py_DECREF(objs);
    pyonyx_raise(s);
    return -1;
  }
  out->keep = (PyObject *)objs;
  out->strings = strs;
  return 0;
}

int pyonyx_input_from_object(PyObject *obj, onyx_dtype want, const char *name, pyonyx_input *out) {
  memset(out, 0, sizeof *out);
  PyArrayObject *a;
  if (PyArray_Check(obj)) {
    Py_INCREF(obj);
    a = (PyArrayObject *)obj;
  } else {
    /* ORT converts a list or scalar to the input's declared type */
    int npy = pyonyx_npy_type(want);
    a = (PyArrayObject *)PyArray_FromAny(obj, npy >= 0 ? PyArray_DescrFromType(npy) : NULL, 0, 0, 0, NULL);
    if (!a) {
      onyx_status *s = pyonyx_status_from_exception(ONYX_ERR_INVALID_ARGUMENT, "converting it to an array");
      raise_input(name, onyx_status_message(s));
      onyx_status_free(s);
      return -1;
    }
  }
  int rank = PyArray_NDIM(a);
  if (rank > ONYX_MAX_RANK) {
    Py_DECREF(a);
    raise_input(name, "has more dims than onyx supports (12)");
    return -1;
  }
  int64_t dims[ONYX_MAX_RANK];
  for (int i = 0; i < rank; i++) dims[i] = PyArray_DIM(a, i);
  onyx_dtype dt = pyonyx_dtype_of(a);
  if (dt == ONYX_DTYPE_UNDEFINED) {
    PyObject *r = PyObject_Repr((PyObject *)PyArray_DESCR(a));
    pyonyx_raise(onyx_status_create(ONYX_ERR_INVALID_ARGUMENT, "input '%s': NumPy dtype %s has no ONNX type", name,
                                    r ? PyUnicode_AsUTF8(r) : "?"));
    Py_XDECREF(r);
    Py_DECREF(a);
    return -1;
  }
  if (dt == ONYX_DTYPE_STRING) {
    int rc = string_input(a, name, rank, dims, out);
    Py_DECREF(a);
    return rc;
  }
  PyArrayObject *b = borrowable(a);
  Py_DECREF(a);
  if (!b) return -1;
  onyx_status *s = onyx_tensor_borrow(dt, rank, dims, PyArray_DATA(b), (size_t)PyArray_NBYTES(b), &out->t);
  if (s) {
    Py_DECREF(b);
    pyonyx_raise(s);
    return -1;
  }
  out->keep = (PyObject *)b;
  return 0;
}

void pyonyx_input_release(pyonyx_input *in) {
  onyx_tensor_free(in->t);
  PyMem_Free(in->strings);
  Py_XDECREF(in->keep);
  memset(in, 0, sizeof *in);
}

onyx_status *pyonyx_tensor_copy_from(PyObject *obj, const char *name, onyx_tensor **out) {
  pyonyx_input in;
  if (pyonyx_input_from_object(obj, ONYX_DTYPE_UNDEFINED, name, &in) < 0)
    return pyonyx_status_from_exception(ONYX_ERR_INVALID_ARGUMENT, "a calibration sample");
  onyx_status *s = NULL;
  onyx_tensor *t = NULL;
  if (onyx_tensor_dtype(in.t) == ONYX_DTYPE_STRING)
    s = onyx_status_create(ONYX_ERR_NOT_IMPLEMENTED, "input '%s': string calibration samples", name);
  else
    s = onyx_tensor_create(onyx_tensor_dtype(in.t), onyx_tensor_rank(in.t), onyx_tensor_dims(in.t), &t);
  if (!s && onyx_tensor_nbytes(t)) memcpy(onyx_tensor_data(t), onyx_tensor_data(in.t), onyx_tensor_nbytes(t));
  pyonyx_input_release(&in);
  if (!s) *out = t;
  return s;
}

/* ---- outputs ---- */

/* Keeps an onyx tensor alive as the base of the arrays reading it. */
typedef struct {
  PyObject_HEAD onyx_tensor *t;
} tensor_owner;

static void owner_dealloc(PyObject *self) {
  onyx_tensor_free(((tensor_owner *)self)->t);
  Py_TYPE(self)->tp_free(self);
}

static PyTypeObject owner_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "onyx._onyx.TensorMemory",
    .tp_basicsize = sizeof(tensor_owner),
    .tp_dealloc = owner_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The onyx tensor whose memory an output array reads.",
};

int pyonyx_convert_init(void) { return PyType_Ready(&owner_type); }

static PyObject *new_owner(onyx_tensor *t) {
  tensor_owner *o = PyObject_New(tensor_owner, &owner_type);
  if (!o) {
    onyx_tensor_free(t);
    return NULL;
  }
  o->t = t;
  return (PyObject *)o;
}

static PyObject *string_array(onyx_tensor *t, int rank, npy_intp *dims) {
  PyArrayObject *a = (PyArrayObject *)PyArray_SimpleNew(rank, dims, NPY_OBJECT);
  if (!a) return NULL;
  char **s = onyx_tensor_data(t);
  PyObject **items = PyArray_DATA(a);
  for (int64_t i = 0; i < onyx_tensor_numel(t); i++) {
    PyObject *u = PyUnicode_DecodeUTF8(s[i] ? s[i] : "", s[i] ? (Py_ssize_t)strlen(s[i]) : 0, "surrogateescape");
    if (!u) {
      Py_DECREF(a);
      return NULL;
    }
    Py_XSETREF(items[i], u);
  }
  return (PyObject *)a;
}

/* t as Python; `owner` (borrowed, may be NULL) already keeps t's memory
 * alive (t is an element of a sequence it owns); without one, t is owned
 * and is given an owner or freed here. */
static PyObject *to_python(onyx_tensor *t, PyObject *owner, const char *name) {
  onyx_value_kind kind = onyx_tensor_kind(t);
  PyObject *r = NULL;
  if (kind != ONYX_VALUE_TENSOR) {
    PyObject *own = owner;
    if (!own && !(own = new_owner(t))) return NULL;
    int n = onyx_tensor_elem_count(t);
    if (kind == ONYX_VALUE_OPTIONAL) {
      r = n ? to_python(onyx_tensor_elem(t, 0), own, name) : Py_NewRef(Py_None);
    } else {
      r = PyList_New(n);
      for (int i = 0; r && i < n; i++) {
        PyObject *e = to_python(onyx_tensor_elem(t, i), own, name);
        if (!e) Py_CLEAR(r);
        else PyList_SET_ITEM(r, i, e);
      }
    }
    if (own != owner) Py_DECREF(own);
    return r;
  }
  if (strcmp(onyx_tensor_device(t), "cpu") != 0) {   /* device memory: the array gets a host copy */
    onyx_tensor *h;
    onyx_status *s = onyx_tensor_create(onyx_tensor_dtype(t), onyx_tensor_rank(t), onyx_tensor_dims(t), &h);
    if (!s && (s = onyx_tensor_copy(h, t))) onyx_tensor_free(h);
    if (!owner) onyx_tensor_free(t);
    if (s) return pyonyx_raise(s);
    t = h;
    owner = NULL;
  }
  int rank = onyx_tensor_rank(t);
  npy_intp dims[ONYX_MAX_RANK];
  for (int i = 0; i < rank; i++) dims[i] = (npy_intp)onyx_tensor_dims(t)[i];
  int npy = pyonyx_npy_type(onyx_tensor_dtype(t));
  if (npy < 0) {
    r = pyonyx_raise(onyx_status_create(ONYX_ERR_NOT_IMPLEMENTED, "output '%s' has dtype %s, which NumPy cannot hold",
                                        name, onyx_dtype_name(onyx_tensor_dtype(t))));
  } else if (npy == NPY_OBJECT) {
    r = string_array(t, rank, dims);
  } else if (onyx_tensor_numel(t) == 0) {
    r = PyArray_ZEROS(rank, dims, npy, 0);
  } else {
    PyObject *own = owner ? Py_NewRef(owner) : new_owner(t);
    if (!own) return NULL;   /* new_owner freed t */
    r = PyArray_NewFromDescr(&PyArray_Type, PyArray_DescrFromType(npy), rank, dims, NULL, onyx_tensor_data(t),
                             NPY_ARRAY_CARRAY, NULL);
    if (!r || PyArray_SetBaseObject((PyArrayObject *)r, own) < 0) {   /* steals own, also on failure */
      Py_XDECREF(r);
      if (!r) Py_DECREF(own);
      return NULL;
    }
    return r;
  }
  if (!owner) onyx_tensor_free(t);
  return r;
}

PyObject *pyonyx_value_to_python(onyx_tensor *t, const char *name) { return to_python(t, NULL, name); }
