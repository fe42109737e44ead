/* test_providers.c — the provider framework: partitioning by capability and
 * priority, grouping for compiling providers, copies between memory spaces,
 * compile-failure fallback (out of memory included, reasons logged), the
 * error when compiles keep failing, partition reuse across re-plans and
 * the partition hash, a device lost at run time (re-plan without the
 * provider), set_providers and profiling.
 *
 * A fake provider "fake" takes the nodes whose name starts with "f" and runs
 * them either per node or as compiled partitions that evaluate their nodes
 * with the cpu kernels (so numerics are checkable); as a compiling provider
 * it lives in a memory space of its own ("fake:0", host heap memory marked
 * as a device's), can fail compiles (or run out of memory in them), or
 * report a lost device during runs. (The simulated device of test_simdev
 * checks the asynchronous side; this one stays synchronous.) */
#include "base/alloc.h"
#include "exec/exec.h"
#include "exec/session_internal.h"
#include "providers/cpu/cpu.h"
#include "test_util.h"

typedef struct fake_ctx {
  bool compiling;       /* compile groups instead of per-node kernels */
  bool fail_compile;    /* every compile fails */
  bool oom_compile;     /* every compile runs out of memory */
  bool fail_runs;       /* fused runs report a lost device */
  bool device;          /* tensors live in the fake memory space */
  bool bakes;           /* compiles keep the initializers (bakes_constants) */
  int null_inputs;      /* inputs runs received as NULL (baked) */
  int compiles, runs;
  uint64_t hashes[8];   /* partition hashes seen by compile */
} fake_ctx;

static void *fake_alloc(onyx_allocator *a, size_t n) {
  (void)a;
  return onyx_malloc_aligned(n);
}
static void fake_release(onyx_allocator *a, void *p, size_t n) {
  (void)a;
  (void)n;
  onyx_free_aligned(p);
}
static onyx_status *fake_copy(onyx_allocator *a, void *dst, const void *src, size_t n, onyx_copy_kind k, void *rs) {
  (void)a;
  (void)k;
  (void)rs;
  memcpy(dst, src, n);
  return NULL;
}
static const onyx_allocator_iface fake_alloc_iface = {fake_alloc, fake_release, NULL, fake_copy, NULL, NULL};
static onyx_allocator fake_space = {&fake_alloc_iface, "fake:0", false, NULL, 0, 0, 0, 0};

static onyx_status *fake_supports(onyx_provider *p, const onyx_graph *g, const onyx_node *n) {
  (void)p;
  (void)g;
  return n->name[0] == 'f' ? NULL : onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "fake takes only nodes named f*");
}

static const onyx_kernel *fake_kernel_for(onyx_provider *p, const onyx_graph *g, const onyx_node *n) {
  (void)p;
  (void)g;
  return cpu_kernel_find(n->op);
}

static onyx_allocator *fake_allocator(onyx_provider *p) {
  fake_ctx *c = p->ctx;
  return c->device ? &fake_space : NULL;
}

typedef struct fused_state {
  const onyx_graph *g;
  onyx_partition part;
  int *nodes, *in, *out;
  fake_ctx *ctx;
} fused_state;

