/* test_corpus.c — runs the malformed-input corpus (tests/corpus, issue #20)
 * through the public C API: for every case of manifest.txt, onyx_model_load,
 * then onyx_session_create_from_model, then onyx_session_run on the case's
 * .pb inputs. The first stage that fails must be the stated one, with the
 * stated code and a message holding the stated fragment; OK cases must pass
 * all three, and their outputs must equal the expected .pb tensors (NaN where
 * NaN is expected). After each failing case the bundled digits CNN is loaded
 * and run once, to show the process is still usable. ASan/UBSan (the test
 * build) turn a memory error, undefined behaviour or a leak into a failure.
 *
 * Cases marked `bug:` in the manifest are known library bugs: each runs in a
 * child process (this program re-executed with --case LINE), so a crash or a
 * sanitizer report is contained, and is reported as an expected failure with
 * its reason. A bug case that passes fails the test, so the note goes once
 * the bug is fixed.
 *
 * Usage: test_corpus [CORPUS_DIR] [-v] [--case LINE]
 *   CORPUS_DIR  the folder holding manifest.txt and cases/ (default: the
 *               compile-time CORPUS_DIR, else tests/corpus)
 *   -v          print every case's outcome
 *   --case LINE run the case on manifest line LINE alone (exit 0: it matched)
 * Manifest format: tests/corpus/README.md. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

#ifndef CORPUS_DIR
#define CORPUS_DIR "tests/corpus"
#endif
#define DIGITS "models/digits_cnn.onnx"
#define MAX_FEEDS 8

typedef struct corpus_case {
  int line;
  char file[256], stage[16], code[32], frag[256];
  char inputs[512];    /* name=file,... or "" */
  char expect[512];    /* name=file,... or "" */
  char sparse[300];    /* file:bytes or "" */
  char bug[512];       /* reason, or "" */
} corpus_case;

typedef enum { ST_LOAD, ST_CREATE, ST_RUN, ST_NONE } stage_id;
static const char *const stage_names[] = {"load", "create", "run", "none"};

/* What a case did: the stage that failed (ST_NONE: all passed), its code and
 * message, and for OK runs whether the outputs matched (why: what differed). */
typedef struct outcome {
  stage_id stage;
  onyx_code code;
  char msg[1024];
  char why[512];
} outcome;

/* Under ASan an allocation too big to satisfy returns NULL, as malloc does
 * without it, instead of aborting: the corpus checks that onyx turns that
 * into OUT_OF_MEMORY. (Read by the ASan runtime; unused in other builds.) */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

static const char *corpus_dir = CORPUS_DIR;
static int verbose;

/* ---- manifest -------------------------------------------------------------- */

/* Copies src into dst (cap bytes), truncating. */
static void set_str(char *dst, size_t cap, const char *src) {
  size_t n = strlen(src);
  if (n >= cap) n = cap - 1;
  memcpy(dst, src, n);
  dst[n] = 0;
}

/* Next whitespace-separated field of *p into out (cap bytes); a field in
 * double quotes may hold spaces. False at the end of the line. */
static bool next_field(char **p, char *out, size_t cap) {
  char *s = *p;
  while (*s == ' ' || *s == '\t') s++;
  if (!*s || *s == '\n' || *s == '\r') return false;
  size_t n = 0;
  if (*s == '"') {
    s++;
    while (*s && *s != '"' && *s != '\n') {
      if (n + 1 < cap) out[n++] = *s;
      s++;
    }
    if (*s == '"') s++;
  } else {
    while (*s && *s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') {
      if (n + 1 < cap) out[n++] = *s;
      s++;
    }
  }
  out[n] = 0;
  *p = s;
  return true;
}

static bool code_from_name(const char *name, onyx_code *out) {
  for (int c = ONYX_OK; c <= ONYX_ERR_CANCELLED; c++)
    if (!strcmp(onyx_code_name((onyx_code)c), name)) {
      *out = (onyx_code)c;
      return true;
    }
  return false;
}

