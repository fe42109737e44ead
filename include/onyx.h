/* onyx.h — the public C API of onyx, an ONNX inference runtime.
 *
 * Conventions (see STYLE.md): every fallible function returns an `onyx_status *`
 * that is NULL on success; otherwise it carries a code and a one-line message
 * naming the model, node and tensor involved, and the caller frees it with
 * onyx_status_free. Out-parameters come last and are written only on success.
 * Every destroy/free function accepts NULL. Heap objects: create/destroy. */
#ifndef ONYX_H
#define ONYX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ONYX_VERSION_STRING "0.1.0"
#define ONYX_MAX_RANK 12

/* ---- status ------------------------------------------------------------ */

typedef enum onyx_code {
  ONYX_OK = 0,
  ONYX_ERR_INVALID_ARGUMENT,  /* caller passed something wrong (name, shape, dtype) */
  ONYX_ERR_INVALID_MODEL,     /* the model file is malformed or inconsistent */
  ONYX_ERR_NOT_FOUND,         /* a file does not exist (a run's unknown input or
                                 output name is INVALID_ARGUMENT, as in ORT) */
  ONYX_ERR_NOT_IMPLEMENTED,   /* valid ONNX that onyx does not support (op, dtype, attr) */
  ONYX_ERR_OUT_OF_MEMORY,
  ONYX_ERR_IO,
  ONYX_ERR_RUNTIME,           /* a kernel failed while running */
  ONYX_ERR_DEVICE,            /* an execution provider's device failed (lost): the
                                 session re-plans without that provider */
  ONYX_ERR_CANCELLED,         /* the run's terminate flag was set (onyx_run_options) */
} onyx_code;

typedef struct onyx_status onyx_status;

onyx_code onyx_status_code(const onyx_status *s);    /* ONYX_OK for NULL */
const char *onyx_status_message(const onyx_status *s); /* "" for NULL; borrowed */
void onyx_status_free(onyx_status *s);
const char *onyx_code_name(onyx_code c);              /* static string */

/* ---- data types (values are ONNX's TensorProto.DataType) ---------------- */

typedef enum onyx_dtype {
  ONYX_DTYPE_UNDEFINED = 0,
  ONYX_DTYPE_FLOAT = 1,
  ONYX_DTYPE_UINT8 = 2,
  ONYX_DTYPE_INT8 = 3,
  ONYX_DTYPE_UINT16 = 4,
  ONYX_DTYPE_INT16 = 5,
  ONYX_DTYPE_INT32 = 6,
  ONYX_DTYPE_INT64 = 7,
  ONYX_DTYPE_STRING = 8,  /* data is an array of NUL-terminated char* */
  ONYX_DTYPE_BOOL = 9,    /* one byte per element, 0 or 1 */
  ONYX_DTYPE_FLOAT16 = 10,
  ONYX_DTYPE_DOUBLE = 11,
  ONYX_DTYPE_UINT32 = 12,
  ONYX_DTYPE_UINT64 = 13,
  ONYX_DTYPE_COMPLEX64 = 14,
  ONYX_DTYPE_COMPLEX128 = 15,
  ONYX_DTYPE_BFLOAT16 = 16,
  ONYX_DTYPE_FLOAT8E4M3FN = 17,
  ONYX_DTYPE_FLOAT8E4M3FNUZ = 18,
  ONYX_DTYPE_FLOAT8E5M2 = 19,
  ONYX_DTYPE_FLOAT8E5M2FNUZ = 20,
  ONYX_DTYPE_UINT4 = 21,
  ONYX_DTYPE_INT4 = 22,
  ONYX_DTYPE_COUNT_
} onyx_dtype;

const char *onyx_dtype_name(onyx_dtype t);   /* "float32", "int64", ...; static */
size_t onyx_dtype_size(onyx_dtype t);        /* bytes per element; 0 for sub-byte/unknown */

/* ---- tensors ------------------------------------------------------------ */

/* A value flowing through a model: a dense tensor, or (later) a sequence or
 * optional. Tensors made by onyx_tensor_create own their data; tensors made
 * by onyx_tensor_borrow point at caller memory that must outlive them. */
typedef struct onyx_tensor onyx_tensor;

/* Allocates a zero-filled tensor. rank <= ONYX_MAX_RANK, dims >= 0. */
onyx_status *onyx_tensor_create(onyx_dtype dtype, int rank, const int64_t *dims,
                                onyx_tensor **out);
/* Wraps caller memory without copying (zero-copy input). `data` is borrowed
 * and must hold at least `nbytes` >= numel * dtype size. */
onyx_status *onyx_tensor_borrow(onyx_dtype dtype, int rank, const int64_t *dims,
                                void *data, size_t nbytes, onyx_tensor **out);
void onyx_tensor_free(onyx_tensor *t);

onyx_dtype onyx_tensor_dtype(const onyx_tensor *t);
int onyx_tensor_rank(const onyx_tensor *t);
const int64_t *onyx_tensor_dims(const onyx_tensor *t);   /* borrowed */
int64_t onyx_tensor_numel(const onyx_tensor *t);
void *onyx_tensor_data(onyx_tensor *t);                  /* borrowed */
size_t onyx_tensor_nbytes(const onyx_tensor *t);
/* Element i (row-major flat index) of a host tensor of a numeric dtype
 * (bool, integers, float16, bfloat16, float, double) as a double; 0 for
 * others. */
double onyx_tensor_get_f64(const onyx_tensor *t, int64_t i);
/* Sets element i of a host tensor of a numeric dtype to v: floats rounded
 * (float16/bfloat16 to nearest even); integers truncated toward zero,
 * saturated to int64 (NaN: 0) and then wrapped to narrower types, so every
 * double is defined (-5 into uint8 gives 251); others unchanged. */
void onyx_tensor_set_f64(onyx_tensor *t, int64_t i, double v);

