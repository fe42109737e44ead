/* npy.h — NumPy .npy files for the CLI: parse, load into an onyx_tensor, save.
 *
 * The .npy format (numpy/lib/format.py) is a magic string, a version, a
 * little-endian header length and a Python dict literal such as
 * {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } followed by the
 * raw data. onyx reads versions 1.0, 2.0 and 3.0, little-endian, C order,
 * and the dtypes onyx and numpy share (float16/32/64, int8..64, uint8..64,
 * bool); everything else is refused with a message saying why. The parser
 * treats the file as hostile: it never reads outside the buffer and checks
 * every size before multiplying. Errors are written as one line into a
 * caller buffer, since the CLI prints them itself. */
#ifndef ONYX_TOOLS_NPY_H
#define ONYX_TOOLS_NPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "onyx.h"

typedef struct npy_header {
  onyx_dtype dtype;
  int rank;
  int64_t dims[ONYX_MAX_RANK];
  size_t data_offset;   /* bytes from the start of the file to the data */
  size_t data_bytes;    /* bytes of data the shape needs (all present in the buffer) */
} npy_header;

/* True when buf starts with the .npy magic string. */
bool npy_has_magic(const void *buf, size_t len);

/* Parses the .npy file held in buf[0..len) and checks that its data is all
 * there. On failure returns false and writes a message into err. */
bool npy_parse(const void *buf, size_t len, npy_header *h, char *err, size_t errlen);

/* Parses buf as npy_parse does and copies the data into a new tensor
 * (*out, caller frees with onyx_tensor_free). Bool bytes are normalised to
 * 0/1. */
bool npy_to_tensor(const void *buf, size_t len, onyx_tensor **out, char *err, size_t errlen);

/* Reads the .npy file at path into a new tensor. */
bool npy_load(const char *path, onyx_tensor **out, char *err, size_t errlen);

/* True when .npy can hold a tensor of dtype (see the list above). */
bool npy_dtype_supported(onyx_dtype dtype);

/* Writes tensor t (a plain tensor of a supported dtype) to path as .npy
 * version 1.0, header padded to 64 bytes as numpy does. */
bool npy_save(const char *path, onyx_tensor *t, char *err, size_t errlen);

#endif