/* Parses one manifest line; false (with a message) when it is malformed. */
static bool parse_line(char *text, int line, corpus_case *c) {
  memset(c, 0, sizeof *c);
  c->line = line;
  char *bug = strstr(text, " bug:");
  if (bug) {
    *bug = 0;
    char *r = bug + 5;
    while (*r == ' ') r++;
    snprintf(c->bug, sizeof c->bug, "%.*s", (int)strcspn(r, "\r\n"), r);
  }
  char *p = text;
  onyx_code code;
  if (!next_field(&p, c->file, sizeof c->file) || !next_field(&p, c->stage, sizeof c->stage) ||
      !next_field(&p, c->code, sizeof c->code) || !next_field(&p, c->frag, sizeof c->frag)) {
    fprintf(stderr, "manifest line %d: expected <file> <stage> <code> <fragment>\n", line);
    return false;
  }
  if (strcmp(c->stage, "load") && strcmp(c->stage, "create") && strcmp(c->stage, "run")) {
    fprintf(stderr, "manifest line %d: unknown stage '%s'\n", line, c->stage);
    return false;
  }
  if (!code_from_name(c->code, &code)) {
    fprintf(stderr, "manifest line %d: unknown code '%s'\n", line, c->code);
    return false;
  }
  if (!strcmp(c->frag, "-")) c->frag[0] = 0;
  char f[600];
  if (next_field(&p, f, sizeof f) && strcmp(f, "-")) set_str(c->inputs, sizeof c->inputs, f);
  while (next_field(&p, f, sizeof f)) {
    if (!strncmp(f, "expect=", 7)) set_str(c->expect, sizeof c->expect, f + 7);
    else if (!strncmp(f, "sparse=", 7)) set_str(c->sparse, sizeof c->sparse, f + 7);
    else if (!strncmp(f, "cli=", 4)) continue;   /* for the CLI test */
    else {
      fprintf(stderr, "manifest line %d: unknown option '%s'\n", line, f);
      return false;
    }
  }
  return true;
}

/* Reads every case; returns the count (or -1) and the array in *out. */
static int read_manifest(corpus_case **out) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/manifest.txt", corpus_dir);
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
    return -1;
  }
  int n = 0, cap = 0, line = 0;
  corpus_case *cs = NULL;
  char text[2048];
  bool ok = true;
  while (fgets(text, sizeof text, f)) {
    line++;
    char *s = text + strspn(text, " \t");
    if (!*s || *s == '#' || *s == '\n' || *s == '\r') continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 256;
      corpus_case *g = realloc(cs, (size_t)cap * sizeof *cs);
      if (!g) {
        ok = false;
        break;
      }
      cs = g;
    }
    if (parse_line(s, line, &cs[n])) n++;
    else ok = false;
  }
  fclose(f);
  if (!ok) {
    free(cs);
    return -1;
  }
  *out = cs;
  return n;
}

/* ---- running a case ---------------------------------------------------------- */

/* Splits "name=file,name=file" into up to max pairs (modifies s). */
static int split_pairs(char *s, char **names, char **files, int max) {
  int n = 0;
  for (char *tok = strtok(s, ","); tok && n < max; tok = strtok(NULL, ",")) {
    char *eq = strchr(tok, '=');
    if (!eq) continue;
    *eq = 0;
    names[n] = tok;
    files[n++] = eq + 1;
  }
  return n;
}

static bool same_value(double a, double b) {
  if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
  if (isinf(a) || isinf(b)) return a == b;
  return fabs(a - b) <= 1e-5 + 1e-4 * fabs(b);
}

/* Compares output `got` with the tensor in `path`; writes why on mismatch. */
static bool output_matches(const char *name, onyx_tensor *got, const char *path, char *why, size_t cap) {
  onyx_tensor *want = NULL;
  onyx_status *s = onyx_tensor_load_pb(path, &want, NULL);
  if (s) {
    snprintf(why, cap, "expected output file %.300s: %.150s", path, onyx_status_message(s));
    onyx_status_free(s);
    return false;
  }
  bool ok = onyx_tensor_dtype(got) == onyx_tensor_dtype(want) && onyx_tensor_rank(got) == onyx_tensor_rank(want);
  for (int d = 0; ok && d < onyx_tensor_rank(want); d++) ok = onyx_tensor_dims(got)[d] == onyx_tensor_dims(want)[d];
  if (!ok) {
    snprintf(why, cap, "output '%s': %s of rank %d, expected %s of rank %d (or other dims)", name,
             onyx_dtype_name(onyx_tensor_dtype(got)), onyx_tensor_rank(got),
             onyx_dtype_name(onyx_tensor_dtype(want)), onyx_tensor_rank(want));
  }
  for (int64_t i = 0; ok && i < onyx_tensor_numel(want); i++) {
    double a = onyx_tensor_get_f64(got, i), b = onyx_tensor_get_f64(want, i);
    if (!same_value(a, b)) {
      snprintf(why, cap, "output '%s'[%lld] is %g, expected %g", name, (long long)i, a, b);
      ok = false;
    }
  }
  onyx_tensor_free(want);
  return ok;
}