/* The memory space a tensor's data lives in: "cpu" for host memory, else
 * "<device>:<ordinal>" as the provider that allocated it names it
 * ("cuda:0"). Static or owned by that provider. Only host tensors may be
 * read through onyx_tensor_data; device tensors are for I/O binding and
 * onyx_tensor_copy. */
const char *onyx_tensor_device(const onyx_tensor *t);
/* Copies src's contents into dst: same dtype and element count, any two
 * memory spaces (host<->device, device<->device). Synchronous. */
onyx_status *onyx_tensor_copy(onyx_tensor *dst, const onyx_tensor *src);

/* ---- models ------------------------------------------------------------- */

/* A loaded ONNX model (graph, initializers, opsets, metadata). */
typedef struct onyx_model onyx_model;

/* Loads an .onnx file (mmapped; large initializers borrow the mapping).
 * External data resolves relative to the file's folder; paths escaping it
 * are refused. */
onyx_status *onyx_model_load(const char *path, onyx_model **out);
/* Loads from memory; `data` is copied where needed and need not outlive the
 * model. External data resolves against `dir` (NULL: refused). */
onyx_status *onyx_model_load_from_buffer(const void *data, size_t len, const char *dir,
                                         onyx_model **out);
/* Serialises the model as ONNX (all initializers inline). */
onyx_status *onyx_model_save(const onyx_model *m, const char *path);
/* Same into a new buffer the caller releases with onyx_buffer_free. */
onyx_status *onyx_model_save_to_buffer(const onyx_model *m, void **data, size_t *len);
void onyx_model_destroy(onyx_model *m);
void onyx_buffer_free(void *p);

/* Reads a serialized ONNX TensorProto (SequenceProto / OptionalProto where
 * supported) from a .pb file, the format of ONNX's test data. `name` may be
 * NULL; otherwise it receives the proto's name (caller frees with
 * onyx_buffer_free; may be empty). */
onyx_status *onyx_tensor_load_pb(const char *path, onyx_tensor **out, char **name);
onyx_status *onyx_tensor_save_pb(const onyx_tensor *t, const char *name, const char *path);

/* ---- options -------------------------------------------------------------- */

typedef enum onyx_log_level {
  ONYX_LOG_DEBUG = 0, ONYX_LOG_INFO, ONYX_LOG_WARNING, ONYX_LOG_ERROR, ONYX_LOG_NONE
} onyx_log_level;

typedef struct onyx_options onyx_options;

onyx_status *onyx_options_create(onyx_options **out);
void onyx_options_destroy(onyx_options *o);
/* 0 (default) means one thread per available core. */
void onyx_options_set_intra_op_threads(onyx_options *o, int n);
void onyx_options_set_log_level(onyx_options *o, onyx_log_level level);
/* ORT's levels: 0 disabled, 1 basic, 2 extended, 3 all (default 3). */
void onyx_options_set_optimization_level(onyx_options *o, int level);
/* Per-node timing of every run (ORT's enable_profiling); see
 * onyx_session_profile_*. Off by default: it costs two clock reads a node. */
void onyx_options_enable_profiling(onyx_options *o, int on);
/* Comma-separated provider names in priority order, e.g. "dnnl,cpu". */
onyx_status *onyx_options_set_providers(onyx_options *o, const char *list);

/* Sets an option of one provider, ORT-style key=value (e.g. "dnnl",
 * "precision", "bf16"). Unknown keys are refused when the session is made. */
onyx_status *onyx_options_set_provider_option(onyx_options *o, const char *provider,
                                              const char *key, const char *value);

/* ---- thread placement: CPU affinity and NUMA binding ------------------------ */

/* Where the intra-op threads run (ORT's intra_op_thread_affinities, in
 * onyx's own form). spec:
 *   "none"     (default) the OS places the threads;
 *   "compact"  thread i on one CPU, filling a core's hardware threads before
 *              the next core, package by package;
 *   "scatter"  thread i on one CPU, one per core, alternating packages,
 *              before any core gets a second thread;
 *   a list     one CPU group per intra-op thread, separated by ';', thread 0
 *              (the caller's) first; a group is Linux CPU numbers and ranges
 *              (as taskset and /proc/cpuinfo count, from 0): "0;1" pins two
 *              threads to CPUs 0 and 1, "0-3;4-7" gives each four CPUs.
 * A list sets the thread count when onyx_options_set_intra_op_threads is 0,
 * and must agree with it otherwise; compact/scatter with 0 threads use one
 * thread per CPU. Bad syntax is refused here, a CPU this process may not
 * use when the session is made (both INVALID_ARGUMENT).
 *
 * What it changes in the process: the intra-op threads are the OpenMP team
 * of the thread that calls onyx_session_create/run (oneDNN runs on the same
 * team), one process-wide runtime shared by every session. The calling
 * thread is placed for the duration of the call and put back after it. The
 * team's other threads are placed before they first work for this session,
 * and again whenever another session placed them differently since; they
 * are not put back: the last placement applied wins, and a session without
 * one (or OpenMP code of the application on that thread) finds them as the
 * last one left them. Concurrent callers each have a team, placed on the
 * same CPUs. (ONNX Runtime gives each session a pool of its own threads
 * instead.) A oneDNN primitive using fewer threads than the session makes
 * OpenMP end the others; those it starts again share the caller's CPU until
 * onyx's next parallel region or call places them. Placement costs each
 * call a few microseconds (system calls and one parallel region), and on a
 * machine shared with other work, pinned threads cannot dodge busy cores.
 * Leave OMP_PROC_BIND and GOMP_CPU_AFFINITY unset with these options. */
onyx_status *onyx_options_set_thread_affinity(onyx_options *o, const char *spec);

