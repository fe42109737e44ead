/* functions.c — model-local functions (ModelProto.functions, IR >= 8): which
 * function a node calls, and the scope of one call while load.c inlines the
 * function's body into the calling graph.
 *
 * Inside a call, a name of the body means: the caller's actual input or
 * output for a formal one (an omitted optional input is ""), otherwise a
 * value private to this call, renamed "<caller node>/<name>" (with a numeric
 * suffix when the model already uses that name) so that two calls, or a call
 * and the model's own values, never collide. An attribute that refers to the
 * function's attribute (ref_attr_name) takes the caller's value, else the
 * default the function declares, else it is left out; a caller's attribute
 * that is itself a reference resolves one scope further out.
 *
 * The system's onnx.proto (ONNX 1.12) predates FunctionProto.attribute_proto
 * (defaults), FunctionProto.overload and NodeProto.overload (IR 9/10);
 * protobuf-c keeps those fields as unknown fields, and they are read here, so
 * models from newer exporters inline as their spec says. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "ir/ir.h"
#include "onnx_private.h"

/* Calls nested deeper than this are refused (recursion is caught earlier). */
#define MAX_CALL_DEPTH 32

/* Field numbers newer than the generated code (see the file comment). */
enum { FN_ATTRIBUTE_PROTO = 11, FN_OVERLOAD = 13, NODE_OVERLOAD = 8 };

typedef struct fn_entry {
  const Onnx__FunctionProto *fp;
  char *overload;                  /* owned; "" when none */
  size_t n_defaults;
  Onnx__AttributeProto **defaults; /* owned, unpacked from attribute_proto */
} fn_entry;

struct onyx_fn_lib {
  size_t n;
  fn_entry *fns;
  onyx_strmap *by_key;             /* "domain\nname\noverload" -> index in fns */
  onyx_strmap *used;               /* every value name the model uses or a call made */
  onyx_pb_alloc pa;                /* allocator of the unpacked defaults */
};

struct onyx_fn_scope {
  onyx_fn_lib *lib;
  onyx_fn_scope *up;               /* the caller's scope; NULL: the model's graphs */
  const Onnx__NodeProto *call;
  const fn_entry *fn;
  int depth;
  char *prefix;                    /* owned: the caller's node name as inlined */
  const char **in, **out;          /* actual names bound to the formal ones (borrowed) */
  onyx_strmap *names;              /* body name -> index in made */
  int n_made, cap_made;
  char **made;                     /* owned renamed values */
};

static const char *str_or_empty(const char *s) { return s ? s : ""; }

static bool is_default_domain(const char *d) { return !*d || !strcmp(d, "ai.onnx"); }

/* ---- unknown fields ------------------------------------------------------------------ */

/* Payload of the length-delimited unknown field u: protobuf-c keeps the
 * length prefix in its data. False when the bytes do not add up. */
static bool unknown_payload(const ProtobufCMessageUnknownField *u, const uint8_t **p, size_t *len) {
  if (u->wire_type != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED) return false;
  const uint8_t *q = u->data, *end = u->data + u->len;
  uint64_t n = 0;
  for (int shift = 0; q < end && shift < 64; shift += 7) {
    uint8_t b = *q++;
    n |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      if (n != (uint64_t)(end - q)) return false;
      *p = q;
      *len = (size_t)n;
      return true;
    }
  }
  return false;
}

/* The string in unknown field `number` of m ("" when absent), borrowed
 * from m: *len gets its length. */
static const char *unknown_string(const ProtobufCMessage *m, uint32_t number, size_t *len) {
  const uint8_t *p;
  for (unsigned i = m->n_unknown_fields; i-- > 0;)  /* the last occurrence wins */
    if (m->unknown_fields[i].tag == number && unknown_payload(&m->unknown_fields[i], &p, len))
      return (const char *)p;
  *len = 0;
  return "";
}

/* ---- the library ------------------------------------------------------------------- */

/* "domain\nname\noverload" into a new string (the default domain as ""). */
static char *fn_key(const char *domain, const char *name, const char *overload, size_t overload_len) {
  if (is_default_domain(domain)) domain = "";
  size_t n = strlen(domain) + strlen(name) + overload_len + 3;
  char *k = onyx_malloc(n);
  if (k) snprintf(k, n, "%s\n%s\n%.*s", domain, name, (int)overload_len, overload);
  return k;
}

static onyx_status *use_name(onyx_fn_lib *lib, const char *name) {
  if (!name || !*name || onyx_strmap_get(lib->used, name) >= 0) return NULL;
  return onyx_strmap_put(lib->used, name, 1) ? NULL : onyx_error_oom();
}