/* Records status s (freed) as the failure of stage st. */
static void fail_at(outcome *o, stage_id st, onyx_status *s) {
  o->stage = st;
  o->code = onyx_status_code(s);
  set_str(o->msg, sizeof o->msg, onyx_status_message(s));
  onyx_status_free(s);
}

/* Load, create and run model `path` with the case's inputs; o gets the first
 * failure, or ST_NONE (and o->why set when an output differs). */
static void run_model(const corpus_case *c, const char *path, outcome *o) {
  memset(o, 0, sizeof *o);
  o->stage = ST_NONE;
  onyx_model *m = NULL;
  onyx_session *sess = NULL;
  onyx_tensor *in[MAX_FEEDS] = {0}, **out = NULL;
  char buf[512], ebuf[512], *names[MAX_FEEDS], *files[MAX_FEEDS], *enames[MAX_FEEDS], *efiles[MAX_FEEDS];
  set_str(buf, sizeof buf, c->inputs);
  set_str(ebuf, sizeof ebuf, c->expect);
  int n_in = split_pairs(buf, names, files, MAX_FEEDS);
  int n_exp = split_pairs(ebuf, enames, efiles, MAX_FEEDS);
  onyx_status *s;

  if ((s = onyx_model_load(path, &m))) {
    fail_at(o, ST_LOAD, s);
    goto done;
  }
  s = onyx_session_create_from_model(m, NULL, &sess);
  m = NULL;   /* owned by the session, also on failure */
  if (s) {
    fail_at(o, ST_CREATE, s);
    goto done;
  }
  for (int i = 0; i < n_in; i++) {
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/cases/%s", corpus_dir, files[i]);
    if ((s = onyx_tensor_load_pb(p, &in[i], NULL))) {
      snprintf(o->why, sizeof o->why, "input file %.300s: %.150s", p, onyx_status_message(s));
      onyx_status_free(s);
      goto done;
    }
  }
  int n_out = onyx_session_output_count(sess);
  out = calloc((size_t)n_out + 1, sizeof *out);
  if ((s = onyx_session_run(sess, n_in, (const char *const *)names, in, n_out, NULL, out))) {
    fail_at(o, ST_RUN, s);
    goto done;
  }
  for (int e = 0; e < n_exp && !o->why[0]; e++) {
    int k = -1;
    for (int i = 0; i < n_out && k < 0; i++) {
      onyx_value_info vi;
      onyx_status *si = onyx_session_output_info(sess, i, &vi);
      if (!si && !strcmp(vi.name, enames[e])) k = i;
      onyx_status_free(si);
    }
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/cases/%s", corpus_dir, efiles[e]);
    if (k < 0) snprintf(o->why, sizeof o->why, "the model has no output '%s'", enames[e]);
    else output_matches(enames[e], out[k], p, o->why, sizeof o->why);
  }
  for (int i = 0; i < n_out; i++) onyx_tensor_free(out[i]);
done:
  free(out);
  for (int i = 0; i < n_in; i++) onyx_tensor_free(in[i]);
  onyx_session_destroy(sess);
  onyx_model_destroy(m);
}

/* Runs case c (making its sparse file first when it has one) and says whether
 * it did what the manifest states; why receives the difference. 0: matched,
 * 1: did not, 77: could not be set up here (a sparse file the file system
 * cannot hold). */
