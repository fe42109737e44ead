/* pyonyx.h — what the files of the CPython extension `onyx._onyx` share.
 *
 * The extension is a thin layer over the public C API (onyx.h): the
 * ONNX Runtime-shaped classes (InferenceSession, SessionOptions,
 * onyx.quantization...) are written in Python on top of it (python/onyx/),
 * as onnxruntime's are over its pybind11 module, so a run costs one C call
 * plus the conversions of its inputs and outputs. The files: module.c
 * (module, exceptions, system and provider queries, quantize, optimize),
 * convert.c (NumPy arrays <-> onyx tensors), session.c (Session, RunOptions,
 * IOBinding, Value, custom passes) and simdev_py.c (the simulated device,
 * in test builds only). */
#ifndef PYONYX_H
#define PYONYX_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* Every file includes NumPy's API through this header; only module.c
 * defines the table (import_array). */
#define PY_ARRAY_UNIQUE_SYMBOL pyonyx_ARRAY_API
#ifndef PYONYX_MODULE_C
#define NO_IMPORT_ARRAY
#endif
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#include "onyx.h"

/* ---- errors (module.c) ---- */

/* Raises the Python exception that mirrors s's code (ORT's classes:
 * InvalidArgument, NoSuchFile, InvalidModel (an InvalidProtobuf and an
 * InvalidGraph), NotImplemented, RuntimeException, EPFail, Fail) with s's
 * message, frees s and returns NULL. s must not be NULL. */
PyObject *pyonyx_raise(onyx_status *s);
/* The status of the Python exception now set (cleared), for returning from
 * a C callback: "<where> raised <type>: <message>" with code `code`. */
onyx_status *pyonyx_status_from_exception(onyx_code code, const char *where);

/* The dict of what an optimization did (onyx_optimize_stats). */
PyObject *pyonyx_optimize_stats(const onyx_optimize_stats *st);

/* ---- conversions (convert.c) ---- */

/* The NumPy type number for an onyx dtype; -1 when NumPy has none
 * (bfloat16, float8, int4). STRING maps to NPY_OBJECT (Python str). */
int pyonyx_npy_type(onyx_dtype t);
/* The onyx dtype of an array's elements; UNDEFINED when none fits. */
onyx_dtype pyonyx_dtype_of(PyArrayObject *a);
/* ORT's type string for a dtype ("tensor(float)" without the kind). */
const char *pyonyx_type_name(onyx_dtype t);

/* An input ready for a run: a tensor borrowing the array's memory where its
 * layout allows (zero-copy), else a contiguous copy. `keep` receives the
 * objects that must live as long as the tensor (the array, the UTF-8 of
 * strings); release with pyonyx_input_release. */
typedef struct pyonyx_input {
  onyx_tensor *t;
  PyObject *keep;     /* owned reference, or NULL */
  char **strings;     /* PyMem array of a string tensor's pointers, or NULL */
} pyonyx_input;

/* Converts `obj` (an ndarray, or anything np.asarray takes, converted to
 * `want` when it is not already an array; want UNDEFINED: as it comes) for
 * input `name`. Errors raise InvalidArgument naming it and return -1. */
int pyonyx_input_from_object(PyObject *obj, onyx_dtype want, const char *name, pyonyx_input *out);
void pyonyx_input_release(pyonyx_input *in);

/* Converts an onyx value into Python, taking ownership of t: a tensor
 * becomes an ndarray that keeps t alive and reads its memory (no copy), a
 * sequence a list, an optional its value or None. Device tensors are
 * copied to the host first. NULL with an exception set on failure (t is
 * freed either way). */
PyObject *pyonyx_value_to_python(onyx_tensor *t, const char *name);

/* A new host tensor owning a copy of `obj`'s data (for calibration samples,
 * whose ownership passes to onyx). */
onyx_status *pyonyx_tensor_copy_from(PyObject *obj, const char *name, onyx_tensor **out);

/* ---- types (session.c, simdev_py.c) ---- */

int pyonyx_convert_init(void);
int pyonyx_session_types_init(PyObject *module);
#ifdef ONYX_PY_SIMDEV
int pyonyx_simdev_init(PyObject *module);
/* Makes the simulated device `dev` (a SimDevice) selectable as "simdev" in
 * o's provider list; the caller keeps dev alive as long as sessions made
 * with o. -1 with an exception set when dev is not a SimDevice. */
int pyonyx_simdev_attach(onyx_options *o, PyObject *dev);
#endif

#endif