/* Records every value name of gp and its subgraphs in lib->used. */
static onyx_status *collect_names(onyx_fn_lib *lib, const Onnx__GraphProto *gp, int depth) {
  if (!gp || depth > 256) return NULL;   /* deeper graphs are refused by the loader */
  for (size_t i = 0; i < gp->n_input; i++) ONYX_TRY(use_name(lib, gp->input[i]->name));
  for (size_t i = 0; i < gp->n_output; i++) ONYX_TRY(use_name(lib, gp->output[i]->name));
  for (size_t i = 0; i < gp->n_value_info; i++) ONYX_TRY(use_name(lib, gp->value_info[i]->name));
  for (size_t i = 0; i < gp->n_initializer; i++) ONYX_TRY(use_name(lib, gp->initializer[i]->name));
  for (size_t i = 0; i < gp->n_node; i++) {
    const Onnx__NodeProto *np = gp->node[i];
    if (!np) continue;
    for (size_t k = 0; k < np->n_input; k++) ONYX_TRY(use_name(lib, np->input[k]));
    for (size_t k = 0; k < np->n_output; k++) ONYX_TRY(use_name(lib, np->output[k]));
    for (size_t k = 0; k < np->n_attribute; k++) {
      const Onnx__AttributeProto *ap = np->attribute[k];
      ONYX_TRY(collect_names(lib, ap->g, depth + 1));
      for (size_t j = 0; j < ap->n_graphs; j++) ONYX_TRY(collect_names(lib, ap->graphs[j], depth + 1));
    }
  }
  return NULL;
}

/* Reads fn's overload and default attributes from its unknown fields. */
static onyx_status *entry_init(onyx_fn_lib *lib, fn_entry *e, const Onnx__FunctionProto *fp) {
  e->fp = fp;
  size_t len;
  const char *ov = unknown_string(&fp->base, FN_OVERLOAD, &len);
  if (!(e->overload = onyx_strndup(ov, len))) return onyx_error_oom();
  size_t n = 0;
  for (unsigned i = 0; i < fp->base.n_unknown_fields; i++) n += fp->base.unknown_fields[i].tag == FN_ATTRIBUTE_PROTO;
  if (!n) return NULL;
  if (!(e->defaults = onyx_calloc(n, sizeof *e->defaults))) return onyx_error_oom();
  for (unsigned i = 0; i < fp->base.n_unknown_fields; i++) {
    const ProtobufCMessageUnknownField *u = &fp->base.unknown_fields[i];
    const uint8_t *p;
    if (u->tag != FN_ATTRIBUTE_PROTO) continue;
    Onnx__AttributeProto *ap = unknown_payload(u, &p, &len) ? onnx__attribute_proto__unpack(&lib->pa.base, len, p) : NULL;
    if (!ap)
      return lib->pa.failed ? onyx_error_oom()
                            : onyx_error(ONYX_ERR_INVALID_MODEL, "function '%s': a default attribute is malformed",
                                         str_or_empty(fp->name));
    e->defaults[e->n_defaults++] = ap;
    if (!ap->name || !*ap->name)
      return onyx_error(ONYX_ERR_INVALID_MODEL, "function '%s': a default attribute has no name",
                        str_or_empty(fp->name));
  }
  return NULL;
}

onyx_status *onyx_fn_lib_create(const Onnx__ModelProto *mp, onyx_fn_lib **out) {
  if (mp->n_functions > INT_MAX) return onyx_error(ONYX_ERR_INVALID_MODEL, "too many functions");
  onyx_fn_lib *lib = onyx_calloc(1, sizeof *lib);
  if (!lib) return onyx_error_oom();
  onyx_pb_alloc_init(&lib->pa);
  onyx_status *s = NULL;
  lib->by_key = onyx_strmap_new();
  lib->used = onyx_strmap_new();
  lib->fns = onyx_calloc(mp->n_functions + 1, sizeof *lib->fns);
  if (!lib->by_key || !lib->used || !lib->fns) {
    s = onyx_error_oom();
    goto done;
  }
  for (size_t i = 0; i < mp->n_functions; i++) {
    const Onnx__FunctionProto *fp = mp->functions[i];
    fn_entry *e = &lib->fns[lib->n++];
    if ((s = entry_init(lib, e, fp))) goto done;
    if (!fp->name || !*fp->name) {
      s = onyx_error(ONYX_ERR_INVALID_MODEL, "function %zu has no name", i);
      goto done;
    }
    char *key = fn_key(str_or_empty(fp->domain), fp->name, e->overload, strlen(e->overload));
    if (!key) {
      s = onyx_error_oom();
      goto done;
    }
    bool dup = onyx_strmap_get(lib->by_key, key) >= 0;
    bool ok = dup || onyx_strmap_put(lib->by_key, key, (int)i);
    onyx_free(key);
    if (dup) {
      s = onyx_error(ONYX_ERR_INVALID_MODEL, "function '%s' of domain '%s' is defined twice", fp->name,
                     str_or_empty(fp->domain));
      goto done;
    }
    if (!ok) {
      s = onyx_error_oom();
      goto done;
    }
  }
  s = collect_names(lib, mp->graph, 0);
done:
  if (s) {
    onyx_fn_lib_destroy(lib);
    return s;
  }
  *out = lib;
  return NULL;
}