/* Binds the session to NUMA node `node` (-1, the default: none): its
 * intra-op threads run only on the node's CPUs (with the affinity, if also
 * set) and prefer the node's memory, so what the session writes while it is
 * made and run (packed weights, activation arenas, outputs) is allocated
 * there; memory already in use (a mapped model file) stays where it is.
 * Threads are placed as for onyx_options_set_thread_affinity. Needs libnuma
 * (libnuma.so.1, loaded at run time): without it session creation fails
 * with NOT_FOUND, and with INVALID_ARGUMENT for a node that does not exist
 * or has no CPU this process may use. Values below -1: INVALID_ARGUMENT. */
onyx_status *onyx_options_set_numa_node(onyx_options *o, int node);

/* Sets a session option by key, as ORT's AddSessionConfigEntry does:
 *   "session.thread_affinity"             onyx_options_set_thread_affinity
 *   "session.intra_op_thread_affinities"  ORT's form of the same: CPU
 *       numbers count from 1, and the groups are for threads 1..n-1 (the
 *       caller thread is not pinned), so n is the group count plus one
 *   "session.numa_node"                   onyx_options_set_numa_node
 * Unknown keys and bad values: INVALID_ARGUMENT. */
onyx_status *onyx_options_set_config(onyx_options *o, const char *key, const char *value);

/* ---- graph optimization ---------------------------------------------------- */

/* Where the optimized graph is written when a session is made (ORT's
 * optimized_model_filepath); NULL or "" turns it off. The path is copied. */
onyx_status *onyx_options_set_optimized_model_path(onyx_options *o, const char *path);
/* Restricts optimization to the named passes (comma-separated), or, with
 * disable, skips them (ORT's disabled_optimizers). NULL or "" clears the
 * list. Unknown names are refused when the optimizer runs. Besides the
 * graph passes there is one plan-time pass, at every level: memory_order,
 * the execution order chosen to lower the activation memory alive at once. */
onyx_status *onyx_options_set_passes(onyx_options *o, const char *only);
onyx_status *onyx_options_disable_passes(onyx_options *o, const char *names);

/* A user pass sees the graph being optimized through the onyx_pass_*
 * functions below, rewrites it, and writes how many rewrites it made into
 * *changed (0: nothing to do; the optimizer repeats a level until no pass
 * changes anything, so a pass must eventually report 0). Return NULL, or an
 * error (made with onyx_pass_error) to stop the optimization. */
typedef struct onyx_graph onyx_graph;
typedef onyx_status *(*onyx_pass_fn)(onyx_graph *g, void *arg, int *changed);

/* Registers pass fn under `name` at `level` (1..3) for sessions made with
 * these options; it runs after the built-in passes of its level. `op_types`
 * (comma-separated, may be NULL) lists the op types it targets: the pass is
 * skipped on graphs that hold none. `arg` is borrowed and must outlive
 * every session made with the options. At most 16 per options object. */
onyx_status *onyx_options_add_pass(onyx_options *o, const char *name, int level,
                                   const char *op_types, onyx_pass_fn fn, void *arg);

/* The graph view for user passes. Node indices are valid during one call of
 * the pass; names are borrowed until the graph changes. */
int onyx_pass_node_count(const onyx_graph *g);
const char *onyx_pass_node_op_type(const onyx_graph *g, int node);
const char *onyx_pass_node_domain(const onyx_graph *g, int node);  /* "" for ai.onnx */
const char *onyx_pass_node_name(const onyx_graph *g, int node);
int onyx_pass_node_input_count(const onyx_graph *g, int node);
int onyx_pass_node_output_count(const onyx_graph *g, int node);
/* Value names; NULL for an omitted optional input or output. */
const char *onyx_pass_node_input(const onyx_graph *g, int node, int i);
const char *onyx_pass_node_output(const onyx_graph *g, int node, int i);
/* Removes node `node` at once, making the readers of its output 0 read its
 * input 0 (for pass-through ops); the indices of later nodes move down by
 * one, so walk the nodes from the last to the first. Fails, changing
 * nothing, when the node has other used outputs or its output name cannot
 * be kept (a graph output whose input cannot take its place). */
onyx_status *onyx_pass_bypass_node(onyx_graph *g, int node);
/* An error naming the pass's problem, for returning from a pass. */
onyx_status *onyx_pass_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* What each pass did in one optimization. */
typedef struct onyx_pass_stat {
  char name[48];
  int level;
  int64_t runs;            /* times the pass was applied */
  int64_t changes;         /* rewrites it reported */
  int64_t nodes_removed;   /* nodes it removed (net, counted by the optimizer) */
  int64_t nodes_added;
  int64_t fused;           /* patterns it replaced by one op */
  int64_t folded;          /* nodes it turned into constants or folded into weights */
  int64_t ns;              /* time spent in it */
} onyx_pass_stat;

#define ONYX_MAX_PASS_STATS 64
typedef struct onyx_optimize_stats {
  int level;
  int64_t nodes_before, nodes_after;
  int n_passes;            /* every pass considered at the level, in run order */
  onyx_pass_stat passes[ONYX_MAX_PASS_STATS];
} onyx_optimize_stats;

/* Optimizes a loaded model in place at the options' level, pass selection
 * and providers (opts may be NULL: the defaults), as a session would: the
 * fusions into ai.onyx ops (cpu kernels) leave alone the nodes a provider
 * listed before cpu will take, as ORT's do;
 * stats (may be NULL) receives what each pass did. The model is sorted,
 * validated and shape-inferred first; on failure it may be left partly
 * optimized but valid. */
onyx_status *onyx_model_optimize(onyx_model *m, const onyx_options *opts,
                                 onyx_optimize_stats *stats);
/* The names of the built-in passes, comma-separated, in run order (static). */
const char *onyx_optimizer_passes(void);

/* Sets the log threshold for the whole process (default WARNING). */
void onyx_set_log_level(onyx_log_level level);

