/* npy.h — NumPy .npy files for the CLI: parse, load into an onyx_tensor,
 * save; and .npz archives of them (np.savez), read by array name.
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

/* ---- .npz ------------------------------------------------------------------
 * np.savez writes a zip archive with one member per array, "<name>.npy",
 * stored uncompressed (zip method 0); these are read from the archive in
 * memory after a CRC-32 check. np.savez_compressed deflates its members:
 * onyx links no zlib, so those are refused with a message saying so. The
 * zip structures are parsed as hostile input, like .npy headers. */

typedef struct npz_member {
  char *name;           /* the array's name: the member's, less ".npy" (owned) */
  int method;           /* zip compression method: 0 stored, 8 deflate */
  uint32_t crc;
  size_t offset, size;  /* of the member's data in the archive */
  uint64_t usize;       /* its size uncompressed */
} npz_member;

typedef struct npz {
  const unsigned char *buf;   /* the archive (borrowed, or `owned`) */
  size_t len;
  unsigned char *owned;       /* the bytes npz_open read, or NULL */
  int n;
  npz_member *m;
} npz;

/* Indexes the archive in buf[0..len) (borrowed: it must outlive z). On
 * failure returns false with a message in err and z empty. */
bool npz_parse(const void *buf, size_t len, npz *z, char *err, size_t errlen);
/* Reads the archive at path and indexes it; messages name the file. */
bool npz_open(const char *path, npz *z, char *err, size_t errlen);
/* The array called name as a new tensor (caller frees). Fails, saying why,
 * when it is absent (the message lists those present), compressed, or
 * corrupt. */
bool npz_get(const npz *z, const char *name, onyx_tensor **out, char *err, size_t errlen);
/* Frees what z holds (the archive too, when npz_open read it). */
void npz_close(npz *z);

#endif