void onyx_fn_lib_destroy(onyx_fn_lib *lib) {
  if (!lib) return;
  for (size_t i = 0; i < lib->n; i++) {
    fn_entry *e = &lib->fns[i];
    onyx_free(e->overload);
    for (size_t k = 0; k < e->n_defaults; k++) onnx__attribute_proto__free_unpacked(e->defaults[k], &lib->pa.base);
    onyx_free(e->defaults);
  }
  onyx_free(lib->fns);
  onyx_strmap_free(lib->by_key);
  onyx_strmap_free(lib->used);
  onyx_free(lib);
}

onyx_status *onyx_fn_lib_find(const onyx_fn_lib *lib, const Onnx__NodeProto *np,
                              const Onnx__FunctionProto **out) {
  *out = NULL;
  if (!lib || !lib->n) return NULL;
  size_t len;
  const char *ov = unknown_string(&np->base, NODE_OVERLOAD, &len);
  char *key = fn_key(str_or_empty(np->domain), str_or_empty(np->op_type), ov, len);
  if (!key) return onyx_error_oom();
  int i = onyx_strmap_get(lib->by_key, key);
  onyx_free(key);
  if (i >= 0) *out = lib->fns[i].fp;
  return NULL;
}

/* ---- scopes ------------------------------------------------------------------------- */

static const fn_entry *entry_of(const onyx_fn_lib *lib, const Onnx__FunctionProto *fp) {
  for (size_t i = 0; i < lib->n; i++)
    if (lib->fns[i].fp == fp) return &lib->fns[i];
  return NULL;
}

/* A name no graph of the model uses yet: "<prefix>/<name>", else with
 * "_1", "_2" ... appended. Recorded as used; the caller owns the result. */
static onyx_status *fresh_name(onyx_fn_lib *lib, const char *prefix, const char *name, char **out) {
  size_t n = strlen(prefix) + strlen(name) + 24;
  char *s = onyx_malloc(n);
  if (!s) return onyx_error_oom();
  snprintf(s, n, "%s/%s", prefix, name);
  for (unsigned long k = 1; onyx_strmap_get(lib->used, s) >= 0; k++) snprintf(s, n, "%s/%s_%lu", prefix, name, k);
  if (!onyx_strmap_put(lib->used, s, 1)) {
    onyx_free(s);
    return onyx_error_oom();
  }
  *out = s;
  return NULL;
}

/* The renamed value for body name `name` of sc, made on first use. */
static onyx_status *private_name(onyx_fn_scope *sc, const char *name, const char **out) {
  int i = onyx_strmap_get(sc->names, name);
  if (i < 0) {
    if (sc->n_made == sc->cap_made) {
      int cap = sc->cap_made ? 2 * sc->cap_made : 16;
      char **p = onyx_realloc(sc->made, (size_t)cap * sizeof *p);
      if (!p) return onyx_error_oom();
      sc->made = p;
      sc->cap_made = cap;
    }
    char *s = NULL;   /* set by fresh_name; GCC -O3 cannot see it */
    ONYX_TRY(fresh_name(sc->lib, sc->prefix, name, &s));
    if (!onyx_strmap_put(sc->names, name, sc->n_made)) {
      onyx_free(s);
      return onyx_error_oom();
    }
    i = sc->n_made;
    sc->made[sc->n_made++] = s;
  }
  *out = sc->made[i];
  return NULL;
}

onyx_status *onyx_fn_scope_name(onyx_fn_scope *sc, const char *name, const char **out) {
  name = str_or_empty(name);
  if (!sc || !*name) {
    *out = name;
    return NULL;
  }
  const Onnx__FunctionProto *fp = sc->fn->fp;
  for (size_t i = 0; i < fp->n_input; i++)
    if (fp->input[i] && !strcmp(fp->input[i], name)) {
      *out = sc->in[i];
      return NULL;
    }
  for (size_t i = 0; i < fp->n_output; i++)
    if (fp->output[i] && !strcmp(fp->output[i], name)) {
      *out = sc->out[i];
      return NULL;
    }
  return private_name(sc, name, out);
}