/* Evaluates the partition's nodes in order on a value map of its own. */
static onyx_status *fused_run(onyx_kernel_ctx *c) {
  const fused_state *fs = c->state;
  fs->ctx->runs++;
  if (fs->ctx->fail_runs) return onyx_error(ONYX_ERR_DEVICE, "fake device lost");
  const onyx_graph *g = fs->g;
  onyx_tensor **vals = calloc((size_t)g->n_values, sizeof *vals);
  bool *own = calloc((size_t)g->n_values, sizeof *own);
  onyx_status *s = NULL;
  for (int i = 0; i < fs->part.n_in; i++) {
    if (!c->in[i]) {   /* baked: the node reads the initializer itself */
      fs->ctx->null_inputs++;
      continue;
    }
    if (fs->ctx->device && strcmp(onyx_tensor_device(c->in[i]), "fake:0"))
      s = onyx_error(ONYX_ERR_RUNTIME, "input %d is not on the fake device", i);
    vals[fs->in[i]] = c->in[i];
  }
  for (int k = 0; k < fs->part.n_nodes && !s; k++) {
    const onyx_node *n = &g->nodes[fs->nodes[k]];
    onyx_tensor *ni[8], *no[8];
    for (int j = 0; j < n->n_in; j++) ni[j] = n->in[j] >= 0 ? (vals[n->in[j]] ? vals[n->in[j]] : g->values[n->in[j]].init) : NULL;
    s = onyx_exec_node(g, n, ni, no, c->pool);
    for (int j = 0; !s && j < n->n_out; j++) {
      vals[n->out[j]] = no[j];
      own[n->out[j]] = true;
    }
  }
  for (int i = 0; i < fs->part.n_out && !s; i++) {
    const onyx_tensor *r = vals[fs->out[i]];
    s = onyx_kernel_alloc_output(c, i, r->rank, r->dims);
    if (!s) memcpy(c->out[i]->data, r->data, r->nbytes);
  }
  for (int v = 0; v < g->n_values; v++)
    if (own[v]) onyx_tensor_free(vals[v]);
  free(vals);
  free(own);
  return s;
}

static void fused_release(void *st) {
  fused_state *fs = st;
  free(fs->nodes);
  free(fs->in);
  free(fs->out);
  free(fs);
}

static onyx_status *fake_compile(onyx_provider *p, const onyx_graph *g, const onyx_partition *part, onyx_fused *out) {
  fake_ctx *c = p->ctx;
  if (c->compiles < 8) c->hashes[c->compiles] = part->hash;
  c->compiles++;
  if (c->fail_compile) return onyx_error(ONYX_ERR_RUNTIME, "fake compile refused");
  if (c->oom_compile) return onyx_error(ONYX_ERR_OUT_OF_MEMORY, "fake device memory exhausted");
  fused_state *fs = calloc(1, sizeof *fs);
  fs->g = g;
  fs->ctx = c;
  fs->part = *part;
  fs->nodes = malloc(sizeof(int) * (size_t)(part->n_nodes + 1));
  fs->in = malloc(sizeof(int) * (size_t)(part->n_in + 1));
  fs->out = malloc(sizeof(int) * (size_t)(part->n_out + 1));
  memcpy(fs->nodes, part->nodes, sizeof(int) * (size_t)part->n_nodes);
  memcpy(fs->in, part->in, sizeof(int) * (size_t)part->n_in);
  memcpy(fs->out, part->out, sizeof(int) * (size_t)part->n_out);
  *out = (onyx_fused){fused_run, fused_release, fs, c->bakes};
  return NULL;
}

static const onyx_provider_iface node_iface = {
    .version = ONYX_PROVIDER_IFACE_VERSION, .supports = fake_supports, .kernel_for = fake_kernel_for};
static const onyx_provider_iface fused_iface = {.version = ONYX_PROVIDER_IFACE_VERSION,
                                                .supports = fake_supports,
                                                .compile = fake_compile,
                                                .allocator = fake_allocator};

/* x -> n0 -> v0 -> n1 -> v1 -> ... -> y ; names[i] names node i. Identity ops. */
static onyx_model *chain(int n, const char *const *names) {
  onyx_model *m = tu_model_new(13);
  onyx_graph *g = m->graph;
  int prev, cur;
  onyx_graph_value(g, "x", &prev);
  g->values[prev].dtype = ONYX_DTYPE_FLOAT;
  g->values[prev].rank = 1;
  g->values[prev].dims[0] = 4;
  onyx_graph_set_inputs(g, 1, &prev);
  for (int i = 0; i < n; i++) {
    char vn[16];
    snprintf(vn, sizeof vn, i == n - 1 ? "y" : "v%d", i);
    onyx_graph_value(g, vn, &cur);
    onyx_graph_add_node(g, names[i], "Identity", "", 1, &prev, 1, &cur, NULL);
    prev = cur;
  }
  onyx_graph_set_outputs(g, 1, &cur);
  return m;
}

