/* test_npy.c — the CLI's .npy reader and writer (tools/npy.c): headers
 * byte-identical to numpy's, round trips of every dtype, the format variants
 * numpy and older writers produce, and malformed files — each refused with
 * a message, never a crash or a read past the buffer (run under ASan); and
 * its .npz reader on an archive numpy wrote, damaged the same ways. */
#include <stdint.h>
#include <unistd.h>

#include "npy.h"
#include "test_util.h"

/* Builds a .npy v1.0 file from a header dict and `data_len` data bytes (0xab). */
static size_t make_npy(unsigned char *buf, size_t cap, const char *dict, size_t data_len) {
  size_t hl = strlen(dict);
  memcpy(buf, "\x93NUMPY\x01\x00", 8);
  buf[8] = (unsigned char)(hl & 0xff);
  buf[9] = (unsigned char)(hl >> 8);
  memcpy(buf + 10, dict, hl);
  if (10 + hl + data_len > cap) abort();
  memset(buf + 10 + hl, 0xab, data_len);
  return 10 + hl + data_len;
}

static bool parses(const char *dict, size_t data_len, npy_header *h) {
  unsigned char buf[4096];
  size_t n = make_npy(buf, sizeof buf, dict, data_len);
  char err[256] = "";
  bool ok = npy_parse(buf, n, h, err, sizeof err);
  if (!ok && !err[0]) fprintf(stderr, "error without a message for %s\n", dict);
  return ok;
}

/* Expects a refusal whose message contains `want`. */
static void check_refused(const char *dict, size_t data_len, const char *want) {
  unsigned char buf[4096];
  size_t n = make_npy(buf, sizeof buf, dict, data_len);
  npy_header h;
  char err[256] = "";
  bool ok = npy_parse(buf, n, &h, err, sizeof err);
  CHECK(!ok);
  CHECK(strstr(err, want) != NULL);
  if (ok || !strstr(err, want)) fprintf(stderr, "  header %s -> '%s' (wanted '%s')\n", dict, err, want);
}

static char tmp_path[64];

static unsigned char *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc(*len + 1);
  if (fread(b, 1, *len, f) != *len) *len = 0;
  fclose(f);
  return b;
}

