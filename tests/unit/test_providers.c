/* test_providers.c — the provider framework: partitioning by capability and
 * priority, grouping for compiling providers, device-copy insertion, compile
 * failure fallback, run-time device errors, set_providers and profiling.
 *
 * A fake provider "fake" takes the nodes whose name starts with "f" and runs
 * them either per node or as compiled partitions that evaluate their nodes
 * with the cpu kernels (so numerics are checkable); it can live on a fake
 * device (id 7) whose tensors it marks, fail compiles, or fail runs. */
#include "base/alloc.h"
#include "exec/exec.h"
#include "exec/session_internal.h"
#include "test_util.h"

typedef struct fake_ctx {
  bool compiling;       /* compile groups instead of per-node kernels */
  bool fail_compile;    /* every compile fails */
  bool fail_runs;       /* fused runs report a device error */
  int device;
  int compiles, copies_in, copies_out;
} fake_ctx;

static onyx_status *fake_supports(onyx_provider *p, const onyx_graph *g, const onyx_node *n) {
  (void)p;
  (void)g;
  return n->name[0] == 'f' ? NULL : onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "fake takes only nodes named f*");
}

static const cpu_kernel *fake_kernel_for(onyx_provider *p, const onyx_graph *g, const onyx_node *n) {
  (void)p;
  (void)g;
  return cpu_kernel_find(n->op);
}

typedef struct fused_state {
  const onyx_graph *g;
  onyx_partition part;
  int *nodes, *in, *out;
  fake_ctx *ctx;
} fused_state;