static int check_case(const corpus_case *c, char *why, size_t cap) {
  char path[PATH_MAX], tmpdir[] = "/tmp/onyx_corpus_XXXXXX", sparse[PATH_MAX] = "";
  bool tmp = false;
  int rc = 1;
  snprintf(path, sizeof path, "%s/cases/%s", corpus_dir, c->file);
  if (c->sparse[0]) {
    /* a copy of the model next to a sparse file of the stated size, in a
     * temporary folder: the corpus never holds the big file */
    char name[256];
    long long bytes = 0;
    const char *colon = strrchr(c->sparse, ':');
    if (!colon || sscanf(colon + 1, "%lld", &bytes) != 1 || colon == c->sparse) {
      snprintf(why, cap, "bad sparse= option '%s'", c->sparse);
      return 1;
    }
    snprintf(name, sizeof name, "%.*s", (int)(colon - c->sparse), c->sparse);
    if (!mkdtemp(tmpdir)) {
      snprintf(why, cap, "mkdtemp: %s", strerror(errno));
      return 1;
    }
    tmp = true;
    char dst[PATH_MAX];
    snprintf(dst, sizeof dst, "%s/%s", tmpdir, c->file);
    snprintf(sparse, sizeof sparse, "%s/%s", tmpdir, name);
    FILE *in = fopen(path, "rb"), *out = fopen(dst, "wb");
    char b[4096];
    size_t k;
    while (in && out && (k = fread(b, 1, sizeof b, in)) > 0) fwrite(b, 1, k, out);
    if (in) fclose(in);
    if (out) fclose(out);
    int fd = open(sparse, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, (off_t)bytes) != 0) {
      snprintf(why, cap, "cannot make a sparse file of %lld bytes here: %s", bytes, strerror(errno));
      if (fd >= 0) close(fd);
      rc = 77;
      goto done;
    }
    close(fd);
    set_str(path, sizeof path, dst);
  }
  outcome o;
  run_model(c, path, &o);
  onyx_code want = ONYX_OK;   /* the manifest parser checked the name */
  code_from_name(c->code, &want);
  stage_id want_stage = !strcmp(c->stage, "load") ? ST_LOAD : !strcmp(c->stage, "create") ? ST_CREATE : ST_RUN;
  if (want == ONYX_OK) {
    if (o.stage != ST_NONE)
      snprintf(why, cap, "expected OK, got %s at %s: %s", onyx_code_name(o.code), stage_names[o.stage], o.msg);
    else if (o.why[0]) snprintf(why, cap, "%s", o.why);
    else rc = 0;
  } else if (o.stage != want_stage || o.code != want || (c->frag[0] && !strstr(o.msg, c->frag))) {
    if (o.stage == ST_NONE)
      snprintf(why, cap, "expected %s at %s, but every stage passed%s%s", c->code, c->stage, o.why[0] ? "; " : "",
               o.why);
    else
      snprintf(why, cap, "expected %s at %s with '%s', got %s at %s: %s", c->code, c->stage, c->frag,
               onyx_code_name(o.code), stage_names[o.stage], o.msg);
  } else {
    rc = 0;
  }
  if (verbose)
    printf("line %d %s: %s %s: %s\n", c->line, c->file, stage_names[o.stage], onyx_code_name(o.code), o.msg);
done:
  if (tmp) {
    char dst[PATH_MAX];
    snprintf(dst, sizeof dst, "%s/%s", tmpdir, c->file);
    unlink(dst);
    if (sparse[0]) unlink(sparse);
    rmdir(tmpdir);
  }
  return rc;
}

/* Loads and runs the digits CNN once: is the process still usable? */
static bool digits_still_run(void) {
  onyx_session *s = NULL;
  onyx_tensor *x = NULL, *y = NULL;
  int64_t d[4] = {1, 1, 8, 8};
  const char *nm = "input";
  onyx_status *st = onyx_session_create(DIGITS, NULL, &s);
  if (!st) st = onyx_tensor_create(ONYX_DTYPE_FLOAT, 4, d, &x);
  if (!st) st = onyx_session_run(s, 1, &nm, &x, 1, NULL, &y);
  bool ok = !st && onyx_tensor_rank(y) == 2 && onyx_tensor_dims(y)[0] == 1 && onyx_tensor_dims(y)[1] == 10;
  if (st) fprintf(stderr, "  digits_cnn after the case: %s\n", onyx_status_message(st));
  onyx_status_free(st);
  onyx_tensor_free(y);
  onyx_tensor_free(x);
  onyx_session_destroy(s);
  return ok;
}

/* Runs a bug case in a child process (this program with --case LINE);
 * true when the child reports a match. The child's first diagnostic line
 * goes into why. */