/* ---- sessions ------------------------------------------------------------ */

typedef struct onyx_session onyx_session;

/* Loads, validates and prepares a model. `opts` may be NULL (defaults); it is
 * copied, so it need not outlive the session. Validation checks the model
 * against ONNX's operator schemas (IR version, each op available at the
 * imported opset, input and output counts, attribute names and types, type
 * families) and infers its shapes; what the model gets wrong is
 * ONYX_ERR_INVALID_MODEL naming the node, and an op or dtype onyx cannot
 * run ONYX_ERR_NOT_IMPLEMENTED. */
onyx_status *onyx_session_create(const char *path, const onyx_options *opts,
                                 onyx_session **out);
/* Same from memory. External data paths resolve against the current directory. */
onyx_status *onyx_session_create_from_buffer(const void *data, size_t len,
                                             const onyx_options *opts,
                                             onyx_session **out);
/* Same from a loaded model, whose ownership transfers to the session (also
 * on failure). */
onyx_status *onyx_session_create_from_model(onyx_model *m, const onyx_options *opts,
                                            onyx_session **out);
void onyx_session_destroy(onyx_session *s);

/* Metadata of one graph input or output. All pointers borrowed from the
 * session. dims[i] < 0 means the dim is not fixed; dim_names[i] is then the
 * symbolic name, or NULL when the model gives none. rank < 0: unknown rank. */
typedef struct onyx_value_info {
  const char *name;
  onyx_dtype dtype;
  int rank;
  const int64_t *dims;
  const char *const *dim_names;
} onyx_value_info;

/* Re-partitions the session over a new provider list (ORT's set_providers).
 * On failure the session keeps its previous providers. Safe while runs are
 * in flight: they finish on the plan they started with, later runs take the
 * new one. Provider instances (and tensors they allocated) live until the
 * session is destroyed; a provider named again is the same instance, and
 * partitions it compiled for the same nodes are reused. */
onyx_status *onyx_session_set_providers(onyx_session *s, const char *list);

/* Fallbacks the session made after it was asked for its providers: a
 * partition whose compile failed (it ran on the next provider) and a
 * provider whose device was lost during a run (the session re-planned
 * without it; the failing run returned ONYX_ERR_DEVICE, later runs use the
 * remaining providers). Entry i as one line into buf (cap bytes,
 * truncated); INVALID_ARGUMENT when out of range. Thread-safe. */
int onyx_session_fallback_count(onyx_session *s);
onyx_status *onyx_session_fallback_entry(onyx_session *s, int i, char *buf, size_t cap);

/* The copies between memory spaces the session's plan makes, per run
 * (steps) or once (initializers copied to a device when the session was
 * made). Strings borrowed until the session is destroyed or re-planned. */
typedef struct onyx_copy_info {
  const char *value;      /* the value copied */
  const char *from, *to;  /* memory spaces, as onyx_tensor_device names them */
  int64_t bytes;          /* -1 when the value's shape is not static */
} onyx_copy_info;
int onyx_session_copy_count(onyx_session *s);
onyx_status *onyx_session_copy_info(onyx_session *s, int i, onyx_copy_info *out);

/* The memory spaces the session's providers use ("cpu" first) and their
 * allocators' statistics, process-wide for the space. */
typedef struct onyx_memory_info {
  const char *device;     /* borrowed until the session is destroyed */
  int64_t in_use, peak;   /* bytes */
  int64_t allocs, frees;  /* calls so far */
} onyx_memory_info;
int onyx_session_memory_count(onyx_session *s);
onyx_status *onyx_session_memory_info(onyx_session *s, int i, onyx_memory_info *out);

/* A tensor in memory space `device` ("cpu", or a device the session's
 * providers use, e.g. "cuda:0"), zero-filled, for binding. It must be freed
 * (onyx_tensor_free) before the session is destroyed. */
onyx_status *onyx_session_tensor_create(onyx_session *s, const char *device, onyx_dtype dtype, int rank,
                                        const int64_t *dims, onyx_tensor **out);

/* Where each node of the session's (optimized) graph runs. Strings are
 * borrowed from the session and valid until it is destroyed or its
 * providers change. fallback_reason (may be NULL) says why providers of
 * higher priority did not take the node. */
typedef struct onyx_node_info {
  const char *name, *op_type, *domain, *provider, *fallback_reason;
} onyx_node_info;

int onyx_session_node_count(const onyx_session *s);
onyx_status *onyx_session_node_info(const onyx_session *s, int i, onyx_node_info *out);

int onyx_session_input_count(const onyx_session *s);
int onyx_session_output_count(const onyx_session *s);
/* The intra-op threads of the session: as set, or as chosen for 0 (one per
 * core, or per CPU group of an affinity list, or per CPU of a NUMA node). */
int onyx_session_intra_op_threads(const onyx_session *s);
onyx_status *onyx_session_input_info(const onyx_session *s, int i, onyx_value_info *out);
onyx_status *onyx_session_output_info(const onyx_session *s, int i, onyx_value_info *out);

/* Runs the model. Inputs are borrowed for the duration of the call. Outputs:
 * `out_names` selects which (NULL with n_outputs == output count: all, in
 * order); on success out[i] receives a new tensor the caller frees.
 * Safe to call from several threads at once on one session. */
onyx_status *onyx_session_run(onyx_session *s, int n_inputs, const char *const *in_names,
                              onyx_tensor *const *inputs, int n_outputs,
                              const char *const *out_names, onyx_tensor **out);

/* ---- run options and I/O binding (ORT's RunOptions and IoBinding) ------------ */

typedef struct onyx_run_options onyx_run_options;