const char *onyx_fn_scope_prefix(const onyx_fn_scope *sc) { return sc ? sc->prefix : ""; }

onyx_status *onyx_fn_scope_enter(onyx_fn_lib *lib, onyx_fn_scope *caller, const Onnx__NodeProto *call,
                                 const Onnx__FunctionProto *fp, onyx_fn_scope **out) {
  const char *fname = str_or_empty(fp->name), *fdom = str_or_empty(fp->domain);
  int depth = caller ? caller->depth + 1 : 1;
  for (const onyx_fn_scope *s = caller; s; s = s->up)
    if (s->fn->fp == fp)
      return onyx_error(ONYX_ERR_INVALID_MODEL, "function '%s' of domain '%s' calls itself (recursion is not allowed)",
                        fname, fdom);
  if (depth > MAX_CALL_DEPTH)
    return onyx_error(ONYX_ERR_INVALID_MODEL, "function '%s' of domain '%s': calls nested more than %d deep",
                      fname, fdom, MAX_CALL_DEPTH);
  if (call->n_input > fp->n_input || call->n_output > fp->n_output)
    return onyx_error(ONYX_ERR_INVALID_MODEL, "function '%s' takes %zu inputs and %zu outputs, the call gives %zu and %zu",
                      fname, fp->n_input, fp->n_output, call->n_input, call->n_output);
  onyx_fn_scope *sc = onyx_calloc(1, sizeof *sc);
  if (!sc) return onyx_error_oom();
  sc->lib = lib;
  sc->up = caller;
  sc->call = call;
  sc->fn = entry_of(lib, fp);
  sc->depth = depth;
  onyx_status *s = NULL;
  const char *cname = str_or_empty(call->name);
  if (!*cname) cname = fname;
  if (caller) {
    const char *pre = caller->prefix;
    size_t n = strlen(pre) + strlen(cname) + 2;
    if ((sc->prefix = onyx_malloc(n))) snprintf(sc->prefix, n, "%s/%s", pre, cname);
  } else {
    sc->prefix = onyx_strdup(cname);
  }
  sc->names = onyx_strmap_new();
  sc->in = onyx_calloc(fp->n_input + 1, sizeof *sc->in);
  sc->out = onyx_calloc(fp->n_output + 1, sizeof *sc->out);
  if (!sc->prefix || !sc->names || !sc->in || !sc->out) {
    s = onyx_error_oom();
    goto done;
  }
  for (size_t i = 0; i < fp->n_input && !s; i++) {
    sc->in[i] = "";
    if (i < call->n_input) s = onyx_fn_scope_name(caller, call->input[i], &sc->in[i]);
  }
  /* An output the caller does not take is still made: the body may read it. */
  for (size_t i = 0; i < fp->n_output && !s; i++) {
    const char *actual = i < call->n_output ? str_or_empty(call->output[i]) : "";
    if (*actual) s = onyx_fn_scope_name(caller, actual, &sc->out[i]);
    else s = private_name(sc, str_or_empty(fp->output[i]), &sc->out[i]);
  }
done:
  if (s) {
    onyx_fn_scope_leave(sc);
    return s;
  }
  *out = sc;
  return NULL;
}

void onyx_fn_scope_leave(onyx_fn_scope *sc) {
  if (!sc) return;
  for (int i = 0; i < sc->n_made; i++) onyx_free(sc->made[i]);
  onyx_free(sc->made);
  onyx_strmap_free(sc->names);
  onyx_free(sc->in);
  onyx_free(sc->out);
  onyx_free(sc->prefix);
  onyx_free(sc);
}

static const Onnx__AttributeProto *find_attr(Onnx__AttributeProto *const *list, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (list[i]->name && !strcmp(list[i]->name, name)) return list[i];
  return NULL;
}

const Onnx__AttributeProto *onyx_fn_scope_attr(onyx_fn_scope *sc, const char *ref, onyx_fn_scope **origin) {
  if (!sc) return NULL;
  const Onnx__AttributeProto *ap = find_attr(sc->call->attribute, sc->call->n_attribute, ref);
  if (ap && !ap->ref_attr_name) {
    *origin = sc->up;
    return ap;
  }
  if (ap) {   /* the caller passes on an attribute of its own function */
    const Onnx__AttributeProto *r = onyx_fn_scope_attr(sc->up, ap->ref_attr_name, origin);
    if (r) return r;
  }
  ap = find_attr(sc->fn->defaults, sc->fn->n_defaults, ref);
  if (ap) *origin = sc;   /* a default is written in the function's own names */
  return ap;
}

const char *onyx_fn_scope_output(const onyx_fn_scope *sc, size_t i) { return sc->out[i]; }