static bool check_in_child(const char *self, const corpus_case *c, char *why, size_t cap) {
  char log[] = "/tmp/onyx_corpus_logXXXXXX";
  int fd = mkstemp(log);
  if (fd < 0) {
    snprintf(why, cap, "mkstemp: %s", strerror(errno));
    return false;
  }
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    char line[16];
    snprintf(line, sizeof line, "%d", c->line);
    dup2(fd, 1);
    dup2(fd, 2);
    execl(self, self, corpus_dir, "--case", line, (char *)NULL);
    _exit(127);
  }
  int status = 0;
  if (pid > 0) waitpid(pid, &status, 0);
  close(fd);
  /* the first line that says what happened: the child's FAIL line or a
   * sanitizer's ERROR/SUMMARY line */
  why[0] = 0;
  FILE *f = fopen(log, "r");
  char text[1024];
  while (f && fgets(text, sizeof text, f)) {
    if (strstr(text, "expected ") || strstr(text, "ERROR: ") || strstr(text, "runtime error") ||
        strstr(text, "SUMMARY: ")) {
      text[strcspn(text, "\n")] = 0;
      snprintf(why, cap, "%s", text);
      break;
    }
  }
  if (f) fclose(f);
  unlink(log);
  if (pid < 0) {
    snprintf(why, cap, "fork: %s", strerror(errno));
    return false;
  }
  if (WIFSIGNALED(status) && !why[0]) snprintf(why, cap, "killed by signal %d", WTERMSIG(status));
  else if (!why[0]) snprintf(why, cap, "exit status %d", WEXITSTATUS(status));
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int main(int argc, char **argv) {
  int only = -1;
  setvbuf(stdout, NULL, _IOLBF, 0);   /* progress lines before a crash report */
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-v")) verbose = 1;
    else if (!strcmp(argv[i], "--case") && i + 1 < argc) only = atoi(argv[++i]);
    else corpus_dir = argv[i];
  }
  corpus_case *cs = NULL;
  int n = read_manifest(&cs);
  CHECK(n >= 150);   /* the corpus promised by issue #20; also fails on a missing manifest */
  if (n < 0) return tu_done("test_corpus");

  if (only >= 0) {   /* one case, for a child process */
    char why[1536];
    int rc = 2;
    for (int i = 0; i < n; i++)
      if (cs[i].line == only) {
        rc = check_case(&cs[i], why, sizeof why);
        if (rc) fprintf(stderr, "line %d %s: %s\n", cs[i].line, cs[i].file, why);
      }
    free(cs);
    return rc;
  }

  int matched = 0, xfail = 0, skipped = 0, failed = 0, recoveries = 0;
  for (int i = 0; i < n; i++) {
    const corpus_case *c = &cs[i];
    char why[1536] = "";
    if (c->bug[0]) {
      bool ok = check_in_child("/proc/self/exe", c, why, sizeof why);
      if (ok) {
        failed++;
        fprintf(stderr, "XPASS line %d %s: the case passes now; remove its bug: note (%s)\n", c->line, c->file,
                c->bug);
      } else {
        xfail++;
        printf("XFAIL line %d %s: known bug: %s\n      got: %s\n", c->line, c->file, c->bug, why);
      }
      CHECK(!ok);
      continue;
    }
    int rc = check_case(c, why, sizeof why);
    if (rc == 77) {
      skipped++;
      printf("SKIP line %d %s: %s\n", c->line, c->file, why);
      continue;
    }
    if (rc) {
      failed++;
      fprintf(stderr, "FAIL line %d %s: %s\n", c->line, c->file, why);
    } else {
      matched++;
    }
    CHECK(rc == 0);
    if (strcmp(c->code, "OK")) {
      bool alive = digits_still_run();
      recoveries += alive;
      if (!alive) fprintf(stderr, "FAIL line %d %s: digits_cnn no longer runs after it\n", c->line, c->file);
      CHECK(alive);
    }
  }
  printf("corpus: %d cases: %d as expected, %d known bugs (XFAIL), %d skipped, %d failed; "
         "digits_cnn ran after %d failing cases\n",
         n, matched, xfail, skipped, failed, recoveries);
  free(cs);
  return tu_done("test_corpus");
}