int main(void) {
  char err[256];
  snprintf(tmp_path, sizeof tmp_path, "/tmp/onyx_test_npy_%d.npy", (int)getpid());

  /* Headers byte-identical to what numpy 1.24 np.save writes (copied from it). */
  {
    static const struct {
      onyx_dtype dt;
      int rank;
      int64_t dims[2];
      const char *header;
    } ref[] = {
        {ONYX_DTYPE_FLOAT, 2, {2, 3}, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"},
        {ONYX_DTYPE_UINT8, 1, {5, 0}, "{'descr': '|u1', 'fortran_order': False, 'shape': (5,), }"},
        {ONYX_DTYPE_BOOL, 0, {0, 0}, "{'descr': '|b1', 'fortran_order': False, 'shape': (), }"},
        {ONYX_DTYPE_INT64, 2, {0, 4}, "{'descr': '<i8', 'fortran_order': False, 'shape': (0, 4), }"},
    };
    for (size_t k = 0; k < sizeof ref / sizeof ref[0]; k++) {
      onyx_tensor *t;
      CHECK_OK(onyx_tensor_create(ref[k].dt, ref[k].rank, ref[k].dims, &t));
      CHECK(npy_save(tmp_path, t, err, sizeof err));
      size_t len = 0;
      unsigned char *b = read_all(tmp_path, &len);
      size_t hl = strlen(ref[k].header);
      CHECK(b && len == 128 + onyx_tensor_nbytes(t));
      CHECK(b && !memcmp(b, "\x93NUMPY\x01\x00\x76\x00", 10));
      CHECK(b && !memcmp(b + 10, ref[k].header, hl));
      bool pad = b && b[127] == '\n';
      for (size_t i = 10 + hl; b && i < 127; i++) pad = pad && b[i] == ' ';
      CHECK(pad);
      free(b);
      onyx_tensor_free(t);
    }
  }

  /* Round trip of every supported dtype with distinct bytes. */
  {
    onyx_dtype all[] = {ONYX_DTYPE_FLOAT, ONYX_DTYPE_DOUBLE, ONYX_DTYPE_FLOAT16, ONYX_DTYPE_INT8,
                        ONYX_DTYPE_UINT8, ONYX_DTYPE_INT16, ONYX_DTYPE_UINT16, ONYX_DTYPE_INT32,
                        ONYX_DTYPE_INT64, ONYX_DTYPE_UINT32, ONYX_DTYPE_UINT64, ONYX_DTYPE_BOOL};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) {
      int64_t dims[3] = {2, 3, 4};
      onyx_tensor *t, *back = NULL;
      CHECK(npy_dtype_supported(all[k]));
      CHECK_OK(onyx_tensor_create(all[k], 3, dims, &t));
      unsigned char *p = onyx_tensor_data(t);
      for (size_t i = 0; i < onyx_tensor_nbytes(t); i++)
        p[i] = all[k] == ONYX_DTYPE_BOOL ? (unsigned char)(i % 3 == 0) : (unsigned char)(i * 7 + 1);
      CHECK(npy_save(tmp_path, t, err, sizeof err));
      CHECK(npy_load(tmp_path, &back, err, sizeof err));
      CHECK(back && onyx_tensor_dtype(back) == all[k] && onyx_tensor_rank(back) == 3 &&
            onyx_tensor_dims(back)[2] == 4 && onyx_tensor_nbytes(back) == onyx_tensor_nbytes(t) &&
            !memcmp(onyx_tensor_data(back), p, onyx_tensor_nbytes(t)));
      onyx_tensor_free(t);
      onyx_tensor_free(back);
    }
    onyx_dtype none[] = {ONYX_DTYPE_BFLOAT16, ONYX_DTYPE_STRING, ONYX_DTYPE_COMPLEX64};
    for (size_t k = 0; k < 3; k++) CHECK(!npy_dtype_supported(none[k]));
    onyx_tensor *t;
    int64_t d = 2;
    CHECK_OK(onyx_tensor_create(ONYX_DTYPE_BFLOAT16, 1, &d, &t));
    CHECK(!npy_save(tmp_path, t, err, sizeof err) && strstr(err, "bfloat16"));
    onyx_tensor_free(t);
  }

  /* Variants other writers produce. */
  {
    npy_header h;
    CHECK(parses("{\"shape\": (3L, 2L), \"fortran_order\": False, \"descr\": \"<i4\"}", 24, &h));
    CHECK(h.dtype == ONYX_DTYPE_INT32 && h.rank == 2 && h.dims[0] == 3 && h.dims[1] == 2);
    CHECK(h.data_bytes == 24);
    CHECK(parses("{'descr':'<f8','fortran_order':True,'shape':(4,)}\n", 32, &h));   /* 1-D: same bytes */
    CHECK(h.dtype == ONYX_DTYPE_DOUBLE && h.rank == 1 && h.dims[0] == 4);
    CHECK(parses("{'descr': '<f2', 'fortran_order': False, 'shape': (1, 0, 7), }", 0, &h));
    CHECK(h.dtype == ONYX_DTYPE_FLOAT16 && h.data_bytes == 0);
    CHECK(parses("{'descr': '=u2', 'fortran_order': False, 'shape': (), }", 2, &h));
    CHECK(h.dtype == ONYX_DTYPE_UINT16 && h.rank == 0 && h.data_bytes == 2);
    CHECK(parses("{'descr': '>i1', 'fortran_order': False, 'shape': (3,), }", 3, &h));   /* 1 byte: no order */
    CHECK(parses("{'descr': '<u8', 'fortran_order': False, 'shape': (2,)}", 20, &h));  /* trailing data ok */

    /* version 2.0 and 3.0: 4-byte header length */
    for (int v = 2; v <= 3; v++) {
      const char *dict = "{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }";
      unsigned char buf[256];
      size_t hl = strlen(dict);
      memcpy(buf, "\x93NUMPY", 6);
      buf[6] = (unsigned char)v;
      buf[7] = 0;
      buf[8] = (unsigned char)hl;
      buf[9] = buf[10] = buf[11] = 0;
      memcpy(buf + 12, dict, hl);
      memset(buf + 12 + hl, 0, 8);
      CHECK(npy_parse(buf, 12 + hl + 8, &h, err, sizeof err));
      CHECK(h.dtype == ONYX_DTYPE_INT64 && h.data_offset == 12 + hl);
    }
  }

  /* Refusals, each with a message that says why. */
  check_refused("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8, "big-endian");
  check_refused("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16, "Fortran");
  check_refused("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", 8, "structured");
  check_refused("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", 16, "not supported");
  check_refused("{'descr': '<U3', 'fortran_order': False, 'shape': (2,), }", 24, "not supported");
  check_refused("{'descr': '|f4', 'fortran_order': False, 'shape': (2,), }", 8, "not supported");
  check_refused("{'descr': '<f4x', 'fortran_order': False, 'shape': (2,), }", 8, "not supported");
  check_refused("{'descr': '', 'fortran_order': False, 'shape': (2,), }", 8, "not supported");
  check_refused("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 23, "truncated");
  check_refused("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", 8, "non-negative");
  check_refused("{'descr': '<f4', 'fortran_order': False, 'shape': (2.5,), }", 8, "shape");
  check_refused("{'descr': '<f4', 'fortran_order': False, 'shape': [2], }", 8, "tuple");
  check_refused("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 8,
                "non-negative");
  check_refused("{'descr': '<f4', 'fortran_order': False, "
                "'shape': (4294967296, 4294967296, 4294967296, 0), }", 0, "too large");
  check_refused("{'descr': '<u1', 'fortran_order': False, "
                "'shape': (1,1,1,1,1,1,1,1,1,1,1,1,1), }", 1, "more than");
  check_refused("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", 8, "True/False");
  check_refused("{'descr': '<f4', 'shape': (2,), }", 8, "missing 'fortran_order'");
  check_refused("{'descr': '<f4', 'fortran_order': False, }", 8, "missing 'shape'");
  check_refused("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", 8, "twice");
  check_refused("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", 8, "unknown key");
  check_refused("{'descr': '<f4' 'fortran_order': False, 'shape': (2,)}", 8, "expected ','");
  check_refused("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} junk", 8, "after the closing");
  check_refused("{'descr: '<f4', 'fortran_order': False, 'shape': (2,)}", 8, "malformed");
  check_refused("'descr': '<f4'", 8, "expected '{'");
  check_refused("{'descr': '<f4', 'fortran_order': False, 'shape': (2,", 8, "malformed");
  check_refused("{'descr': '<f4', 'fortran_order': False, 'shape': (2 3)}", 8, "malformed");
  check_refused("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), ", 8, "malformed");
  check_refused("{", 0, "malformed");
  {
    npy_header h;
    unsigned char buf[64];
    size_t n = make_npy(buf, sizeof buf, "{}", 0);
    buf[6] = 4;   /* version 4.0 */
    CHECK(!npy_parse(buf, n, &h, err, sizeof err) && strstr(err, "version 4.0"));
    CHECK(!npy_parse("\x93NUMPX\x01\x00\x00\x00", 10, &h, err, sizeof err) && strstr(err, "magic"));
    CHECK(!npy_parse("", 0, &h, err, sizeof err));
    n = make_npy(buf, sizeof buf, "{}", 0);
    buf[8] = 0xff;   /* header longer than the file */
    CHECK(!npy_parse(buf, n, &h, err, sizeof err) && strstr(err, "truncated"));
    buf[6] = 2;      /* v2 needs 12 bytes before the header */
    CHECK(!npy_parse(buf, 11, &h, err, sizeof err) && strstr(err, "truncated"));
  }

  /* Every prefix of a valid file fails cleanly; byte flips in the header
   * never crash (ASan checks the reads). Data is copied to an exact-size
   * heap buffer so any overread is caught. */
  {
    unsigned char good[256];
    size_t n = make_npy(good, sizeof good,
                        "{'descr': '<i2', 'fortran_order': False, 'shape': (3, 2), }   \n", 12);
    npy_header h;
    CHECK(npy_parse(good, n, &h, err, sizeof err));
    int prefix_ok = 0, flips = 0;
    for (size_t len = 0; len < n; len++) {
      unsigned char *b = malloc(len ? len : 1);
      memcpy(b, good, len);
      prefix_ok += npy_parse(b, len, &h, err, sizeof err);
      free(b);
    }
    CHECK(prefix_ok == 0);
    unsigned long long x = 12345;
    for (int it = 0; it < 4000; it++) {
      unsigned char *b = malloc(n);
      memcpy(b, good, n);
      for (int k = 0; k < 3; k++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        b[(x >> 33) % (n - 12)] = (unsigned char)(x >> 17);
      }
      onyx_tensor *t = NULL;
      if (npy_to_tensor(b, n, &t, err, sizeof err)) {
        flips++;
        CHECK(onyx_tensor_nbytes(t) <= n);
        onyx_tensor_free(t);
      }
      free(b);
    }
    CHECK(flips < 4000);   /* most flips break the header */
  }

  /* .npz: an archive numpy 1.24 np.savez wrote (a = arange(3, int16),
   * b = [1.5] float32; local headers with ZIP64 extra fields, as numpy
   * writes them), read by name; then every prefix and random byte flips,
   * in an exact-size heap copy so ASan catches any read past the end. */
  {
    static const char ref[] =
      "\x50\x4b\x03\x04\x14\x00\x00\x00\x00\x00\x00\x00\x21\x00\x6a\xcf\xf2\x51\x86\x00\x00\x00\x86\x00"
      "\x00\x00\x05\x00\x14\x00\x61\x2e\x6e\x70\x79\x01\x00\x10\x00\x86\x00\x00\x00\x00\x00\x00\x00\x86"
      "\x00\x00\x00\x00\x00\x00\x00\x93\x4e\x55\x4d\x50\x59\x01\x00\x76\x00\x7b\x27\x64\x65\x73\x63\x72"
      "\x27\x3a\x20\x27\x3c\x69\x32\x27\x2c\x20\x27\x66\x6f\x72\x74\x72\x61\x6e\x5f\x6f\x72\x64\x65\x72"
      "\x27\x3a\x20\x46\x61\x6c\x73\x65\x2c\x20\x27\x73\x68\x61\x70\x65\x27\x3a\x20\x28\x33\x2c\x29\x2c"
      "\x20\x7d\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20"
      "\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20"
      "\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x0a\x00\x00\x01\x00\x02\x00\x50\x4b\x03"
      "\x04\x14\x00\x00\x00\x00\x00\x00\x00\x21\x00\x54\x79\x2e\x83\x84\x00\x00\x00\x84\x00\x00\x00\x05"
      "\x00\x14\x00\x62\x2e\x6e\x70\x79\x01\x00\x10\x00\x84\x00\x00\x00\x00\x00\x00\x00\x84\x00\x00\x00"
      "\x00\x00\x00\x00\x93\x4e\x55\x4d\x50\x59\x01\x00\x76\x00\x7b\x27\x64\x65\x73\x63\x72\x27\x3a\x20"
      "\x27\x3c\x66\x34\x27\x2c\x20\x27\x66\x6f\x72\x74\x72\x61\x6e\x5f\x6f\x72\x64\x65\x72\x27\x3a\x20"
      "\x46\x61\x6c\x73\x65\x2c\x20\x27\x73\x68\x61\x70\x65\x27\x3a\x20\x28\x31\x2c\x29\x2c\x20\x7d\x20"
      "\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20"
      "\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20"
      "\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x0a\x00\x00\xc0\x3f\x50\x4b\x01\x02\x14\x03\x14\x00"
      "\x00\x00\x00\x00\x00\x00\x21\x00\x6a\xcf\xf2\x51\x86\x00\x00\x00\x86\x00\x00\x00\x05\x00\x00\x00"
      "\x00\x00\x00\x00\x00\x00\x00\x00\x80\x01\x00\x00\x00\x00\x61\x2e\x6e\x70\x79\x50\x4b\x01\x02\x14"
      "\x03\x14\x00\x00\x00\x00\x00\x00\x00\x21\x00\x54\x79\x2e\x83\x84\x00\x00\x00\x84\x00\x00\x00\x05"
      "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x01\xbd\x00\x00\x00\x62\x2e\x6e\x70\x79\x50\x4b"
      "\x05\x06\x00\x00\x00\x00\x02\x00\x02\x00\x66\x00\x00\x00\x78\x01\x00\x00\x00\x00";
    const size_t n = sizeof ref - 1;
    unsigned char *good = malloc(n);
    memcpy(good, ref, n);
    npz z;
    onyx_tensor *t = NULL;
    CHECK(npz_parse(good, n, &z, err, sizeof err));
    CHECK(z.n == 2 && !strcmp(z.m[0].name, "a") && !strcmp(z.m[1].name, "b"));
    CHECK(npz_get(&z, "a", &t, err, sizeof err));
    CHECK(t && onyx_tensor_dtype(t) == ONYX_DTYPE_INT16 && onyx_tensor_rank(t) == 1 &&
          onyx_tensor_dims(t)[0] == 3 && ((int16_t *)onyx_tensor_data(t))[2] == 2);
    onyx_tensor_free(t);
    t = NULL;
    CHECK(npz_get(&z, "b", &t, err, sizeof err));
    CHECK(t && onyx_tensor_dtype(t) == ONYX_DTYPE_FLOAT && ((float *)onyx_tensor_data(t))[0] == 1.5f);
    onyx_tensor_free(t);
    CHECK(!npz_get(&z, "c", &t, err, sizeof err) && strstr(err, "no array 'c' (it holds 'a', 'b')"));
    /* compressed and corrupt members */
    z.m[0].method = 8;
    CHECK(!npz_get(&z, "a", &t, err, sizeof err) && strstr(err, "np.savez_compressed"));
    z.m[0].method = 0;
    good[z.m[1].offset + z.m[1].size - 1] ^= 1;
    CHECK(!npz_get(&z, "b", &t, err, sizeof err) && strstr(err, "CRC"));
    good[z.m[1].offset + z.m[1].size - 1] ^= 1;
    npz_close(&z);
    CHECK(!npz_parse("PK\x03\x04", 4, &z, err, sizeof err) && strstr(err, "not a zip archive"));
    CHECK(!npz_open("/nonexistent/x.npz", &z, err, sizeof err) && strstr(err, "cannot open"));
    int prefix_ok = 0;
    for (size_t len = 0; len < n; len++) {
      unsigned char *b = malloc(len ? len : 1);
      memcpy(b, good, len);
      prefix_ok += npz_parse(b, len, &z, err, sizeof err);
      npz_close(&z);
      free(b);
    }
    CHECK(prefix_ok == 0);
    unsigned long long x = 777;
    int read = 0;
    for (int it = 0; it < 3000; it++) {
      unsigned char *b = malloc(n);
      memcpy(b, good, n);
      for (int k = 0; k < 2; k++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        b[(x >> 33) % n] = (unsigned char)(x >> 17);
      }
      if (npz_parse(b, n, &z, err, sizeof err)) {
        for (int i = 0; i < z.n; i++) {
          t = NULL;
          if (npz_get(&z, z.m[i].name, &t, err, sizeof err)) read++;
          onyx_tensor_free(t);
        }
        npz_close(&z);
      }
      free(b);
    }
    CHECK(read > 0);   /* flips in timestamps and padding leave arrays readable */
    free(good);
  }

  /* Files: missing, a directory, bool bytes normalised. */
  {
    onyx_tensor *t = NULL;
    CHECK(!npy_load("/nonexistent/x.npy", &t, err, sizeof err) && strstr(err, "cannot open"));
    CHECK(!npy_load("/tmp", &t, err, sizeof err) && strstr(err, "not a regular file"));
    unsigned char buf[256];
    size_t n = make_npy(buf, sizeof buf, "{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", 2);
    buf[n - 2] = 0;
    buf[n - 1] = 7;
    CHECK(npy_to_tensor(buf, n, &t, err, sizeof err));
    CHECK(t && ((unsigned char *)onyx_tensor_data(t))[0] == 0 && ((unsigned char *)onyx_tensor_data(t))[1] == 1);
    CHECK(!npy_save("/nonexistent/dir/x.npy", t, err, sizeof err) && strstr(err, "cannot create"));
    onyx_tensor_free(t);
  }
  unlink(tmp_path);
  return tu_done("test_npy");
}
