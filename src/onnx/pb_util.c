/* pb_util.c — plumbing shared by the ONNX reader and writer: the protobuf-c
 * allocator that routes through base/alloc.h (so a test can fail the N-th
 * allocation inside protobuf-c too), a bump arena for building messages to
 * pack, file mapping/writing, and a minimal protobuf wire-format codec used
 * for the two test-data messages (SequenceProto, OptionalProto) that the
 * system's onnx.proto lacks. */
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "onnx_private.h"

/* ---- protobuf-c allocator ------------------------------------------------- */

static void *pb_alloc(void *ctx, size_t size) {
  void *p = onyx_malloc(size);
  if (!p) ((onyx_pb_alloc *)ctx)->failed = true;
  return p;
}

static void pb_free(void *ctx, void *p) {
  (void)ctx;
  onyx_free(p);
}

void onyx_pb_drop_bytes(ProtobufCBinaryData *b) {
  onyx_free(b->data);
  b->data = NULL;
  b->len = 0;
}

void onyx_pb_alloc_init(onyx_pb_alloc *a) {
  a->base.alloc = pb_alloc;
  a->base.free = pb_free;
  a->base.allocator_data = a;
  a->failed = false;
}

/* ---- arena -------------------------------------------------------------------- */

typedef struct arena_block {
  struct arena_block *next;
  size_t used, cap;
  max_align_t data[];
} arena_block;

struct onyx_arena {
  arena_block *head;
};

onyx_arena *onyx_arena_new(void) { return onyx_calloc(1, sizeof(onyx_arena)); }

void onyx_arena_free(onyx_arena *a) {
  if (!a) return;
  for (arena_block *b = a->head, *next; b; b = next) {
    next = b->next;
    onyx_free(b);
  }
  onyx_free(a);
}

void *onyx_arena_alloc(onyx_arena *a, size_t count, size_t size) {
  if (size && count > SIZE_MAX / size / 2) return NULL;
  const size_t align = sizeof(max_align_t);
  size_t n = (count * size + align - 1) / align * align;
  arena_block *b = a->head;
  if (!b || b->cap - b->used < n) {
    size_t cap = n > 65536 ? n : 65536;
    b = onyx_malloc(sizeof *b + cap);
    if (!b) return NULL;
    b->used = 0;
    b->cap = cap;
    b->next = a->head;
    a->head = b;
  }
  void *p = (char *)b->data + b->used;
  b->used += n;
  memset(p, 0, n);
  return p;
}

char *onyx_arena_strdup(onyx_arena *a, const char *s) {
  size_t n = strlen(s);
  char *d = onyx_arena_alloc(a, n + 1, 1);
  if (d) memcpy(d, s, n + 1);
  return d;
}

/* ---- files -------------------------------------------------------------------- */

onyx_status *onyx_map_file(const char *path, void **data, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return onyx_error(errno == ENOENT ? ONYX_ERR_NOT_FOUND : ONYX_ERR_IO, "%s: cannot open: %s",
                      path, strerror(errno));
  struct stat st;
  onyx_status *s = NULL;
  if (fstat(fd, &st) != 0) {
    s = onyx_error(ONYX_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
  } else if (!S_ISREG(st.st_mode)) {
    s = onyx_error(ONYX_ERR_IO, "%s: not a regular file", path);
  } else if (st.st_size == 0) {
    static char empty;
    *data = &empty;
    *len = 0;
  } else {
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      s = onyx_error(ONYX_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
    } else {
      *data = p;
      *len = (size_t)st.st_size;
    }
  }
  close(fd);
  return s;
}

void *onyx_map_fd_cow(int fd, size_t len) {
  /* MAP_NORESERVE: the pages are the file's until written, and onyx writes
   * few of them (in-place weight packing), so the mapping should not count
   * its whole length against the commit limit; without it a file larger
   * than RAM + swap (a sparse embedding table) cannot be mapped at all */
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0);
  return p == MAP_FAILED ? NULL : p;
}

void onyx_unmap_file(void *p, size_t n) {
  if (p && n) munmap(p, n);
}

/* Test hook: the next write stops after this many bytes with ENOSPC (-1: off). */
static _Atomic int64_t write_fail_after = -1;

void onyx_write_fail_after(int64_t bytes) { write_fail_after = bytes; }

/* The permissions a new file gets (0666 less the umask), read without
 * changing the umask, which other threads may be using. */