/* y = (x + w) + w with a constant w: the partition hash covers its bytes. */
static onyx_model *add_const(float wv) {
  onyx_model *m = tu_model_new(13);
  onyx_graph *g = m->graph;
  int x, w, t, y;
  onyx_graph_value(g, "x", &x);
  onyx_graph_value(g, "w", &w);
  onyx_graph_value(g, "t", &t);
  onyx_graph_value(g, "y", &y);
  int64_t d = 4;
  float wd[4] = {wv, wv, wv, wv};
  onyx_tensor *wt = tu_f32(1, &d, wd);
  g->values[w].init = wt;
  for (int v = 0; v < 2; v++) {
    g->values[v ? w : x].dtype = ONYX_DTYPE_FLOAT;
    g->values[v ? w : x].rank = 1;
    g->values[v ? w : x].dims[0] = 4;
  }
  onyx_graph_set_inputs(g, 1, &x);
  onyx_graph_add_node(g, "fa", "Add", "", 2, (int[]){x, w}, 1, &t, NULL);
  onyx_graph_add_node(g, "fb", "Add", "", 2, (int[]){t, w}, 1, &y, NULL);
  onyx_graph_set_outputs(g, 1, &y);
  return m;
}

static onyx_session *make(onyx_model *m, onyx_provider *fake, const char *list) {
  onyx_options *o;
  onyx_options_create(&o);
  onyx_options_set_intra_op_threads(o, 1);
  onyx_options_set_optimization_level(o, 0); /* the Identity chain must stay as built */
  onyx_options_enable_profiling(o, 1);
  if (fake) CHECK_OK(onyx_options_add_provider(o, fake));
  CHECK_OK(onyx_options_set_providers(o, list));
  onyx_session *s = NULL;
  CHECK_OK(onyx_session_create_from_model(m, o, &s));
  onyx_options_destroy(o);
  return s;
}

static int run_check(onyx_session *s) {
  int64_t d = 4;
  float v[4] = {1, -2, 3, 4.5f};
  onyx_tensor *x = tu_f32(1, &d, v), *y = NULL;
  const char *nm = "x";
  onyx_status *st = onyx_session_run(s, 1, &nm, &x, 1, NULL, &y);
  int ok = !st && y && !strcmp(onyx_tensor_device(y), "cpu") && !memcmp(y->data, v, sizeof v);
  if (st) fprintf(stderr, "run: %s\n", onyx_status_message(st));
  int code = onyx_status_code(st);
  onyx_status_free(st);
  onyx_tensor_free(x);
  onyx_tensor_free(y);
  return ok ? 0 : code ? code : -1;
}

static void expect_providers(onyx_session *s, const char *expected) {
  char got[64] = "";
  for (int i = 0; i < onyx_session_node_count(s); i++) {
    onyx_node_info ni;
    CHECK_OK(onyx_session_node_info(s, i, &ni));
    strcat(got, ni.provider[0] == 'f' ? "F" : "C");
  }
  if (strcmp(got, expected)) fprintf(stderr, "providers %s, expected %s\n", got, expected);
  CHECK(!strcmp(got, expected));
}

static bool fallback_has(onyx_session *s, const char *needle) {
  char line[512];
  for (int i = 0; i < onyx_session_fallback_count(s); i++)
    if (!onyx_session_fallback_entry(s, i, line, sizeof line) && strstr(line, needle)) return true;
  return false;
}

