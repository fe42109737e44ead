/* report_json.c — the JSON reader of `onyx report` (see report_json.h): a
 * recursive-descent parser over a bounds-checked cursor, and dotted-path
 * lookups. */
#include "report_json.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

typedef struct cursor {
  const char *s;
  size_t len, pos;
  char *err;
  size_t errlen;
  bool failed;
} cursor;

static bool fail(cursor *c, const char *what) {
  if (!c->failed) snprintf(c->err, c->errlen, "%s at byte %zu", what, c->pos);
  c->failed = true;
  return false;
}

static void skip_ws(cursor *c) {
  while (c->pos < c->len && strchr(" \t\r\n", c->s[c->pos]) && c->s[c->pos]) c->pos++;
}

static bool literal(cursor *c, const char *word) {
  size_t n = strlen(word);
  if (c->len - c->pos < n || memcmp(c->s + c->pos, word, n)) return fail(c, "unexpected token");
  c->pos += n;
  return true;
}

static int hex4(cursor *c) {
  if (c->len - c->pos < 4) return -1;
  int v = 0;
  for (int k = 0; k < 4; k++) {
    char h = c->s[c->pos++];
    v = v * 16 + (h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1000);
  }
  return v < 0 ? -1 : v;
}

static size_t put_utf8(char *o, uint32_t cp) {
  if (cp < 0x80) return o[0] = (char)cp, 1;
  if (cp < 0x800) return o[0] = (char)(0xc0 | cp >> 6), o[1] = (char)(0x80 | (cp & 0x3f)), 2;
  if (cp < 0x10000)
    return o[0] = (char)(0xe0 | cp >> 12), o[1] = (char)(0x80 | (cp >> 6 & 0x3f)), o[2] = (char)(0x80 | (cp & 0x3f)), 3;
  o[0] = (char)(0xf0 | cp >> 18), o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
  o[2] = (char)(0x80 | (cp >> 6 & 0x3f)), o[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

/* A string at the cursor (on its opening quote) into a new buffer. Escapes
 * shrink, never grow, the text (\uXXXX: 6 bytes in, at most 4 out), so the
 * raw length bounds the decoded one. */
static bool parse_string(cursor *c, char **out) {
  size_t start = ++c->pos, end = start;
  while (end < c->len && c->s[end] != '"') end += c->s[end] == '\\' ? 2 : 1;
  if (end >= c->len) return fail(c, "unterminated string");
  char *o = malloc(end - start + 1);
  if (!o) return fail(c, "out of memory");
  size_t n = 0;
  while (c->pos < end) {
    unsigned char ch = (unsigned char)c->s[c->pos++];
    if (ch < 0x20) {
      free(o);
      return fail(c, "control character in string");
    }
    if (ch != '\\') {
      o[n++] = (char)ch;
      continue;
    }
    char e = c->s[c->pos++];
    const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t", *k = e ? strchr(from, e) : NULL;
    if (k) {
      o[n++] = to[k - from];
      continue;
    }
    int cp = e == 'u' ? hex4(c) : -1;
    if (cp >= 0xd800 && cp < 0xdc00 && end - c->pos >= 6 && c->s[c->pos] == '\\' && c->s[c->pos + 1] == 'u') {
      c->pos += 2;
      int lo = hex4(c);
      cp = lo >= 0xdc00 && lo < 0xe000 ? 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00) : -1;
    }
    if (cp < 0 || (cp >= 0xd800 && cp < 0xe000)) {
      free(o);
      return fail(c, "bad escape in string");
    }
    n += put_utf8(o + n, (uint32_t)cp);
  }
  o[n] = '\0';
  c->pos = end + 1;
  *out = o;
  return true;
}

static bool parse_value(cursor *c, json_value *v, int depth);

/* Appends a zeroed slot to v's items (and keys), returning it. */
static json_value *grow(cursor *c, json_value *v, int *cap) {
  if (v->n == *cap) {
    int nc = *cap ? 2 * *cap : 8;
    json_value *ni = realloc(v->items, (size_t)nc * sizeof *ni);
    if (ni) v->items = ni;
    if (ni && v->type == JSON_OBJECT) {
      char **nk = realloc(v->keys, (size_t)nc * sizeof *nk);
      if (!nk) ni = NULL;
      else v->keys = nk;
    }
    if (!ni) return fail(c, "out of memory"), NULL;
    *cap = nc;
  }
  json_value *slot = &v->items[v->n];
  memset(slot, 0, sizeof *slot);
  if (v->type == JSON_OBJECT) v->keys[v->n] = NULL;
  v->n++;
  return slot;
}

static bool parse_container(cursor *c, json_value *v, int depth) {
  bool object = c->s[c->pos++] == '{';
  v->type = object ? JSON_OBJECT : JSON_ARRAY;
  char close = object ? '}' : ']';
  int cap = 0;
  skip_ws(c);
  if (c->pos < c->len && c->s[c->pos] == close) {
    c->pos++;
    return true;
  }
  for (;;) {
    skip_ws(c);
    json_value *slot = grow(c, v, &cap);
    if (!slot) return false;
    if (object) {
      if (c->pos >= c->len || c->s[c->pos] != '"') return fail(c, "expected a key");
      if (!parse_string(c, &v->keys[v->n - 1])) return false;
      skip_ws(c);
      if (c->pos >= c->len || c->s[c->pos++] != ':') return fail(c, "expected ':'");
    }
    if (!parse_value(c, slot, depth + 1)) return false;
    skip_ws(c);
    if (c->pos >= c->len) return fail(c, "unterminated container");
    char ch = c->s[c->pos++];
    if (ch == close) return true;
    if (ch != ',') return fail(c, "expected ',' or the container's end");
  }
}

static bool parse_number(cursor *c, json_value *v) {
  char buf[64];
  size_t n = 0;
  while (c->pos + n < c->len && n < sizeof buf - 1 && strchr("+-0123456789.eE", c->s[c->pos + n]) &&
         c->s[c->pos + n])
    n++;
  memcpy(buf, c->s + c->pos, n);
  buf[n] = '\0';
  char *end;
  errno = 0;
  v->number = strtod(buf, &end);
  if (!n || *end || errno == ERANGE) return fail(c, "bad number");
  v->type = JSON_NUMBER;
  c->pos += n;
  return true;
}

static bool parse_value(cursor *c, json_value *v, int depth) {
  if (depth > MAX_DEPTH) return fail(c, "nesting too deep");
  skip_ws(c);
  if (c->pos >= c->len) return fail(c, "unexpected end");
  switch (c->s[c->pos]) {
    case '{': case '[': return parse_container(c, v, depth);
    case '"': v->type = JSON_STRING; return parse_string(c, &v->string);
    case 't': v->type = JSON_BOOL, v->boolean = true; return literal(c, "true");
    case 'f': v->type = JSON_BOOL; return literal(c, "false");
    case 'n': v->type = JSON_NULL; return literal(c, "null");
    default: return parse_number(c, v);
  }
}

static void free_children(json_value *v) {
  for (int i = 0; i < v->n; i++) {
    free_children(&v->items[i]);
    if (v->keys) free(v->keys[i]);
  }
  free(v->items);
  free(v->keys);
  free(v->string);
}

void json_free(json_value *v) {
  if (!v) return;
  free_children(v);
  free(v);
}

bool json_parse(const char *text, size_t len, json_value **out, char *err, size_t errlen) {
  cursor c = {text, len, 0, err, errlen, false};
  json_value *v = calloc(1, sizeof *v);
  *out = NULL;
  if (!v) return fail(&c, "out of memory");
  if (parse_value(&c, v, 0)) {
    skip_ws(&c);
    if (c.pos == len) {
      *out = v;
      return true;
    }
    fail(&c, "trailing characters");
  }
  json_free(v);
  return false;
}

bool json_parse_file(const char *path, json_value **out, char *err, size_t errlen) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
    return false;
  }
  char *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len == cap) {
      char *nb = realloc(buf, cap = cap ? 2 * cap : 65536);
      if (!nb) break;
      buf = nb;
    }
    size_t got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (!got) break;
  }
  bool read_ok = !ferror(f) && buf && len < cap;
  fclose(f);
  char msg[256];
  bool ok = read_ok && json_parse(buf, len, out, msg, sizeof msg);
  if (!read_ok) snprintf(err, errlen, "cannot read '%s'", path);
  else if (!ok) snprintf(err, errlen, "'%s' is not valid JSON: %s", path, msg);
  free(buf);
  return ok;
}

const json_value *json_path(const json_value *v, const char *path) {
  while (v && *path) {
    size_t n = strcspn(path, ".");
    const json_value *next = NULL;
    if (v->type == JSON_OBJECT) {
      for (int i = 0; i < v->n && !next; i++)
        if (strlen(v->keys[i]) == n && !memcmp(v->keys[i], path, n)) next = &v->items[i];
    } else if (v->type == JSON_ARRAY) {
      char *end;
      long k = strtol(path, &end, 10);
      if (end == path + n && n && k >= 0 && k < v->n) next = &v->items[k];
    }
    v = next;
    path += n + (path[n] == '.');
  }
  return v;
}

double json_number(const json_value *v) { return v && v->type == JSON_NUMBER ? v->number : NAN; }

const char *json_string(const json_value *v) { return v && v->type == JSON_STRING ? v->string : NULL; }