static mode_t new_file_mode(void) {
  mode_t mask = 022;
  FILE *f = fopen("/proc/self/status", "r");
  char line[128];
  while (f && fgets(line, sizeof line, f)) {
    unsigned m;
    if (sscanf(line, "Umask: %o", &m) == 1) {
      mask = (mode_t)m;
      break;
    }
  }
  if (f) fclose(f);
  return 0666 & ~mask;
}

onyx_status *onyx_write_file(const char *path, const void *data, size_t len) {
  /* written to a temporary file beside the target and renamed over it, so a
   * failed write (disk full, I/O error) never leaves a truncated file where
   * a good one was */
  size_t n = strlen(path) + sizeof ".tmp.XXXXXX";
  char *tmp = onyx_malloc(n);
  if (!tmp) return onyx_error_oom();
  snprintf(tmp, n, "%s.tmp.XXXXXX", path);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    onyx_status *s = onyx_error(ONYX_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    onyx_free(tmp);
    return s;
  }
  int64_t limit = atomic_exchange(&write_fail_after, -1);
  size_t want = limit >= 0 && (uint64_t)limit < len ? (size_t)limit : len, done = 0;
  int err = 0;
  while (done < want) {
    ssize_t w = write(fd, (const char *)data + done, want - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      err = w < 0 ? errno : EIO;
      break;
    }
    done += (size_t)w;
  }
  if (!err && want < len) err = ENOSPC;
  if (!err && fchmod(fd, new_file_mode())) err = errno;
  if (!err && fsync(fd)) err = errno;
  if (close(fd) && !err) err = errno;
  if (!err && rename(tmp, path)) err = errno;
  if (err) unlink(tmp);
  onyx_free(tmp);
  if (err) return onyx_error(ONYX_ERR_IO, "%s: write failed: %s", path, strerror(err));
  return NULL;
}

/* ---- wire format -------------------------------------------------------------- */

static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
  uint64_t x = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*p >= end) return false;
    uint8_t b = *(*p)++;
    x |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = x;
      return true;
    }
  }
  return false;
}

bool onyx_wire_next(const uint8_t **p, const uint8_t *end, onyx_wire_field *f) {
  uint64_t tag;
  if (!read_varint(p, end, &tag) || (tag >> 3) == 0 || (tag >> 3) > 0x1fffffff) return false;
  memset(f, 0, sizeof *f);
  f->number = (uint32_t)(tag >> 3);
  f->wire_type = (int)(tag & 7);
  switch (f->wire_type) {
    case 0:
      return read_varint(p, end, &f->value);
    case 1:
    case 5: {
      size_t n = f->wire_type == 1 ? 8 : 4;
      if ((size_t)(end - *p) < n) return false;
      for (size_t i = 0; i < n; i++) f->value |= (uint64_t)(*p)[i] << (8 * i);
      *p += n;
      return true;
    }
    case 2: {
      uint64_t n;
      if (!read_varint(p, end, &n) || n > (uint64_t)(end - *p)) return false;
      f->data = *p;
      f->len = (size_t)n;
      *p += n;
      return true;
    }
    default:
      return false;
  }
}

static void wbuf_put(onyx_wbuf *b, const void *data, size_t n) {
  if (b->oom) return;
  if (b->cap - b->len < n) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < n) {
      if (cap > SIZE_MAX / 2) {
        b->oom = true;
        return;
      }
      cap *= 2;
    }
    uint8_t *p = onyx_realloc(b->data, cap);
    if (!p) {
      b->oom = true;
      return;
    }
    b->data = p;
    b->cap = cap;
  }
  if (n) memcpy(b->data + b->len, data, n);
  b->len += n;
}

static void wbuf_raw_varint(onyx_wbuf *b, uint64_t v) {
  uint8_t tmp[10];
  size_t n = 0;
  do {
    tmp[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
  wbuf_put(b, tmp, n);
}

void onyx_wbuf_varint(onyx_wbuf *b, uint32_t field, uint64_t v) {
  wbuf_raw_varint(b, (uint64_t)field << 3);
  wbuf_raw_varint(b, v);
}

void onyx_wbuf_bytes(onyx_wbuf *b, uint32_t field, const void *data, size_t len) {
  wbuf_raw_varint(b, ((uint64_t)field << 3) | 2);
  wbuf_raw_varint(b, len);
  wbuf_put(b, data, len);
}