onyx_status *onyx_run_options_create(onyx_run_options **out);
void onyx_run_options_destroy(onyx_run_options *ro);
/* A tag for the run's log lines (ORT's run_tag); copied, NULL clears. */
onyx_status *onyx_run_options_set_tag(onyx_run_options *ro, const char *tag);
/* Sets (1) or clears (0) the terminate flag: runs using these options stop
 * before their next step with ONYX_ERR_CANCELLED. May be called from any
 * thread while a run is in flight (ORT's terminate). */
void onyx_run_options_set_terminate(onyx_run_options *ro, int on);
/* A stream or queue handle of the caller's (e.g. a cudaStream_t) for the
 * providers that take one: the run enqueues its device work there. NULL
 * (default): each run takes a stream from the provider's pool. */
void onyx_run_options_set_stream(onyx_run_options *ro, void *stream);

/* onyx_session_run with run options (ro may be NULL). */
onyx_status *onyx_session_run_with_options(onyx_session *s, const onyx_run_options *ro, int n_inputs,
                                           const char *const *in_names, onyx_tensor *const *inputs,
                                           int n_outputs, const char *const *out_names, onyx_tensor **out);

/* An I/O binding: inputs and outputs bound once, runs repeated without
 * copies or allocations where the spaces and shapes allow. Inputs may live
 * in any memory space the session uses (onyx_session_tensor_create); one
 * already in the space its consumers run in is read there, without a copy.
 * Outputs are either bound to a caller tensor (written in place each run;
 * when the last step runs in the tensor's space it writes there directly)
 * or left to onyx, which allocates them in a chosen space and keeps them
 * for the next run while the shape holds. A binding belongs to its session
 * (destroy it first) and serves one run at a time. */
typedef struct onyx_io_binding onyx_io_binding;

onyx_status *onyx_io_binding_create(onyx_session *s, onyx_io_binding **out);
void onyx_io_binding_destroy(onyx_io_binding *b);
/* Binds model input `name` to t (borrowed: it must outlive its binding). */
onyx_status *onyx_io_binding_bind_input(onyx_io_binding *b, const char *name, onyx_tensor *t);
/* Binds model output `name` to the caller's tensor t (borrowed), which each
 * run overwrites; a run producing another dtype or shape fails with
 * INVALID_ARGUMENT naming the output. */
onyx_status *onyx_io_binding_bind_output(onyx_io_binding *b, const char *name, onyx_tensor *t);
/* Binds model output `name` to memory space `device` ("cpu", "cuda:0"):
 * onyx allocates it there (see onyx_io_binding_output). */
onyx_status *onyx_io_binding_bind_output_to_device(onyx_io_binding *b, const char *name, const char *device);
void onyx_io_binding_clear_inputs(onyx_io_binding *b);
void onyx_io_binding_clear_outputs(onyx_io_binding *b);
/* Runs with the bound inputs and outputs (ro may be NULL). Every input must
 * be bound, and at least one output. */
onyx_status *onyx_session_run_with_binding(onyx_session *s, const onyx_run_options *ro, onyx_io_binding *b);
/* The bound outputs, in binding order: names and tensors (borrowed from the
 * binding until the next run, clear or destroy; for outputs bound to a
 * caller tensor, that tensor). NULL before a run. */
int onyx_io_binding_output_count(const onyx_io_binding *b);
const char *onyx_io_binding_output_name(const onyx_io_binding *b, int i);
onyx_tensor *onyx_io_binding_output(onyx_io_binding *b, int i);

/* ---- session statistics and profiling ------------------------------------ */

typedef struct onyx_session_stats {
  int64_t runs;                    /* completed runs */
  int64_t peak_activation_bytes;   /* most intermediate bytes alive at once, any run */
  int64_t weight_bytes;            /* initializer bytes */
  int64_t naive_activation_bytes;  /* every intermediate of the last run added up */
  int64_t arena_bytes;             /* planned activation arena (largest shape signature) */
} onyx_session_stats;

void onyx_session_stats_get(onyx_session *s, onyx_session_stats *out);
/* What the optimizer did when the session was made (level 0: no passes). */
void onyx_session_optimize_stats(const onyx_session *s, onyx_optimize_stats *out);

/* One profiled node execution. Strings are borrowed from the session. */
typedef struct onyx_profile_entry {
  const char *node_name, *op_type, *provider;
  int64_t start_ns, dur_ns;   /* monotonic clock */
  int64_t run;                /* run sequence number */
  int thread;                 /* small integer id of the calling thread */
  int device;                 /* 1: timed on the device by the provider (its queue's
                                 timestamps), 0: by the host around the call */
} onyx_profile_entry;

/* Number of recorded entries (0 unless profiling was enabled). */
int64_t onyx_session_profile_count(onyx_session *s);
onyx_status *onyx_session_profile_get(onyx_session *s, int64_t i, onyx_profile_entry *out);
/* Writes all entries as Chrome trace JSON (chrome://tracing, Perfetto). */
onyx_status *onyx_session_profile_write(onyx_session *s, const char *path);
void onyx_session_profile_clear(onyx_session *s);

/* ---- quantization ------------------------------------------------------------ */

/* Options of onyx_quantize, named and defaulted as ONNX Runtime's
 * quantize_static / quantize_dynamic (and their extra_options). */
typedef struct onyx_quant_options onyx_quant_options;

onyx_status *onyx_quant_options_create(onyx_quant_options **out);
void onyx_quant_options_destroy(onyx_quant_options *o);

/* Sets one option by name (ORT's, case-sensitive); values are strings:
 *   mode                  "static" (default) | "dynamic"
 *   quant_format          "QDQ" (default) | "QOperator"
 *   activation_type       "QUInt8" (default) | "QInt8"   (also "uint8", "int8")
 *   weight_type           "QInt8" (default) | "QUInt8"
 *   per_channel           "0" (default) | "1"
 *   reduce_range          "0" (default) | "1"   (7-bit weights, for CPUs without VNNI)
 *   ActivationSymmetric   "0" (default) | "1"
 *   WeightSymmetric       default "1" for QInt8 weights, "0" for QUInt8
 *   op_types_to_quantize  comma-separated op types (default: all onyx can quantize)
 *   nodes_to_quantize     comma-separated node names (default: all)
 *   nodes_to_exclude      comma-separated node names
 *   calibrate_method      "MinMax" (default) | "Entropy" | "Percentile"
 *   CalibPercentile       default "99.999"
 *   calibration_table_in  JSON file of ranges to use instead of calibrating
 *   calibration_table_out JSON file the ranges are written to
 * Unknown names and bad values are refused with INVALID_ARGUMENT. */
