/* strmap.c — open-addressing hash map from string to int (FNV-1a). */
#include <string.h>

#include "base/alloc.h"
#include "ir.h"

struct onyx_strmap {
  size_t cap, count;   /* cap is a power of two */
  char **keys;
  int *vals;
};

static uint64_t hash(const char *s) {
  uint64_t h = 1469598103934665603ull;
  while (*s) h = (h ^ (unsigned char)*s++) * 1099511628211ull;
  return h;
}

onyx_strmap *onyx_strmap_new(void) {
  onyx_strmap *m = onyx_calloc(1, sizeof *m);
  if (!m) return NULL;
  m->cap = 16;
  m->keys = onyx_calloc(m->cap, sizeof *m->keys);
  m->vals = onyx_calloc(m->cap, sizeof *m->vals);
  if (!m->keys || !m->vals) {
    onyx_strmap_free(m);
    return NULL;
  }
  return m;
}

void onyx_strmap_free(onyx_strmap *m) {
  if (!m) return;
  if (m->keys)
    for (size_t i = 0; i < m->cap; i++) onyx_free(m->keys[i]);
  onyx_free(m->keys);
  onyx_free(m->vals);
  onyx_free(m);
}

static size_t slot(const onyx_strmap *m, const char *key) {
  size_t i = (size_t)hash(key) & (m->cap - 1);
  while (m->keys[i] && strcmp(m->keys[i], key)) i = (i + 1) & (m->cap - 1);
  return i;
}

static bool grow(onyx_strmap *m) {
  size_t ncap = m->cap * 2;
  char **nk = onyx_calloc(ncap, sizeof *nk);
  int *nv = onyx_calloc(ncap, sizeof *nv);
  if (!nk || !nv) {
    onyx_free(nk);
    onyx_free(nv);
    return false;
  }
  onyx_strmap old = *m;
  m->cap = ncap;
  m->keys = nk;
  m->vals = nv;
  for (size_t i = 0; i < old.cap; i++)
    if (old.keys[i]) {
      size_t j = slot(m, old.keys[i]);
      m->keys[j] = old.keys[i];
      m->vals[j] = old.vals[i];
    }
  onyx_free(old.keys);
  onyx_free(old.vals);
  return true;
}

bool onyx_strmap_put(onyx_strmap *m, const char *key, int value) {
  if ((m->count + 1) * 2 > m->cap && !grow(m)) return false;
  size_t i = slot(m, key);
  if (!m->keys[i]) {
    if (!(m->keys[i] = onyx_strdup(key))) return false;
    m->count++;
  }
  m->vals[i] = value;
  return true;
}

int onyx_strmap_get(const onyx_strmap *m, const char *key) {
  size_t i = slot(m, key);
  return m->keys[i] ? m->vals[i] : -1;
}
