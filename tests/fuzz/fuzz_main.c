/* fuzz_main.c — runs a libFuzzer target without libFuzzer, so every build
 * (gcc, the ASan+UBSan test build) can replay and smoke-fuzz the targets:
 *
 *   <target> [-seconds S] [-runs N] [-seed X] [-max-len B] [-ext .onnx] PATH...
 *
 * PATHs are seed files or folders (searched recursively; with -ext only files
 * whose names end so). Each seed runs once as it is (the replay: a corpus of
 * past crashes stays fixed). Then, for S seconds or N runs, a seed is taken
 * at random and mutated a few times (bit flips, byte sets, interesting
 * values, inserted or deleted ranges, truncation, a splice of another seed)
 * before it runs: a small stand-in for libFuzzer's mutator, enough to catch
 * regressions in CI, where `make fuzz` (clang + libFuzzer, coverage-guided)
 * is the real campaign. The generator is seeded (-seed), so a smoke run is
 * reproducible; under ASan the input that crashed is written to
 * ./crash-<target>-<hash>.bin by a death callback. Exit 0 when nothing
 * crashed, 2 on bad arguments or no seed. */
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct blob {
  uint8_t *p;
  size_t n;
} blob;

static blob *seeds;
static size_t n_seeds, cap_seeds, total_bytes;
static const char *ext, *prog;
static const uint8_t *cur;   /* the input running now, for the death callback */
static size_t cur_len;

static void add_file(const char *path, size_t max_len) {
  size_t pl = strlen(path), el = ext ? strlen(ext) : 0;
  if (ext && (pl < el || strcmp(path + pl - el, ext))) return;
  FILE *f = fopen(path, "rb");
  if (!f) return;
  blob b = {NULL, 0};
  if (!fseek(f, 0, SEEK_END)) {
    long n = ftell(f);
    if (n >= 0 && (size_t)n <= max_len && !fseek(f, 0, SEEK_SET) && (b.p = malloc((size_t)n + 1)))
      b.n = fread(b.p, 1, (size_t)n, f);
  }
  fclose(f);
  if (!b.p) return;
  if (n_seeds == cap_seeds) {
    cap_seeds = cap_seeds ? 2 * cap_seeds : 256;
    blob *nb = realloc(seeds, cap_seeds * sizeof *seeds);
    if (!nb) {
      free(b.p);
      return;
    }
    seeds = nb;
  }
  seeds[n_seeds++] = b;
  total_bytes += b.n;
}

static void add_path(const char *path, size_t max_len, int depth) {
  struct stat st;
  if (depth > 8 || stat(path, &st)) return;
  if (!S_ISDIR(st.st_mode)) {
    add_file(path, max_len);
    return;
  }
  DIR *d = opendir(path);
  if (!d) return;
  /* sorted, so a run's seeds come in the same order everywhere */
  char **names = NULL;
  size_t n = 0, cap = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 64;
      char **nn = realloc(names, cap * sizeof *names);
      if (!nn) break;
      names = nn;
    }
    if (!(names[n] = strdup(e->d_name))) break;
    n++;
  }
  closedir(d);
  for (size_t i = 1; i < n; i++)
    for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
      char *t = names[j];
      names[j] = names[j - 1];
      names[j - 1] = t;
    }
  for (size_t i = 0; i < n; i++) {
    char *child = malloc(strlen(path) + strlen(names[i]) + 2);
    if (child) {
      sprintf(child, "%s/%s", path, names[i]);
      add_path(child, max_len, depth + 1);
      free(child);
    }
    free(names[i]);
  }
  free(names);
}

static uint64_t rng_state;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