onyx_status *onyx_quant_options_set(onyx_quant_options *o, const char *name, const char *value);

/* Supplies calibration samples (ORT's CalibrationDataReader). Called until
 * it sets *done: each call fills inputs[0..n_inputs) (the model's inputs, in
 * the order of `names`) with new tensors whose ownership passes to onyx. */
typedef onyx_status *(*onyx_calibration_reader)(void *arg, int n_inputs, const char *const *names,
                                                onyx_tensor **inputs, int *done);
/* A new status (code != ONYX_OK) with a printf-formatted message, for
 * readers and observers implemented outside the library to report errors. */
onyx_status *onyx_status_create(onyx_code code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* `arg` is borrowed and must stay valid until onyx_quantize returns. */
void onyx_quant_options_set_calibration_reader(onyx_quant_options *o, onyx_calibration_reader read,
                                               void *arg);

/* What onyx_quantize did, per node of the float model (after its
 * BatchNormalization folding). Strings are owned by the report. */
typedef struct onyx_quant_node_report {
  const char *name, *op_type;
  int quantized;      /* 1: replaced by or wrapped in int8 ops; 0: left float */
  const char *note;   /* how it was quantized, or why it was left float */
} onyx_quant_node_report;

typedef struct onyx_quant_report {
  int64_t bytes_before, bytes_after;   /* serialized model sizes */
  int64_t weight_bytes_before, weight_bytes_after;   /* initializer data */
  int n_nodes;
  onyx_quant_node_report *nodes;
  int bn_folded;                       /* BatchNormalization nodes folded into Conv */
  int calibration_samples;             /* samples run (0: dynamic, or ranges from a table) */
  int calibrated_tensors;              /* tensors with a range */
} onyx_quant_report;

void onyx_quant_report_destroy(onyx_quant_report *r);

/* Quantizes the model at model_path and saves it to output_path. `o` may be
 * NULL (static QDQ defaults, which need a calibration reader or table).
 * report (may be NULL) receives a new report on success. */
onyx_status *onyx_quantize(const char *model_path, const onyx_quant_options *o, const char *output_path,
                           onyx_quant_report **report);
/* Same on a loaded model (borrowed, unchanged); *out receives the new one. */
onyx_status *onyx_quantize_model(const onyx_model *m, const onyx_quant_options *o, onyx_model **out,
                                 onyx_quant_report **report);

/* Runs the session like onyx_session_run, showing every tensor the graph
 * computes (fed inputs first, then each node's outputs in execution order)
 * to `observe`, which may not keep the tensor. For per-tensor accuracy
 * debugging and custom calibration; make the session with optimization
 * level 0 to see every tensor of the model under its own name. */
typedef onyx_status *(*onyx_tensor_observer)(void *arg, const char *name, const onyx_tensor *t);
onyx_status *onyx_session_run_observe(onyx_session *s, int n_inputs, const char *const *in_names,
                                      onyx_tensor *const *inputs, onyx_tensor_observer observe, void *arg,
                                      int n_outputs, const char *const *out_names, onyx_tensor **out);

/* How close tensor x is to reference ref (same element count, float32):
 * the numbers `onyx compare` prints. */
typedef struct onyx_tensor_error {
  int64_t n;
  double max_abs, mse, cosine;   /* cosine 1 when both are all zero */
  double ref_max_abs;            /* largest |ref| (for relative error) */
} onyx_tensor_error;

onyx_status *onyx_tensor_error_get(const onyx_tensor *ref, const onyx_tensor *x, onyx_tensor_error *out);

/* ---- system ------------------------------------------------------------- */

/* What this machine offers, as onyx sees it (for `onyx info` and reports). */
typedef struct onyx_system_info {
  char cpu_brand[64];
  int cores;            /* cores this process may run on */
  int numa_nodes;       /* 1 when unknown */
  int l1d_kb, l2_kb, l3_kb;  /* per-instance cache sizes; 0 when unknown */
  /* ISA features usable by onyx (cpuid and OS support) */
  int avx2, fma, f16c, avx512f, avx512bw, avx512_vnni, avx512_bf16, avx512_fp16, avx_vnni;
  int amx_tile, amx_int8, amx_bf16;
} onyx_system_info;

void onyx_system_info_get(onyx_system_info *out);

/* One NUMA node of this machine, as sysfs (/sys/devices/system/node) lists it. */
typedef struct onyx_numa_node_info {
  int id;           /* the node number onyx_options_set_numa_node takes */
  int n_cpus;
  char cpus[128];   /* Linux cpulist, e.g. "0-15,32-47"; "" for a node of
                       memory only; ends in "..." when longer */
} onyx_numa_node_info;

/* Node i (0 <= i < onyx_system_info.numa_nodes, in node-number order).
 * NOT_FOUND when sysfs lists no such node (no NUMA information at all:
 * numa_nodes is then 1 with nothing to describe). */
onyx_status *onyx_system_numa_node(int i, onyx_numa_node_info *out);

/* 1 when libnuma (libnuma.so.1) can be loaded and reports NUMA support,
 * which onyx_options_set_numa_node needs; else 0. */
int onyx_numa_available(void);

/* Comma-separated names of the execution providers compiled in and usable on
 * this machine, in default priority order (static string). */
const char *onyx_available_providers(void);

/* Comma-separated names of every execution provider compiled into this
 * build, usable on this machine or not, in default priority order (static
 * string). */
const char *onyx_compiled_providers(void);

/* Why execution provider `name` cannot be used on this machine (static
 * string), or NULL when it can, or when no such provider is compiled in. */
const char *onyx_provider_unusable_reason(const char *name);

/* The NVIDIA GPUs the cuda provider sees (0 without the provider, a
 * driver or a GPU), and what each is. */
typedef struct onyx_gpu_info {
  int index;                  /* the device_id provider option that selects it */
  char name[128];
  int sm_count;
  int cc_major, cc_minor;     /* compute capability */
  int64_t total_memory, free_memory;   /* bytes */
  int driver_version, runtime_version; /* CUDA's encoding: 1000 * major + 10 * minor */
  int cublas_version, cudnn_version;   /* 0: the library could not be loaded */
  char usable[128];           /* "" when onyx can run on it, else why not */
} onyx_gpu_info;
int onyx_gpu_count(void);
onyx_status *onyx_gpu_info_get(int i, onyx_gpu_info *out);

/* The libraries this build runs on and their versions, as "name version"
 * items joined by ", ", e.g. "oneDNN 3.5.3 (OpenMP), OpenMP 201511,
 * protobuf-c 1.4.1" (static string). Versions come from the libraries at run
 * time where they can report one. */
const char *onyx_library_versions(void);

/* ---- telemetry: CPU power, frequency and temperature ------------------------ */

/* A sample is a snapshot: package energy counters from RAPL (powercap), the
 * average core frequency (cpufreq, else /proc/cpuinfo), the hottest package
 * temperature (thermal zones and hwmon), process CPU time and wall time. Two
 * samples around a measurement give a delta: joules (counter wrap-around
 * handled per package), seconds, frequency, temperature and CPU utilisation.
 * Many machines, VMs above all, hide some of these sources; a source that is
 * absent is reported as such, with the reason, never as a zero that looks
 * like a figure. The files are read under the root named by the environment
 * variable ONYX_SYSFS_ROOT (default "/"), so tests can point the readers at a
 * fake tree. Nothing is cached between calls. */

/* The sources a sample reads, each present or not on a machine. */
typedef enum onyx_telemetry_source {
  ONYX_TELEMETRY_ENERGY,   /* RAPL package energy */
  ONYX_TELEMETRY_FREQ,     /* core frequency */
  ONYX_TELEMETRY_TEMP,     /* package temperature */
  ONYX_TELEMETRY_SOURCES   /* the count */
} onyx_telemetry_source;

#define ONYX_TELEMETRY_MAX_PACKAGES 64

/* Which sources gave a figure and, for the others, why not (a phrase such
 * as "no RAPL package zones under /sys/class/powercap"). */
typedef struct onyx_telemetry_avail {
  int has[ONYX_TELEMETRY_SOURCES];         /* 1: the source gave a figure */
  char why[ONYX_TELEMETRY_SOURCES][192];   /* "" where has[] is true */
} onyx_telemetry_avail;

typedef struct onyx_telemetry_sample {
  int64_t wall_ns;          /* monotonic clock */
  int64_t cpu_ns;           /* this process's CPU time, all threads */
  /* energy: the sum over packages, -1 when not available; the per-package
   * counters are kept so a delta can undo each one's wrap-around */
  int64_t energy_uj;
  int n_packages;
  int package_id[ONYX_TELEMETRY_MAX_PACKAGES];     /* N of intel-rapl:N / amd-rapl:N */
  int64_t package_uj[ONYX_TELEMETRY_MAX_PACKAGES];
  int64_t package_range_uj[ONYX_TELEMETRY_MAX_PACKAGES];   /* max_energy_range_uj */
  /* frequency: mean over the CPUs that report one; < 0 when not available */
  double freq_mhz;
  int freq_cpus;            /* how many CPUs the mean is over */
  const char *freq_source;  /* static: "cpufreq" or "/proc/cpuinfo"; NULL when n/a */
  /* temperature: the hottest package sensor, else the hottest of all;
   * NAN when not available */
  double temp_c;
  char temp_sensor[96];     /* which reading, e.g. "thermal_zone2 (x86_pkg_temp)" */
  onyx_telemetry_avail avail;
} onyx_telemetry_sample;

/* What happened between two samples. */
typedef struct onyx_telemetry_delta {
  double seconds;           /* wall time */
  double cpu_seconds;       /* process CPU time */
  double cpu_utilization;   /* cpu_seconds / seconds: 1.0 is one core busy all along */
  double joules;            /* package energy; where avail.has[ENERGY] */
  double freq_mhz;          /* mean of the two samples' frequency; where avail.has[FREQ] */
  const char *freq_source;  /* static: where the frequency came from; NULL when n/a */
  double temp_c;            /* the hotter of the two samples'; where avail.has[TEMP] */
  char temp_sensor[96];     /* the sensor of that reading */
  onyx_telemetry_avail avail;   /* a source counts when both samples have it */
} onyx_telemetry_delta;

/* Takes a sample now. Never fails: each source that cannot be read is
 * marked unavailable in out->avail with the reason. Reads ONYX_SYSFS_ROOT
 * on every call (so do not change the environment from another thread
 * meanwhile); otherwise thread-safe. */
void onyx_telemetry_sample_read(onyx_telemetry_sample *out);

/* The figures between sample a and a later sample b into *out. Energy is
 * the sum over packages of b - a, adding a package's max_energy_range_uj
 * where its counter wrapped; it is unavailable when a or b lacks it or the
 * two list different packages. ONYX_ERR_INVALID_ARGUMENT when b was taken
 * before a; *out is written only on success. Pure. */
onyx_status *onyx_telemetry_delta_compute(const onyx_telemetry_sample *a, const onyx_telemetry_sample *b,
                                          onyx_telemetry_delta *out);

/* Why `src` has no figure in `avail` (a sample's or a delta's), or NULL
 * when it has one. The string is borrowed from avail. */
const char *onyx_telemetry_unavailable_reason(const onyx_telemetry_avail *avail, onyx_telemetry_source src);

/* ---- value kinds: sequences and optionals ------------------------------- */

/* What an onyx_tensor handle carries. A model's inputs and outputs may be
 * ONNX sequences (of tensors) or optionals; onyx moves them around in the
 * same handle type, as ORT's OrtValue does. */
typedef enum onyx_value_kind {
  ONYX_VALUE_TENSOR = 0,
  ONYX_VALUE_SEQUENCE = 1,
  ONYX_VALUE_OPTIONAL = 2,
} onyx_value_kind;

onyx_value_kind onyx_tensor_kind(const onyx_tensor *t);
/* Sequence: its length. Optional: 1 when it holds a value, 0 when empty.
 * Plain tensor: 0. For sequences and optionals onyx_tensor_dtype gives the
 * element dtype (UNDEFINED when unknown). */
int onyx_tensor_elem_count(const onyx_tensor *t);
/* Element i of a sequence or optional (borrowed; lives as long as `t`), or
 * NULL when i is out of range. */
onyx_tensor *onyx_tensor_elem(onyx_tensor *t, int i);

/* ---- model introspection ------------------------------------------------ */

/* Facts about a loaded model as its file states them, before a session
 * infers or optimizes anything: what `onyx inspect` prints. They work on
 * models a session could not run (unsupported ops), which is the point.
 * Strings are borrowed from the model and live as long as it; they are
 * never NULL unless stated. Nodes are numbered in file order within the
 * main graph. None of these functions allocate; all are thread-safe on a
 * model no one is modifying. */

int64_t onyx_model_ir_version(const onyx_model *m);
const char *onyx_model_producer_name(const onyx_model *m);     /* "" when absent */
const char *onyx_model_producer_version(const onyx_model *m);  /* "" when absent */
/* The rest of ModelProto's header (ORT's ModelMetadata): its domain,
 * doc_string and model_version, the main graph's name and doc_string, and the
 * metadata_props key/value pairs in file order. */
const char *onyx_model_domain(const onyx_model *m);            /* "" when absent */
const char *onyx_model_doc_string(const onyx_model *m);        /* "" when absent */
int64_t onyx_model_version(const onyx_model *m);               /* 0 when absent */
const char *onyx_model_graph_name(const onyx_model *m);        /* "" when absent */
const char *onyx_model_graph_doc_string(const onyx_model *m);  /* "" when absent */
int onyx_model_metadata_count(const onyx_model *m);
onyx_status *onyx_model_metadata_prop(const onyx_model *m, int i, const char **key, const char **value);

/* Opset imports: domain ("" for the default ai.onnx domain) and version. */
int onyx_model_opset_count(const onyx_model *m);
onyx_status *onyx_model_opset_import(const onyx_model *m, int i, const char **domain,
                                     int64_t *version);

/* Declared type of a graph input or output, by value (unlike the session's
 * onyx_value_info, nothing but `name` and `dim_names` is borrowed).
 * dims[i] is -1 when the dim is not fixed; dim_names[i] is then its
 * symbolic name, or NULL when the model gives none. rank < 0: unknown rank.
 * For sequences and optionals dtype/rank/dims describe the element type
 * (dtype UNDEFINED and rank -1 when the model does not say). */
typedef struct onyx_model_value_info {
  const char *name;
  onyx_value_kind kind;
  onyx_dtype dtype;
  int rank;
  int64_t dims[ONYX_MAX_RANK];
  const char *dim_names[ONYX_MAX_RANK];
} onyx_model_value_info;

/* Inputs fed at run time (initializers are not counted) and outputs. */
int onyx_model_input_count(const onyx_model *m);
int onyx_model_output_count(const onyx_model *m);
onyx_status *onyx_model_input_info(const onyx_model *m, int i, onyx_model_value_info *out);
onyx_status *onyx_model_output_info(const onyx_model *m, int i, onyx_model_value_info *out);

/* Nodes of the main graph (subgraph nodes: onyx_model_visit_nodes). The
 * accessors return NULL when i is out of range; domain is "" for ai.onnx. */
int onyx_model_node_count(const onyx_model *m);
const char *onyx_model_node_name(const onyx_model *m, int i);
const char *onyx_model_node_op_type(const onyx_model *m, int i);
const char *onyx_model_node_domain(const onyx_model *m, int i);

/* Initializers of the main graph: how many, and the bytes their data takes
 * (for string tensors, the string lengths). */
int64_t onyx_model_initializer_count(const onyx_model *m);
uint64_t onyx_model_initializer_bytes(const onyx_model *m);

/* 1 when onyx can run op_type of domain ("" or "ai.onnx" for the default
 * domain): the op is in onyx's operator table and the cpu provider, which
 * must cover every op onyx claims, has a kernel for it. 0 otherwise. A
 * static answer per op type; where a loaded session placed each node is
 * onyx_session_node_info's. */
int onyx_op_supported(const char *domain, const char *op_type);

/* Calls fn for every node of the model, subgraphs (If/Loop/Scan bodies)
 * included, depth first in file order: each node before the nodes of its
 * subgraphs. depth is 0 for the main graph, 1 inside its subgraphs, and so
 * on. The strings are borrowed for the call. A nonzero return from fn stops
 * the walk and is returned; otherwise 0. */
typedef int (*onyx_node_visitor)(const char *domain, const char *op_type, const char *name,
                                 int depth, void *arg);
int onyx_model_visit_nodes(const onyx_model *m, onyx_node_visitor fn, void *arg);

#ifdef __cplusplus
}
#endif
#endif
