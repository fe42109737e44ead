/* onnx_private.h — what the files of src/onnx share, and the only header that
 * includes the protobuf-c code generated from onnx.proto.
 *
 * The protobuf structs never leave src/onnx: load.c turns a ModelProto into
 * the IR, save.c builds one from the IR, tensor_pb.c converts TensorProto and
 * reads/writes the .pb files of ONNX's test data, and pb_util.c holds the
 * plumbing (an allocator routed through base/alloc.h so fault injection
 * reaches protobuf-c, a bump arena for building messages, file mapping, and a
 * small wire-format reader/writer for SequenceProto/OptionalProto, which the
 * system's onnx.proto does not define). */
#ifndef ONYX_ONNX_PRIVATE_H
#define ONYX_ONNX_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "base/tensor.h"
#include "onnx.pb-c.h"

/* ---- allocation ----------------------------------------------------------- */

/* A protobuf-c allocator over onyx_malloc/onyx_free that remembers whether
 * an allocation failed (protobuf-c's unpack returns only NULL, so this is
 * how out-of-memory is told apart from malformed bytes). Pass &a->base to
 * protobuf-c; one per call, on the stack. */
typedef struct onyx_pb_alloc {
  ProtobufCAllocator base;
  bool failed;
} onyx_pb_alloc;
void onyx_pb_alloc_init(onyx_pb_alloc *a);
/* Frees a bytes field of a message unpacked with onyx_pb_alloc and leaves it
 * empty (free_unpacked then skips it). */
void onyx_pb_drop_bytes(ProtobufCBinaryData *b);

/* A bump arena for the short-lived protobuf structs built while saving:
 * everything is released at once by onyx_arena_free. */
typedef struct onyx_arena onyx_arena;
onyx_arena *onyx_arena_new(void);
void onyx_arena_free(onyx_arena *a);
/* Zeroed memory for `count` * `size` bytes, or NULL on out-of-memory. */
void *onyx_arena_alloc(onyx_arena *a, size_t count, size_t size);
char *onyx_arena_strdup(onyx_arena *a, const char *s);

/* ---- files ------------------------------------------------------------------ */

/* Maps `path` read-only. An empty file maps to a non-NULL dummy with *len 0.
 * Errors: NOT_FOUND (missing file), IO. Release with onyx_unmap_file. */
onyx_status *onyx_map_file(const char *path, void **data, size_t *len);
/* Maps all of the open file `fd` (of `len` > 0 bytes) private and writable:
 * writes stay in this process. NULL on failure. */
void *onyx_map_fd_cow(int fd, size_t len);
void onyx_unmap_file(void *p, size_t n);
/* Writes `len` bytes to `path`, replacing it only once all are written
 * (a temporary file beside it, renamed over it): on failure the old file,
 * if any, is intact and no temporary file is left. */
onyx_status *onyx_write_file(const char *path, const void *data, size_t len);
/* Test hook: the next onyx_write_file stops after `bytes` bytes as if the
 * disk were full (ENOSPC); -1 turns it off. */
void onyx_write_fail_after(int64_t bytes);

/* ---- tensors ---------------------------------------------------------------- */

/* Where external data goes during one model load. The first external file
 * that holds a 64-byte aligned tensor is mapped whole, copy-on-write, and
 * the mapping handed to the model (model->map, released with it); aligned
 * tensors of that file then borrow it instead of being copied. */
typedef struct onyx_ext_files {
  onyx_model *model;          /* receives the mapping */
  char *path;                 /* resolved path of the mapped file (owned), or NULL */
} onyx_ext_files;

/* Converts a TensorProto into a new tensor (owning its data, or borrowing
 * the model's mapping of an external file when `ext` is given). `dir` is
 * the folder external data resolves against (NULL refuses external data);
 * `what` names the tensor's role for messages ("initializer 'w'"). Errors:
 * INVALID_MODEL for malformed or inconsistent data, NOT_IMPLEMENTED for
 * unsupported encodings (segments, unknown dtypes), NOT_FOUND for a missing
 * external file. */
onyx_status *onyx_tensor_from_proto(const Onnx__TensorProto *tp, const char *dir,
                                    onyx_ext_files *ext, const char *what, onyx_tensor **out);
