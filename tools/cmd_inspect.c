/* cmd_inspect.c — `onyx inspect`: what a model file holds, without running
 * it: header (ir_version, producer, opset imports), declared inputs and
 * outputs, node and op-type counts, initializer totals, and the ops onyx
 * cannot run. --json prints the same as one JSON object for scripts.
 *
 * It reads the model through the public introspection API only, never
 * through a session, so it also describes models a session would refuse:
 * telling the user *which* ops are missing is the main reason to run it.
 * --stage partitioned is the exception: it makes a session to show where
 * each node of the optimized graph runs and why it fell back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: onyx inspect MODEL [--json] [--stage optimized|partitioned [-O N]]\n"
    "\n"
    "Describes MODEL (.onnx): ir_version, producer, opset imports, inputs and\n"
    "outputs (dtype and shape; symbolic dims by name, '?' for unknown ones),\n"
    "node count, op types with their counts (main graph; ops of other domains\n"
    "as 'domain:Op'), initializer count and bytes, and the ops onyx does not\n"
    "support (subgraphs included).\n"
    "\n"
    "options:\n"
    "  --stage STAGE  'model' (default): the file as it is; 'optimized': the\n"
    "              graph after the optimizer (as a session makes it), followed\n"
    "              by what each pass did (nodes removed/added, fused, folded);\n"
    "              with --json under the key \"optimization\"; 'partitioned':\n"
    "              creates a session and lists every node of its graph with\n"
    "              the provider that runs it and, when a provider listed\n"
    "              before it declined the node, why (unsupported op, dtype,\n"
    "              attribute, shape); then nodes per provider, and the copies\n"
    "              between memory spaces (value, from, to, bytes; weights are\n"
    "              copied once, the rest every run). With --json: {\"model\",\n"
    "              \"providers\": {name: nodes}, \"nodes\": [{name, op_type,\n"
    "              domain, provider, fallback_reason}], \"copies\": [{value,\n"
    "              from, to, bytes}]}\n"
    "  -O N        optimization level for --stage optimized/partitioned\n"
    "              (default 3); also written -ON, --level N or --opt-level N\n"
    "  --providers LIST  providers for --stage optimized/partitioned, in\n"
    "              priority order (default: all available; the ai.onyx\n"
    "              fusions leave their nodes to them)\n"
    "  --json      print one JSON object instead: keys model, ir_version,\n"
    "              producer_name, producer_version, opset_imports [{domain,\n"
    "              version}], inputs/outputs [{name, kind, dtype, shape}] (shape\n"
    "              null for unknown rank; a dim is an int, a symbol name, or null),\n"
    "              node_count, subgraph_node_count, op_types {op: count},\n"
    "              initializer_count, initializer_bytes, unsupported_ops [op],\n"
    "              supported (bool)\n"
    "  -h, --help  show this help\n";

/* One distinct (domain, op_type) seen in the model. */
typedef struct op_entry {
  char *key;          /* "Op" or "domain:Op" */
  int64_t count;      /* nodes of the main graph */
  bool supported;
} op_entry;

typedef struct op_table {
  op_entry *e;
  int n, cap;
  int64_t subgraph_nodes;
  bool oom;
} op_table;

static int visit(const char *domain, const char *op_type, const char *name, int depth, void *arg) {
  (void)name;
  op_table *t = arg;
  if (depth) t->subgraph_nodes++;
  size_t len = strlen(domain) + strlen(op_type) + 2;
  char *key = malloc(len);
  if (!key) return t->oom = true;
  snprintf(key, len, "%s%s%s", domain, *domain ? ":" : "", op_type);
  for (int i = 0; i < t->n; i++)
    if (!strcmp(t->e[i].key, key)) {
      t->e[i].count += !depth;
      free(key);
      return 0;
    }
  if (t->n == t->cap) {
    int cap = t->cap ? t->cap * 2 : 32;
    op_entry *e = realloc(t->e, (size_t)cap * sizeof *e);
    if (!e) {
      free(key);
      return t->oom = true;
    }
    t->e = e;
    t->cap = cap;
  }
  t->e[t->n++] = (op_entry){key, !depth, onyx_op_supported(domain, op_type) != 0};
  return 0;
}

/* Histogram order: most frequent first, then by name. */
static int by_count(const void *a, const void *b) {
  const op_entry *x = a, *y = b;
  if (x->count != y->count) return x->count > y->count ? -1 : 1;
  return strcmp(x->key, y->key);
}

/* ---- JSON ------------------------------------------------------------------------ */