#if defined(__SANITIZE_ADDRESS__)
static uint64_t hash(const uint8_t *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

static void save_crash(void) {
  char name[256];
  snprintf(name, sizeof name, "crash-%s-%016llx.bin", prog, (unsigned long long)hash(cur, cur_len));
  FILE *f = fopen(name, "wb");
  if (f) {
    if (cur_len) fwrite(cur, 1, cur_len, f);
    fclose(f);
    fprintf(stderr, "fuzz: the crashing input is in %s\n", name);
  }
}
#endif

/* One mutation of buf (len *n, capacity cap) in place. */
static void mutate_once(uint8_t *buf, size_t *n, size_t cap) {
  static const uint8_t interesting[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0x10, 0x40, 0x20, 0x08};
  size_t len = *n;
  switch (rnd() % 8) {
    case 0:   /* flip a bit */
      if (len) buf[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
      break;
    case 1:   /* random byte */
      if (len) buf[rnd() % len] = (uint8_t)rnd();
      break;
    case 2:   /* interesting byte (varint continuation bits, signs, zero) */
      if (len) buf[rnd() % len] = interesting[rnd() % sizeof interesting];
      break;
    case 3: {   /* delete a range */
      if (!len) break;
      size_t at = rnd() % len, k = 1 + rnd() % (len - at < 16 ? len - at : 16);
      memmove(buf + at, buf + at + k, len - at - k);
      *n = len - k;
      break;
    }
    case 4: {   /* insert random bytes */
      size_t k = 1 + rnd() % 8;
      if (len + k > cap) break;
      size_t at = len ? rnd() % (len + 1) : 0;
      memmove(buf + at + k, buf + at, len - at);
      for (size_t i = 0; i < k; i++) buf[at + i] = (uint8_t)rnd();
      *n = len + k;
      break;
    }
    case 5:   /* truncate */
      if (len) *n = rnd() % len;
      break;
    case 6: {   /* copy a range over another (repeats a field) */
      if (len < 2) break;
      size_t from = rnd() % len, to = rnd() % len, k = 1 + rnd() % 32;
      if (from + k > len) k = len - from;
      if (to + k > len) k = len - to;
      memmove(buf + to, buf + from, k);
      break;
    }
    default: {   /* splice: a piece of another seed */
      const blob *o = &seeds[rnd() % n_seeds];
      if (!o->n || !len) break;
      size_t from = rnd() % o->n, to = rnd() % len, k = 1 + rnd() % 64;
      if (from + k > o->n) k = o->n - from;
      if (to + k > len) k = len - to;
      memcpy(buf + to, o->p + from, k);
      break;
    }
  }
}

static void run(const uint8_t *p, size_t n) {
  cur = p;
  cur_len = n;
  LLVMFuzzerTestOneInput(p, n);
}

int main(int argc, char **argv) {
  prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
  double seconds = 0;
  long long runs = 0;
  size_t max_len = 1 << 20;
  rng_state = 0x2545f4914f6cdd1dull;
  int n_paths = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    bool more = i + 1 < argc;
    if (!strcmp(a, "-seconds") && more) seconds = atof(argv[++i]);
    else if (!strcmp(a, "-runs") && more) runs = atoll(argv[++i]);
    else if (!strcmp(a, "-seed") && more) rng_state = strtoull(argv[++i], NULL, 0) | 1;
    else if (!strcmp(a, "-max-len") && more) max_len = (size_t)atoll(argv[++i]);
    else if (!strcmp(a, "-ext") && more) ext = argv[++i];
    else if (a[0] == '-') {
      fprintf(stderr, "%s: bad argument '%s'\n", prog, a);
      return 2;
    } else {
      add_path(a, max_len, 0);
      n_paths++;
    }
  }
  if (!n_seeds) {
    fprintf(stderr, "%s: no seed files under the %d path(s) given%s%s\n", prog, n_paths, ext ? " ending in " : "",
            ext ? ext : "");
    return 2;
  }
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_set_death_callback(save_crash);
#endif
  for (size_t i = 0; i < n_seeds; i++) run(seeds[i].p, seeds[i].n);
  size_t cap = max_len + 64;
  uint8_t *buf = malloc(cap);
  long long done = 0;
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (; buf && (runs || seconds > 0); done++) {
    if (runs && done >= runs) break;
    if (!runs && (done & 15) == 0) {
      clock_gettime(CLOCK_MONOTONIC, &t);
      if ((double)(t.tv_sec - t0.tv_sec) + 1e-9 * (double)(t.tv_nsec - t0.tv_nsec) >= seconds) break;
    }
    const blob *s = &seeds[rnd() % n_seeds];
    size_t n = s->n < max_len ? s->n : max_len;
    memcpy(buf, s->p, n);
    for (int k = 1 + (int)(rnd() % 6); k > 0; k--) mutate_once(buf, &n, cap);
    run(buf, n);
  }
  printf("%s: %zu seeds (%zu bytes) replayed, %lld mutated inputs run, no crash\n", prog, n_seeds, total_bytes, done);
  free(buf);
  for (size_t i = 0; i < n_seeds; i++) free(seeds[i].p);
  free(seeds);
  return 0;
}