/* Fills `tp` (initialised by the caller) from a dense tensor, raw_data
 * borrowing t's bytes (t must outlive tp). `name` may be NULL. Strings go to
 * string_data, allocated in `a`. */
onyx_status *onyx_tensor_to_proto(const onyx_tensor *t, const char *name, onyx_arena *a,
                                  Onnx__TensorProto *tp);

/* ---- model-local functions (functions.c) ------------------------------------- */

/* The functions of one ModelProto, looked up by (domain, name, overload),
 * and the set of value names the model uses (so inlined values get fresh
 * ones). Borrows mp, which must outlive it. Errors: INVALID_MODEL for a
 * nameless or twice-defined function or a malformed default attribute. */
typedef struct onyx_fn_lib onyx_fn_lib;
onyx_status *onyx_fn_lib_create(const Onnx__ModelProto *mp, onyx_fn_lib **out);
void onyx_fn_lib_destroy(onyx_fn_lib *lib);            /* accepts NULL */
/* The function node np calls (matching domain, op_type and overload), or
 * *out NULL. lib may be NULL (no functions). */
onyx_status *onyx_fn_lib_find(const onyx_fn_lib *lib, const Onnx__NodeProto *np,
                              const Onnx__FunctionProto **out);

/* One call being inlined: names and attributes of the function's body as
 * they read in the calling graph. A NULL scope is the model's own graphs
 * (names and attributes as written). Scopes nest like calls, the caller's
 * outliving the callee's. */
typedef struct onyx_fn_scope onyx_fn_scope;
/* Opens the scope of `call` (in scope `caller`) to function fp of lib.
 * Errors: INVALID_MODEL naming the function for recursion, calls nested too
 * deep, or more actual inputs/outputs than formal ones. */
onyx_status *onyx_fn_scope_enter(onyx_fn_lib *lib, onyx_fn_scope *caller, const Onnx__NodeProto *call,
                                 const Onnx__FunctionProto *fp, onyx_fn_scope **out);
void onyx_fn_scope_leave(onyx_fn_scope *sc);           /* accepts NULL */
/* The name `name` of sc's body has in the calling graph (formal inputs and
 * outputs: the actual ones, "" for an omitted input; other values: a fresh
 * private name). *out is valid while sc is open. */
onyx_status *onyx_fn_scope_name(onyx_fn_scope *sc, const char *name, const char **out);
/* Actual name bound to formal output i (a private one when the caller does
 * not take it). */
const char *onyx_fn_scope_output(const onyx_fn_scope *sc, size_t i);
/* The caller's node name as inlined ("" for NULL): prefix of body node names. */
const char *onyx_fn_scope_prefix(const onyx_fn_scope *sc);
/* The concrete attribute that ref_attr_name `ref` stands for in sc (the
 * caller's, else the function's default), or NULL when neither gives one.
 * *origin gets the scope the attribute's own names (graphs) belong to. */
const Onnx__AttributeProto *onyx_fn_scope_attr(onyx_fn_scope *sc, const char *ref, onyx_fn_scope **origin);

/* ---- wire format (for SequenceProto / OptionalProto) -------------------------- */

typedef struct onyx_wire_field {
  uint32_t number;
  int wire_type;          /* 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32 */
  uint64_t value;         /* varint / fixed value */
  const uint8_t *data;    /* wire type 2: payload */
  size_t len;
} onyx_wire_field;

/* Reads the next field of the message in [*p, end). Returns false on
 * malformed input (including deprecated groups); *p advances past it. */
bool onyx_wire_next(const uint8_t **p, const uint8_t *end, onyx_wire_field *f);

/* A growable output buffer for encoding. */
typedef struct onyx_wbuf {
  uint8_t *data;
  size_t len, cap;
  bool oom;               /* sticky: set when a write could not grow the buffer */
} onyx_wbuf;

void onyx_wbuf_varint(onyx_wbuf *b, uint32_t field, uint64_t v);
void onyx_wbuf_bytes(onyx_wbuf *b, uint32_t field, const void *data, size_t len);

#endif