static const char *kind_name(onyx_value_kind k) {
  return k == ONYX_VALUE_SEQUENCE ? "sequence" : k == ONYX_VALUE_OPTIONAL ? "optional" : "tensor";
}

static void json_values(const onyx_model *m, bool outputs) {
  int n = outputs ? onyx_model_output_count(m) : onyx_model_input_count(m);
  printf("[");
  for (int i = 0; i < n; i++) {
    onyx_model_value_info v;
    onyx_status *s = outputs ? onyx_model_output_info(m, i, &v) : onyx_model_input_info(m, i, &v);
    onyx_status_free(s);   /* i is in range: cannot fail */
    printf("%s{\"name\": ", i ? ", " : "");
    cli_json_string(stdout, v.name);
    printf(", \"kind\": \"%s\", \"dtype\": \"%s\", \"shape\": ", kind_name(v.kind),
           onyx_dtype_name(v.dtype));
    if (v.rank < 0) {
      printf("null}");
      continue;
    }
    printf("[");
    for (int d = 0; d < v.rank; d++) {
      if (d) printf(", ");
      if (v.dims[d] >= 0) printf("%lld", (long long)v.dims[d]);
      else if (v.dim_names[d]) cli_json_string(stdout, v.dim_names[d]);
      else printf("null");
    }
    printf("]}");
  }
  printf("]");
}

static void json_optimization(const onyx_optimize_stats *st) {
  printf(", \"optimization\": {\"level\": %d, \"nodes_before\": %lld, \"nodes_after\": %lld, "
         "\"passes\": [", st->level, (long long)st->nodes_before, (long long)st->nodes_after);
  for (int i = 0; i < st->n_passes; i++) {
    const onyx_pass_stat *p = &st->passes[i];
    printf("%s{\"name\": ", i ? ", " : "");
    cli_json_string(stdout, p->name);
    printf(", \"level\": %d, \"runs\": %lld, \"nodes_removed\": %lld, \"nodes_added\": %lld, "
           "\"fused\": %lld, \"folded\": %lld, \"ms\": %.3f}", p->level, (long long)p->runs,
           (long long)p->nodes_removed, (long long)p->nodes_added, (long long)p->fused,
           (long long)p->folded, (double)p->ns / 1e6);
  }
  printf("]}");
}

static void print_json(const char *path, const onyx_model *m, const op_table *t,
                       const onyx_optimize_stats *st) {
  printf("{\"model\": ");
  cli_json_string(stdout, path);
  printf(", \"ir_version\": %lld, \"producer_name\": ", (long long)onyx_model_ir_version(m));
  cli_json_string(stdout, onyx_model_producer_name(m));
  printf(", \"producer_version\": ");
  cli_json_string(stdout, onyx_model_producer_version(m));
  printf(", \"opset_imports\": [");
  for (int i = 0; i < onyx_model_opset_count(m); i++) {
    const char *domain = "";
    int64_t version = 0;
    onyx_status_free(onyx_model_opset_import(m, i, &domain, &version));
    printf("%s{\"domain\": ", i ? ", " : "");
    cli_json_string(stdout, domain);
    printf(", \"version\": %lld}", (long long)version);
  }
  printf("], \"inputs\": ");
  json_values(m, false);
  printf(", \"outputs\": ");
  json_values(m, true);
  printf(", \"node_count\": %d, \"subgraph_node_count\": %lld, \"op_types\": {",
         onyx_model_node_count(m), (long long)t->subgraph_nodes);
  bool first = true;
  for (int i = 0; i < t->n; i++) {
    if (!t->e[i].count) continue;
    printf("%s", first ? "" : ", ");
    cli_json_string(stdout, t->e[i].key);
    printf(": %lld", (long long)t->e[i].count);
    first = false;
  }
  printf("}, \"initializer_count\": %lld, \"initializer_bytes\": %llu, \"unsupported_ops\": [",
         (long long)onyx_model_initializer_count(m),
         (unsigned long long)onyx_model_initializer_bytes(m));
  first = true;
  for (int i = 0; i < t->n; i++) {
    if (t->e[i].supported) continue;
    printf("%s", first ? "" : ", ");
    cli_json_string(stdout, t->e[i].key);
    first = false;
  }
  printf("], \"supported\": %s", first ? "true" : "false");
  if (st) json_optimization(st);
  printf("}\n");
}

/* ---- text ------------------------------------------------------------------------ */