int main(void) {
  const char *names[] = {"f0", "f1", "c2", "f3", "f4"};
  /* per-node provider: nodes named f* go to it, others fall back to cpu */
  {
    fake_ctx c = {0};
    onyx_provider fake = {&node_iface, "fake", &c, false};
    onyx_session *s = make(chain(5, names), &fake, "fake,cpu");
    expect_providers(s, "FFCFF");
    onyx_node_info ni;
    CHECK_OK(onyx_session_node_info(s, 2, &ni));
    CHECK(ni.fallback_reason && strstr(ni.fallback_reason, "fake takes only"));
    CHECK(run_check(s) == 0);
    CHECK(onyx_plan_partition_count(onyx_session_plan(s)) == 0);
    CHECK(onyx_session_copy_count(s) == 0);   /* one memory space */
    /* set_providers: everything on cpu, same numbers */
    CHECK_OK(onyx_session_set_providers(s, "cpu"));
    expect_providers(s, "CCCCC");
    CHECK(run_check(s) == 0);
    CHECK_ERR(onyx_session_set_providers(s, "nosuch"), ONYX_ERR_INVALID_ARGUMENT);
    CHECK(run_check(s) == 0);
    onyx_session_destroy(s);
  }
  /* compiling provider in its own memory space: two partitions (f0 f1 |
   * f3 f4), copies around the cpu node and into the space */
  {
    fake_ctx c = {.compiling = true, .device = true};
    onyx_provider fake = {&fused_iface, "fake", &c, false};
    onyx_session *s = make(chain(5, names), &fake, "fake,cpu");
    expect_providers(s, "FFCFF");
    CHECK(c.compiles == 2);
    CHECK(onyx_plan_partition_count(onyx_session_plan(s)) == 2);
    /* x->fake, v1->cpu, v2->fake; y goes to the host when the run delivers it */
    CHECK(onyx_session_copy_count(s) == 3);
    onyx_copy_info ci;
    CHECK_OK(onyx_session_copy_info(s, 0, &ci));
    CHECK(!strcmp(ci.value, "x") && !strcmp(ci.from, "cpu") && !strcmp(ci.to, "fake:0") && ci.bytes == 16);
    CHECK_OK(onyx_session_copy_info(s, 1, &ci));
    CHECK(!strcmp(ci.value, "v1") && !strcmp(ci.from, "fake:0") && !strcmp(ci.to, "cpu"));
    CHECK_ERR(onyx_session_copy_info(s, 3, &ci), ONYX_ERR_INVALID_ARGUMENT);
    CHECK(onyx_session_memory_count(s) == 2);
    onyx_memory_info mi;
    CHECK_OK(onyx_session_memory_info(s, 1, &mi));
    CHECK(!strcmp(mi.device, "fake:0"));
    int64_t allocs = mi.allocs;
    CHECK(run_check(s) == 0);
    CHECK_OK(onyx_session_memory_info(s, 1, &mi));
    CHECK(mi.allocs > allocs && mi.in_use == 0);   /* the run used the space and gave everything back */
    /* profiling: 2 fused steps + 1 cpu node; copies are not nodes */
    CHECK(onyx_session_profile_count(s) == 3);
    onyx_profile_entry e;
    CHECK_OK(onyx_session_profile_get(s, 0, &e));
    CHECK(!strcmp(e.provider, "fake") && !strcmp(e.op_type, "FusedPartition") && !e.device);
    /* set_providers with the same list: the compiled partitions are reused */
    CHECK_OK(onyx_session_set_providers(s, "fake,cpu"));
    CHECK(c.compiles == 2);
    CHECK(run_check(s) == 0);
    /* a lost device during a run: that run fails, the session re-plans on
     * cpu and logs why, later runs succeed without the provider */
    c.fail_runs = true;
    CHECK(run_check(s) == ONYX_ERR_DEVICE);
    expect_providers(s, "CCCCC");
    CHECK(fallback_has(s, "provider fake lost its device") && fallback_has(s, "fake device lost"));
    int runs = c.runs;
    CHECK(run_check(s) == 0);
    CHECK(c.runs == runs);
    /* naming it again does not bring it back */
    CHECK_OK(onyx_session_set_providers(s, "fake,cpu"));
    expect_providers(s, "CCCCC");
    onyx_session_destroy(s);
  }
  /* compile failure: every partition falls back to cpu, reason kept */
  {
    fake_ctx c = {.compiling = true, .fail_compile = true, .device = true};
    onyx_provider fake = {&fused_iface, "fake", &c, false};
    onyx_session *s = make(chain(5, names), &fake, "fake,cpu");
    expect_providers(s, "CCCCC");
    onyx_node_info ni;
    CHECK_OK(onyx_session_node_info(s, 0, &ni));
    CHECK(ni.fallback_reason && strstr(ni.fallback_reason, "fake compile refused"));
    CHECK(fallback_has(s, "(fake: compile failed: fake compile refused); they run on cpu"));
    CHECK(onyx_session_copy_count(s) == 0);
    CHECK(run_check(s) == 0);
    onyx_session_destroy(s);
  }
  /* out of memory while compiling: a fallback like any other */
  {
    fake_ctx c = {.compiling = true, .oom_compile = true, .device = true};
    onyx_provider fake = {&fused_iface, "fake", &c, false};
    onyx_session *s = make(chain(5, names), &fake, "fake,cpu");
    expect_providers(s, "CCCCC");
    CHECK(fallback_has(s, "fake device memory exhausted"));
    CHECK(run_check(s) == 0);
    onyx_session_destroy(s);
  }
  /* compiles failing with no provider to fall back to: an error naming the
   * partition, never an empty plan */
  {
    fake_ctx c = {.compiling = true, .fail_compile = true, .device = true};
    onyx_provider fake = {&fused_iface, "fake", &c, false};
    const char *all_f[] = {"f0", "f1"};
    onyx_model *m = chain(2, all_f);
    onyx_graph_toposort(m->graph);
    onyx_graph_infer(m->graph);
    onyx_provider *list[] = {&fake};
    onyx_threadpool pool = {1};
    onyx_plan *p = NULL;
    CHECK_ERR_MSG(onyx_plan_create(m->graph, list, 1, &pool, NULL, NULL, &p), ONYX_ERR_NOT_IMPLEMENTED, "f0");
    onyx_model_destroy(m);
  }
  /* the partition hash: equal for equal partitions, different when an
   * initializer's bytes differ */
  {
    fake_ctx c = {.compiling = true};
    onyx_provider fake = {&fused_iface, "fake", &c, false};
    onyx_session *a = make(add_const(1.0f), &fake, "fake,cpu");
    onyx_session *b = make(add_const(1.0f), &fake, "fake,cpu");
    onyx_session *d = make(add_const(2.0f), &fake, "fake,cpu");
    CHECK(c.compiles == 3);
    CHECK(c.hashes[0] == c.hashes[1] && c.hashes[0] != c.hashes[2] && c.hashes[0] != 0);
    onyx_session_destroy(a);
    onyx_session_destroy(b);
    onyx_session_destroy(d);
  }
  /* a compile that bakes its initializers in: no copy of them into the
   * device, and runs get NULL in their place */
  {
    fake_ctx c = {.compiling = true, .device = true, .bakes = true};
    onyx_provider fake = {&fused_iface, "fake", &c, false};
    onyx_session *s = make(add_const(1.0f), &fake, "fake,cpu");
    CHECK(onyx_session_copy_count(s) == 1);   /* x only; w stays with the compile */
    int64_t d = 4;
    float v[4] = {1, -2, 3, 4.5f};
    onyx_tensor *x = tu_f32(1, &d, v), *y = NULL;
    const char *nm = "x";
    CHECK_OK(onyx_session_run(s, 1, &nm, &x, 1, NULL, &y));
    CHECK(y && ((float *)y->data)[1] == 0.0f && ((float *)y->data)[3] == 6.5f);
    CHECK(c.null_inputs == 1);
    onyx_tensor_free(x);
    onyx_tensor_free(y);
    onyx_session_destroy(s);
  }
  /* unknown provider names are refused; unavailable ones would be skipped */
  {
    onyx_options *o;
    onyx_options_create(&o);
    CHECK_ERR(onyx_options_set_providers(o, "cpu,warp9"), ONYX_ERR_INVALID_ARGUMENT);
    CHECK(strstr(onyx_available_providers(), "cpu") != NULL);
    onyx_options_destroy(o);
  }
  return tu_done("test_providers");
}