/* Evaluates the partition's nodes in order on a value map of its own. */
static onyx_status *fused_run(const void *st, onyx_tensor *const *in, onyx_tensor **out,
                              const onyx_threadpool *pool) {
  const fused_state *fs = st;
  if (fs->ctx->fail_runs) return onyx_error(ONYX_ERR_DEVICE, "fake device lost");
  const onyx_graph *g = fs->g;
  onyx_tensor **vals = calloc((size_t)g->n_values, sizeof *vals);
  bool *own = calloc((size_t)g->n_values, sizeof *own);
  onyx_status *s = NULL;
  for (int i = 0; i < fs->part.n_in; i++) {
    if (fs->ctx->device && in[i]->device != fs->ctx->device)
      s = onyx_error(ONYX_ERR_RUNTIME, "input %d is not on the fake device", i);
    vals[fs->in[i]] = in[i];
  }
  for (int k = 0; k < fs->part.n_nodes && !s; k++) {
    const onyx_node *n = &g->nodes[fs->nodes[k]];
    onyx_tensor *ni[8], *no[8];
    for (int j = 0; j < n->n_in; j++) ni[j] = n->in[j] >= 0 ? (vals[n->in[j]] ? vals[n->in[j]] : g->values[n->in[j]].init) : NULL;
    s = onyx_exec_node(g, n, ni, no, pool);
    for (int j = 0; !s && j < n->n_out; j++) {
      vals[n->out[j]] = no[j];
      own[n->out[j]] = true;
    }
  }
  for (int i = 0; i < fs->part.n_out && !s; i++) {
    s = onyx_tensor_clone(vals[fs->out[i]], &out[i]);
    if (!s) out[i]->device = fs->ctx->device;
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

static onyx_status *fake_compile(onyx_provider *p, const onyx_graph *g, const onyx_partition *part,
                                 onyx_fused *out) {
  fake_ctx *c = p->ctx;
  c->compiles++;
  if (c->fail_compile) return onyx_error(ONYX_ERR_RUNTIME, "fake compile refused");
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
  *out = (onyx_fused){fused_run, fused_release, fs};
  return NULL;
}

static onyx_status *fake_to_device(onyx_provider *p, const onyx_tensor *h, onyx_tensor **out) {
  fake_ctx *c = p->ctx;
  c->copies_in++;
  ONYX_TRY(onyx_tensor_clone(h, out));
  (*out)->device = c->device;
  return NULL;
}

static onyx_status *fake_to_host(onyx_provider *p, const onyx_tensor *d, onyx_tensor **out) {
  fake_ctx *c = p->ctx;
  c->copies_out++;
  if (d->device != c->device) return onyx_error(ONYX_ERR_RUNTIME, "copy_to_host of a host tensor");
  ONYX_TRY(onyx_tensor_clone(d, out));
  (*out)->device = ONYX_DEVICE_HOST;
  return NULL;
}

static const onyx_provider_iface node_iface = {ONYX_PROVIDER_IFACE_VERSION, fake_supports, fake_kernel_for,
                                               NULL, NULL, NULL, NULL};
static const onyx_provider_iface fused_iface = {ONYX_PROVIDER_IFACE_VERSION, fake_supports, NULL, fake_compile,
                                                fake_to_device, fake_to_host, NULL};

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
  int ok = !st && y && y->device == ONYX_DEVICE_HOST && !memcmp(y->data, v, sizeof v);
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

int main(void) {
  const char *names[] = {"f0", "f1", "c2", "f3", "f4"};
  /* per-node provider: nodes named f* go to it, others fall back to cpu */
  {
    fake_ctx c = {0};
    onyx_provider fake = {&node_iface, "fake", ONYX_DEVICE_HOST, &c};
    onyx_session *s = make(chain(5, names), &fake, "fake,cpu");
    expect_providers(s, "FFCFF");
    onyx_node_info ni;
    CHECK_OK(onyx_session_node_info(s, 2, &ni));
    CHECK(ni.fallback_reason && strstr(ni.fallback_reason, "fake takes only"));
    CHECK(run_check(s) == 0);
    CHECK(onyx_plan_partition_count(onyx_session_plan(s)) == 0);
    /* set_providers: everything on cpu, same numbers */
    CHECK_OK(onyx_session_set_providers(s, "cpu"));
    expect_providers(s, "CCCCC");
    CHECK(run_check(s) == 0);
    CHECK_ERR(onyx_session_set_providers(s, "nosuch"), ONYX_ERR_INVALID_ARGUMENT);
    CHECK(run_check(s) == 0);
    onyx_session_destroy(s);
  }
  /* compiling provider on a fake device: two partitions (f0 f1 | f3 f4),
   * copies in and out around the cpu node and at the graph edges */
  {
    fake_ctx c = {.compiling = true, .device = 7};
    onyx_provider fake = {&fused_iface, "fake", 7, &c};
    onyx_session *s = make(chain(5, names), &fake, "fake,cpu");
    expect_providers(s, "FFCFF");
    CHECK(c.compiles == 2);
    CHECK(onyx_plan_partition_count(onyx_session_plan(s)) == 2);
    /* x->dev, v1->host, v2->dev, y->host */
    CHECK(onyx_plan_copy_count(onyx_session_plan(s)) == 4);
    CHECK(run_check(s) == 0);
    CHECK(c.copies_in == 2 && c.copies_out == 2);
    /* profiling: 2 fused steps + 1 cpu node + 4 copies are not nodes: 3 events */
    CHECK(onyx_session_profile_count(s) == 3);
    onyx_profile_entry e;
    CHECK_OK(onyx_session_profile_get(s, 0, &e));
    CHECK(!strcmp(e.provider, "fake") && !strcmp(e.op_type, "FusedPartition"));
    /* a device error during a run comes back; the session stays usable */
    c.fail_runs = true;
    CHECK(run_check(s) == ONYX_ERR_DEVICE);
    c.fail_runs = false;
    CHECK(run_check(s) == 0);
    onyx_session_destroy(s);
  }
  /* compile failure: every partition falls back to cpu, reason kept */
  {
    fake_ctx c = {.compiling = true, .fail_compile = true, .device = 7};
    onyx_provider fake = {&fused_iface, "fake", 7, &c};
    onyx_session *s = make(chain(5, names), &fake, "fake,cpu");
    expect_providers(s, "CCCCC");
    onyx_node_info ni;
    CHECK_OK(onyx_session_node_info(s, 0, &ni));
    CHECK(ni.fallback_reason && strstr(ni.fallback_reason, "fake compile refused"));
    CHECK(onyx_plan_copy_count(onyx_session_plan(s)) == 0);
    CHECK(run_check(s) == 0);
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