static void text_values(const onyx_model *m, bool outputs) {
  int n = outputs ? onyx_model_output_count(m) : onyx_model_input_count(m);
  printf("%s: %d\n", outputs ? "outputs" : "inputs", n);
  for (int i = 0; i < n; i++) {
    onyx_model_value_info v;
    onyx_status_free(outputs ? onyx_model_output_info(m, i, &v) : onyx_model_input_info(m, i, &v));
    printf("  %s: ", v.name);
    if (v.kind != ONYX_VALUE_TENSOR) printf("%s of ", kind_name(v.kind));
    printf("%s ", onyx_dtype_name(v.dtype));
    if (v.rank < 0) {
      printf("(unknown shape)\n");
      continue;
    }
    printf("[");
    for (int d = 0; d < v.rank; d++) {
      if (d) printf(",");
      if (v.dims[d] >= 0) printf("%lld", (long long)v.dims[d]);
      else printf("%s", v.dim_names[d] ? v.dim_names[d] : "?");
    }
    printf("]\n");
  }
}

static void print_text(const char *path, const onyx_model *m, const op_table *t) {
  printf("model: %s\n", path);
  printf("ir_version: %lld\n", (long long)onyx_model_ir_version(m));
  const char *pn = onyx_model_producer_name(m), *pv = onyx_model_producer_version(m);
  printf("producer: %s%s%s\n", *pn || *pv ? pn : "(none)", *pv ? " " : "", pv);
  printf("opset imports:");
  for (int i = 0; i < onyx_model_opset_count(m); i++) {
    const char *domain = "";
    int64_t version = 0;
    onyx_status_free(onyx_model_opset_import(m, i, &domain, &version));
    printf("%s %s %lld", i ? "," : "", *domain ? domain : "ai.onnx", (long long)version);
  }
  printf("\n");
  text_values(m, false);
  text_values(m, true);
  printf("nodes: %d", onyx_model_node_count(m));
  if (t->subgraph_nodes) printf(" (+%lld in subgraphs)", (long long)t->subgraph_nodes);
  printf("\nop types:\n");
  for (int i = 0; i < t->n; i++)
    if (t->e[i].count) printf("  %-24s %lld\n", t->e[i].key, (long long)t->e[i].count);
  printf("initializers: %lld (%llu bytes)\n", (long long)onyx_model_initializer_count(m),
         (unsigned long long)onyx_model_initializer_bytes(m));
  printf("unsupported ops:");
  int n_bad = 0;
  for (int i = 0; i < t->n; i++)
    if (!t->e[i].supported) printf("%s %s", n_bad++ ? "," : "", t->e[i].key);
  printf("%s\n", n_bad ? "" : " none");
}

/* ---- partitioned: a session's node placement and copies ------------------------------- */

static int print_partitioned(const char *path, const char *providers, int level, bool json) {
  onyx_options *o = NULL;
  onyx_session *sess = NULL;
  onyx_status *st = onyx_options_create(&o);
  if (!st) {
    onyx_options_set_optimization_level(o, level);
    if (providers) st = onyx_options_set_providers(o, providers);
  }
  if (!st) st = onyx_session_create(path, o, &sess);
  onyx_options_destroy(o);
  if (st) return cli_fail_status(st);
  int n = onyx_session_node_count(sess);
  if (json) {
    printf("{\"model\": ");
    cli_json_string(stdout, path);
    printf(", \"nodes\": [");
  } else {
    printf("model: %s\nnodes: %d (optimization level %d)\n", path, n, level);
  }
  for (int i = 0; i < n; i++) {
    onyx_node_info ni;
    onyx_status_free(onyx_session_node_info(sess, i, &ni));   /* i is in range */
    if (json) {
      printf("%s{\"name\": ", i ? ", " : "");
      cli_json_string(stdout, ni.name);
      printf(", \"op_type\": ");
      cli_json_string(stdout, ni.op_type);
      printf(", \"domain\": ");
      cli_json_string(stdout, ni.domain);
      printf(", \"provider\": ");
      cli_json_string(stdout, ni.provider);
      printf(", \"fallback_reason\": ");
      if (ni.fallback_reason) cli_json_string(stdout, ni.fallback_reason);
      else printf("null");
      printf("}");
    } else {
      printf("  %-6s %s%s%s '%s'", ni.provider, ni.domain, *ni.domain ? ":" : "", ni.op_type, ni.name);
      if (ni.fallback_reason) printf(" -- %s", ni.fallback_reason);
      printf("\n");
    }
  }
  cli_provider_nodes pn;
  cli_count_providers(sess, &pn);
  if (json) printf("], \"providers\": {");
  else printf("per provider:");
  for (int k = 0; k < pn.n; k++) {
    if (json) {
      printf("%s", k ? ", " : "");
      cli_json_string(stdout, pn.name[k]);
      printf(": %d", pn.nodes[k]);
    } else {
      printf(" %s %d node%s%s", pn.name[k], pn.nodes[k], pn.nodes[k] == 1 ? "" : "s", k + 1 < pn.n ? "," : "");
    }
  }
  /* copies between memory spaces: per run, or once for weights */
  int nc = onyx_session_copy_count(sess);
  if (json) printf("}, \"copies\": [");
  else printf("\ncopies: %d%s\n", nc, nc ? "" : " (one memory space)");
  for (int i = 0; i < nc; i++) {
    onyx_copy_info ci;
    onyx_status_free(onyx_session_copy_info(sess, i, &ci));   /* i is in range */
    if (json) {
      printf("%s{\"value\": ", i ? ", " : "");
      cli_json_string(stdout, ci.value);
      printf(", \"from\": ");
      cli_json_string(stdout, ci.from);
      printf(", \"to\": ");
      cli_json_string(stdout, ci.to);
      printf(", \"bytes\": %lld}", (long long)ci.bytes);
    } else if (ci.bytes >= 0) {
      printf("  '%s' %s -> %s, %lld bytes\n", ci.value, ci.from, ci.to, (long long)ci.bytes);
    } else {
      printf("  '%s' %s -> %s, bytes depend on the input shapes\n", ci.value, ci.from, ci.to);
    }
  }
  printf(json ? "]}\n" : "");
  onyx_session_destroy(sess);
  return 0;
}

int cmd_inspect(int argc, char **argv) {
  const char *path = NULL, *providers = NULL, *v;
  bool json = false, optimized = false, partitioned = false, used;
  int64_t level = 3;
  for (int i = 1; i < argc; i++) {
    if (cli_is_help(argv[i])) {
      fputs(usage, stdout);
      return 0;
    }
    int rc = cli_level_option(argc, argv, &i, &level, &used);
    if (rc) return rc;
    if (used) continue;
    if (!strcmp(argv[i], "--json")) json = true;
    else if (cli_option(argc, argv, &i, "--stage", &v)) {
      if (!v || (strcmp(v, "model") && strcmp(v, "optimized") && strcmp(v, "partitioned")))
        return cli_usage_error("--stage must be 'model', 'optimized' or 'partitioned'");
      optimized = !strcmp(v, "optimized");
      partitioned = !strcmp(v, "partitioned");
    } else if (cli_option(argc, argv, &i, "--providers", &v)) {
      if (!v) return cli_usage_error("--providers needs a list");
      providers = v;
    } else if (argv[i][0] == '-' && argv[i][1])
      return cli_usage_error("unknown option '%s' (see onyx inspect --help)", argv[i]);
    else if (path) return cli_usage_error("unexpected argument '%s' (the model is '%s')", argv[i], path);
    else path = argv[i];
  }
  if (!path) return cli_usage_error("no model given (usage: onyx inspect MODEL [--json])");
  if (partitioned) return print_partitioned(path, providers, (int)level, json);

  onyx_model *m;
  onyx_status *st = onyx_model_load(path, &m);
  if (st) return cli_fail_status(st);
  onyx_optimize_stats ost;
  if (optimized) {
    onyx_options *o = NULL;
    if (!(st = onyx_options_create(&o))) {
      onyx_options_set_optimization_level(o, (int)level);
      if (providers) st = onyx_options_set_providers(o, providers);
      if (!st) st = onyx_model_optimize(m, o, &ost);
    }
    onyx_options_destroy(o);
    if (st) {
      onyx_model_destroy(m);
      return cli_fail_status(st);
    }
  }
  op_table t = {0};
  int rc = 0;
  onyx_model_visit_nodes(m, visit, &t);
  if (t.oom) {
    rc = cli_fail("out of memory");
  } else {
    /* One order for both lists: most frequent in the main graph first, then by name. */
    qsort(t.e, (size_t)t.n, sizeof *t.e, by_count);
    if (json) print_json(path, m, &t, optimized ? &ost : NULL);
    else print_text(path, m, &t);
    if (!json && optimized) cli_print_optimize_stats(&ost);
  }
  for (int i = 0; i < t.n; i++) free(t.e[i].key);
  free(t.e);
  onyx_model_destroy(m);
  return rc;
}
