/* simdev.c — the simulated device of simdev.h: a memfd pool mapped twice
 * (device addresses PROT_NONE, a private read-write view for the device's
 * own work), a first-fit allocator over it, streams as worker threads with
 * a ring of commands, and kernels that run the cpu kernels on the worker
 * over the view. */
#include "simdev.h"

#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "providers/cpu/cpu.h"

#define SD_ALIGN 64
#define SD_RING 256
#define SD_MAX_IO 4
#define SD_MAX_MARKS 8192
#define SD_MAX_FREE 4096

/* ---- the device -------------------------------------------------------------- */

typedef struct sd_range {
  size_t off, size;
} sd_range;

typedef struct sd_stream sd_stream;

typedef struct simdev {
  onyx_provider prov;
  onyx_allocator alloc;
  int fd;
  char *dev, *view;          /* the two mappings of the pool */
  size_t pool;
  pthread_mutex_t mem_lock;
  int n_free;
  sd_range free[SD_MAX_FREE];   /* sorted by offset, coalesced */
  _Atomic int64_t fail_at;      /* allocations left until the one that fails; <= 0: none */
  _Atomic int64_t lose_at;      /* kernels left before the one that loses the device; <= 0: never */
  atomic_bool lost;
  atomic_int delay_us;
  _Atomic int64_t kernels, copies_in, copies_out, copies_on, bytes_in, bytes_out;
  pthread_mutex_t pool_lock;
  sd_stream *streams;        /* idle streams */
  sd_stream *all;            /* every stream, for teardown */
} simdev;

static simdev *dev_of(onyx_provider *p) { return p->ctx; }

void *simdev_view(onyx_provider *p, const void *device_ptr) {
  simdev *d = dev_of(p);
  return d->view + ((const char *)device_ptr - d->dev);
}

static bool on_device(const simdev *d, const void *ptr) {
  return (const char *)ptr >= d->dev && (const char *)ptr < d->dev + d->pool;
}

static void *view_of(simdev *d, const void *ptr) { return d->view + ((const char *)ptr - d->dev); }

/* ---- memory ---------------------------------------------------------------------- */

static void *sd_alloc(onyx_allocator *a, size_t n) {
  simdev *d = a->ctx;
  if (atomic_load(&d->fail_at) > 0 && atomic_fetch_sub(&d->fail_at, 1) == 1) return NULL;
  size_t need = (n + SD_ALIGN - 1) / SD_ALIGN * SD_ALIGN;
  if (!need) need = SD_ALIGN;
  void *p = NULL;
  pthread_mutex_lock(&d->mem_lock);
  for (int i = 0; i < d->n_free && !p; i++) {
    if (d->free[i].size < need) continue;
    p = d->dev + d->free[i].off;
    d->free[i].off += need;
    d->free[i].size -= need;
    if (!d->free[i].size) memmove(&d->free[i], &d->free[i + 1], (size_t)(--d->n_free - i) * sizeof d->free[0]);
  }
  pthread_mutex_unlock(&d->mem_lock);
  return p;
}

static void sd_release(onyx_allocator *a, void *p, size_t n) {
  simdev *d = a->ctx;
  if (!p) return;
  size_t off = (size_t)((char *)p - d->dev), size = (n + SD_ALIGN - 1) / SD_ALIGN * SD_ALIGN;
  if (!size) size = SD_ALIGN;
  pthread_mutex_lock(&d->mem_lock);
  int i = 0;
  while (i < d->n_free && d->free[i].off < off) i++;
  bool left = i > 0 && d->free[i - 1].off + d->free[i - 1].size == off;
  bool right = i < d->n_free && off + size == d->free[i].off;
  if (left && right) {
    d->free[i - 1].size += size + d->free[i].size;
    memmove(&d->free[i], &d->free[i + 1], (size_t)(--d->n_free - i) * sizeof d->free[0]);
  } else if (left) {
    d->free[i - 1].size += size;
  } else if (right) {
    d->free[i].off = off;
    d->free[i].size += size;
  } else if (d->n_free < SD_MAX_FREE) {
    memmove(&d->free[i + 1], &d->free[i], (size_t)(d->n_free - i) * sizeof d->free[0]);
    d->free[i] = (sd_range){off, size};
    d->n_free++;
  } /* else: the range is leaked to the pool (a test would notice the pool running dry) */
  pthread_mutex_unlock(&d->mem_lock);
}

/* ---- streams ----------------------------------------------------------------------- */

typedef enum { CMD_KERNEL, CMD_COPY, CMD_FREE, CMD_MARK } cmd_kind;

typedef struct sd_cmd {
  cmd_kind kind;
  /* kernel */
  const onyx_kernel *k;
  const void *state;
  const onyx_node *node;
  int n_in, n_out;
  bool has_in[SD_MAX_IO], has_out[SD_MAX_IO];
  onyx_tensor in[SD_MAX_IO], out[SD_MAX_IO];   /* headers over the view */
  bool lose;
  /* copy: view or host pointers; staging (owned) freed after */
  void *dst;
  const void *src;
  size_t n;
  void *staging;
  /* free */
  void *ptr;
  /* mark */
  int token;
} sd_cmd;

struct sd_stream {
  simdev *d;
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t work, idle;
  sd_cmd ring[SD_RING];
  int head, count;
  bool busy, quit;
  onyx_status *err;            /* the first error since the last sync */
  int n_marks;
  int64_t marks[SD_MAX_MARKS];
  sd_stream *next_idle, *next_all;
};

static onyx_status *no_alloc(onyx_kernel_ctx *c, int i, int rank, const int64_t *dims) {
  (void)rank;
  (void)dims;
  return onyx_node_error(c->node, ONYX_ERR_RUNTIME, "simdev: output %d was not sized before the kernel was queued", i);
}
static onyx_status *no_subgraph(onyx_kernel_ctx *c, const char *attr, onyx_tensor *const *in, onyx_tensor **out) {
  (void)in;
  (void)out;
  return onyx_node_error(c->node, ONYX_ERR_NOT_IMPLEMENTED, "simdev: subgraph '%s'", attr);
}
static const onyx_kernel_services sd_services = {no_alloc, no_subgraph};

static onyx_status *execute(sd_stream *st, sd_cmd *c) {
  simdev *d = st->d;
  bool lost = atomic_load(&d->lost);
  switch (c->kind) {
    case CMD_KERNEL: {
      if (lost) return onyx_error(ONYX_ERR_DEVICE, "simdev:0: device lost");
      if (c->lose) {
        atomic_store(&d->lost, true);
        return onyx_error(ONYX_ERR_DEVICE, "simdev:0: device lost while running node '%s'", c->node->name);
      }
      int us = atomic_load(&d->delay_us);
      if (us) nanosleep(&(struct timespec){0, (long)us * 1000}, NULL);
      onyx_tensor *in[SD_MAX_IO], *out[SD_MAX_IO];
      for (int i = 0; i < c->n_in; i++) in[i] = c->has_in[i] ? &c->in[i] : NULL;
      for (int i = 0; i < c->n_out; i++) out[i] = c->has_out[i] ? &c->out[i] : NULL;
      onyx_threadpool one = {1};
      onyx_kernel_ctx kc = {c->node, c->n_in, c->n_out, in, out, c->state, &one, &d->prov, NULL, &sd_services, NULL};
      return c->k->run(&kc);
    }
    case CMD_COPY:
      if (!lost) memcpy(c->dst, c->src, c->n);
      onyx_free(c->staging);
      return lost ? onyx_error(ONYX_ERR_DEVICE, "simdev:0: device lost") : NULL;
    case CMD_FREE:
      sd_release(&d->alloc, c->ptr, c->n);
      return NULL;
    case CMD_MARK:
      st->marks[c->token] = onyx_now_ns();
      return NULL;
  }
  return NULL;
}

static void *worker(void *arg) {
  sd_stream *st = arg;
  pthread_mutex_lock(&st->mu);
  for (;;) {
    while (!st->count && !st->quit) pthread_cond_wait(&st->work, &st->mu);
    if (!st->count && st->quit) break;
    sd_cmd *c = &st->ring[st->head];
    st->busy = true;
    pthread_mutex_unlock(&st->mu);
    onyx_status *s = execute(st, c);
    pthread_mutex_lock(&st->mu);
    if (s && !st->err) st->err = s;
    else onyx_status_free(s);
    st->head = (st->head + 1) % SD_RING;
    st->count--;
    st->busy = false;
    pthread_cond_broadcast(&st->idle);
  }
  pthread_mutex_unlock(&st->mu);
  return NULL;
}

/* A slot at the ring's tail, waiting while it is full; the caller fills it
 * and calls push. */
static sd_cmd *reserve(sd_stream *st) {
  pthread_mutex_lock(&st->mu);
  while (st->count == SD_RING) pthread_cond_wait(&st->idle, &st->mu);
  sd_cmd *c = &st->ring[(st->head + st->count) % SD_RING];
  pthread_mutex_unlock(&st->mu);
  memset(c, 0, offsetof(sd_cmd, in));
  return c;
}

static void push(sd_stream *st) {
  pthread_mutex_lock(&st->mu);
  st->count++;
  pthread_cond_signal(&st->work);
  pthread_mutex_unlock(&st->mu);
}

static onyx_status *stream_sync(sd_stream *st) {
  pthread_mutex_lock(&st->mu);
  while (st->count || st->busy) pthread_cond_wait(&st->idle, &st->mu);
  onyx_status *s = st->err;
  st->err = NULL;
  pthread_mutex_unlock(&st->mu);
  if (!s && atomic_load(&st->d->lost)) s = onyx_error(ONYX_ERR_DEVICE, "simdev:0: device lost");
  return s;
}

static onyx_status *sd_run_begin(onyx_provider *p, const onyx_run_config *rc, void **state) {
  (void)rc;
  simdev *d = dev_of(p);
  if (atomic_load(&d->lost)) return onyx_error(ONYX_ERR_DEVICE, "simdev:0: device lost");
  pthread_mutex_lock(&d->pool_lock);
  sd_stream *st = d->streams;
  if (st) d->streams = st->next_idle;
  pthread_mutex_unlock(&d->pool_lock);
  if (!st) {
    if (!(st = onyx_calloc(1, sizeof *st))) return onyx_error_oom();
    st->d = d;
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->work, NULL);
    pthread_cond_init(&st->idle, NULL);
    if (pthread_create(&st->th, NULL, worker, st)) {
      onyx_free(st);
      return onyx_error(ONYX_ERR_RUNTIME, "simdev: cannot start a stream thread");
    }
    pthread_mutex_lock(&d->pool_lock);
    st->next_all = d->all;
    d->all = st;
    pthread_mutex_unlock(&d->pool_lock);
  }
  st->n_marks = 0;
  *state = st;
  return NULL;
}

static onyx_status *sd_sync(onyx_provider *p, void *state) {
  (void)p;
  return stream_sync(state);
}

static void sd_run_end(onyx_provider *p, void *state) {
  simdev *d = dev_of(p);
  sd_stream *st = state;
  onyx_status_free(stream_sync(st));
  pthread_mutex_lock(&d->pool_lock);
  st->next_idle = d->streams;
  d->streams = st;
  pthread_mutex_unlock(&d->pool_lock);
}

static int64_t sd_mark(onyx_provider *p, void *state) {
  (void)p;
  sd_stream *st = state;
  if (st->n_marks == SD_MAX_MARKS) return -1;
  sd_cmd *c = reserve(st);
  c->kind = CMD_MARK;
  c->token = st->n_marks++;
  push(st);
  return c->token;
}

static int64_t sd_mark_time(onyx_provider *p, void *state, int64_t token) {
  (void)p;
  sd_stream *st = state;
  return token >= 0 && token < st->n_marks ? st->marks[token] : -1;
}

/* ---- copies ------------------------------------------------------------------------- */

static onyx_status *sd_copy(onyx_allocator *a, void *dst, const void *src, size_t n, onyx_copy_kind kind, void *rs) {
  simdev *d = a->ctx;
  if (atomic_load(&d->lost)) return onyx_error(ONYX_ERR_DEVICE, "simdev:0: device lost");
  bool dst_dev = kind != ONYX_COPY_TO_HOST, src_dev = kind != ONYX_COPY_TO_DEVICE;
  if ((dst_dev && !on_device(d, dst)) || (src_dev && !on_device(d, src)))
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "simdev: copy with a pointer outside the device");
  void *to = dst_dev ? view_of(d, dst) : dst;
  const void *from = src_dev ? view_of(d, src) : src;
  if (kind == ONYX_COPY_TO_DEVICE) atomic_fetch_add(&d->copies_in, 1), atomic_fetch_add(&d->bytes_in, (int64_t)n);
  else if (kind == ONYX_COPY_TO_HOST) atomic_fetch_add(&d->copies_out, 1), atomic_fetch_add(&d->bytes_out, (int64_t)n);
  else atomic_fetch_add(&d->copies_on, 1);
  if (!rs) {
    memcpy(to, from, n);
    return NULL;
  }
  void *staging = NULL;
  if (kind == ONYX_COPY_TO_DEVICE) {
    /* the host source is read now (the contract): stage it */
    if (!(staging = onyx_malloc(n ? n : 1))) return onyx_error_oom();
    memcpy(staging, src, n);
    from = staging;
  }
  sd_cmd *c = reserve(rs);
  c->kind = CMD_COPY;
  c->dst = to;
  c->src = from;
  c->n = n;
  c->staging = staging;
  push(rs);
  return NULL;
}

static void sd_release_async(onyx_allocator *a, void *p, size_t n, void *rs) {
  (void)a;
  sd_cmd *c = reserve(rs);
  c->kind = CMD_FREE;
  c->ptr = p;
  c->n = n;
  push(rs);
}

static const onyx_allocator_iface sd_alloc_iface = {sd_alloc, sd_release, sd_release_async, sd_copy, NULL, NULL};

/* ---- kernels -------------------------------------------------------------------------- */

/* What prepare keeps: the cpu kernel and its state. */
typedef struct sd_state {
  const onyx_kernel *cpu;
  void *cpu_state;
} sd_state;

static onyx_status *sd_prepare(onyx_provider *p, const onyx_node *n, const onyx_graph *g, void **state) {
  sd_state *s = onyx_calloc(1, sizeof *s);
  if (!s) return onyx_error_oom();
  s->cpu = cpu_kernel_find(n->op);
  onyx_status *st = s->cpu && s->cpu->prepare ? s->cpu->prepare(p, n, g, &s->cpu_state) : NULL;
  if (st || !s->cpu) {
    onyx_free(s);
    return st ? st : onyx_node_error(n, ONYX_ERR_NOT_IMPLEMENTED, "simdev: no cpu kernel");
  }
  *state = s;
  return NULL;
}

static void sd_state_release(void *state) {
  sd_state *s = state;
  if (s->cpu_state && s->cpu->release) s->cpu->release(s->cpu_state);
  onyx_free(s);
}

/* Queues the cpu kernel of the node on the run's stream, over the view. */
static onyx_status *sd_run(onyx_kernel_ctx *c) {
  simdev *d = dev_of(c->provider);
  const sd_state *s = c->state;
  sd_stream *st = c->run_state;
  if (atomic_load(&d->lost)) return onyx_error(ONYX_ERR_DEVICE, "simdev:0: device lost");
  if (c->n_in > SD_MAX_IO || c->n_out > SD_MAX_IO) return onyx_node_error(c->node, ONYX_ERR_NOT_IMPLEMENTED, "simdev: too many inputs");
  for (int i = 0; i < c->n_out; i++)
    if (c->out[i] && !c->out[i]->data) return no_alloc(c, i, 0, NULL);
  sd_cmd *cmd = reserve(st);
  cmd->kind = CMD_KERNEL;
  cmd->k = s->cpu;
  cmd->state = s->cpu_state;
  cmd->node = c->node;
  cmd->n_in = c->n_in;
  cmd->n_out = c->n_out;
  for (int i = 0; i < c->n_in; i++) {
    cmd->has_in[i] = c->in[i] != NULL;
    if (!c->in[i]) continue;
    cmd->in[i] = *c->in[i];
    if (on_device(d, c->in[i]->data)) cmd->in[i].data = view_of(d, c->in[i]->data);
  }
  for (int i = 0; i < c->n_out; i++) {
    cmd->has_out[i] = c->out[i] != NULL;
    if (!c->out[i]) continue;
    cmd->out[i] = *c->out[i];
    cmd->out[i].data = view_of(d, c->out[i]->data);
  }
  cmd->lose = atomic_load(&d->lose_at) > 0 && atomic_fetch_sub(&d->lose_at, 1) == 1;
  atomic_fetch_add(&d->kernels, 1);
  push(st);
  return NULL;
}

/* Reshape: the output (sized on the host from the host-placed shape) gets
 * the input's bytes, copied on the device. */
static onyx_status *sd_reshape(onyx_kernel_ctx *c) {
  simdev *d = dev_of(c->provider);
  if (!c->out[0]->data) return no_alloc(c, 0, 0, NULL);
  return sd_copy(&d->alloc, c->out[0]->data, c->in[0]->data, c->in[0]->nbytes, ONYX_COPY_ON_DEVICE, c->run_state);
}

#define F32 ONYX_DT(FLOAT)
static const onyx_kernel sd_kernels[] = {
    {.op = onyx_op_Add, .prepare = sd_prepare, .run = sd_run, .release = sd_state_release, .flags = ONYX_KERNEL_IN_PLACE, .dtypes = F32},
    {.op = onyx_op_Mul, .prepare = sd_prepare, .run = sd_run, .release = sd_state_release, .flags = ONYX_KERNEL_IN_PLACE, .dtypes = F32},
    {.op = onyx_op_Relu, .prepare = sd_prepare, .run = sd_run, .release = sd_state_release, .flags = ONYX_KERNEL_IN_PLACE, .dtypes = F32},
    {.op = onyx_op_MatMul, .prepare = sd_prepare, .run = sd_run, .release = sd_state_release, .dtypes = F32},
    {.op = onyx_op_Conv, .prepare = sd_prepare, .run = sd_run, .release = sd_state_release, .dtypes = F32},
    /* the shape (input 1) is read on the host, where output sizing needs it */
    {.op = onyx_op_Reshape, .run = sd_reshape, .dtypes = F32, .host_in = 1u << 1},
    {.op = -1},
};

static const onyx_kernel *find(const onyx_node *n) {
  for (const onyx_kernel *k = sd_kernels; k->op >= 0; k++)
    if (k->op == n->op) return k;
  return NULL;
}

static onyx_status *sd_supports(onyx_provider *p, const onyx_graph *g, const onyx_node *n) {
  (void)p;
  const onyx_kernel *k = n->op >= 0 ? find(n) : NULL;
  if (!k) return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "simdev has no %s kernel", n->op_type);
  if (n->op == onyx_op_Reshape && onyx_attr_int(n, "allowzero", 0))
    return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "simdev: Reshape with allowzero");
  return onyx_kernel_check_dtypes(k, g, n);
}

static const onyx_kernel *sd_kernel_for(onyx_provider *p, const onyx_graph *g, const onyx_node *n) {
  (void)p;
  (void)g;
  return n->op >= 0 ? find(n) : NULL;
}

static onyx_allocator *sd_allocator(onyx_provider *p) { return &dev_of(p)->alloc; }

static void sd_destroy(onyx_provider *p) { simdev_destroy(p); }

static const onyx_provider_iface sd_iface = {
    .version = ONYX_PROVIDER_IFACE_VERSION,
    .supports = sd_supports,
    .kernel_for = sd_kernel_for,
    .allocator = sd_allocator,
    .run_begin = sd_run_begin,
    .sync = sd_sync,
    .run_end = sd_run_end,
    .mark = sd_mark,
    .mark_time = sd_mark_time,
    .destroy = sd_destroy,
};

/* ---- lifetime --------------------------------------------------------------------------- */

onyx_status *simdev_create(int pool_mb, onyx_provider **out) {
  simdev *d = onyx_calloc(1, sizeof *d);
  if (!d) return onyx_error_oom();
  d->pool = (size_t)(pool_mb > 0 ? pool_mb : 1024) << 20;
  d->fd = memfd_create("simdev", MFD_CLOEXEC);
  d->dev = d->view = MAP_FAILED;
  if (d->fd < 0 || ftruncate(d->fd, (off_t)d->pool) ||
      (d->dev = mmap(NULL, d->pool, PROT_NONE, MAP_SHARED, d->fd, 0)) == MAP_FAILED ||
      (d->view = mmap(NULL, d->pool, PROT_READ | PROT_WRITE, MAP_SHARED, d->fd, 0)) == MAP_FAILED) {
    int e = errno;
    if (d->dev != MAP_FAILED) munmap(d->dev, d->pool);
    if (d->fd >= 0) close(d->fd);
    onyx_free(d);
    return onyx_error(ONYX_ERR_RUNTIME, "simdev: cannot map the device pool (%s)", strerror(e));
  }
  pthread_mutex_init(&d->mem_lock, NULL);
  pthread_mutex_init(&d->pool_lock, NULL);
  d->free[0] = (sd_range){0, d->pool};
  d->n_free = 1;
  d->alloc = (onyx_allocator){&sd_alloc_iface, "simdev:0", false, d, 0, 0, 0, 0};
  d->prov = (onyx_provider){&sd_iface, "simdev", d, false};
  *out = &d->prov;
  return NULL;
}

void simdev_destroy(onyx_provider *p) {
  if (!p) return;
  simdev *d = dev_of(p);
  for (sd_stream *st = d->all, *next; st; st = next) {
    next = st->next_all;
    pthread_mutex_lock(&st->mu);
    st->quit = true;
    pthread_cond_signal(&st->work);
    pthread_mutex_unlock(&st->mu);
    pthread_join(st->th, NULL);
    onyx_status_free(st->err);
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->work);
    pthread_cond_destroy(&st->idle);
    onyx_free(st);
  }
  munmap(d->dev, d->pool);
  munmap(d->view, d->pool);
  close(d->fd);
  pthread_mutex_destroy(&d->mem_lock);
  pthread_mutex_destroy(&d->pool_lock);
  onyx_free(d);
}

void simdev_fail_alloc_at(onyx_provider *p, int64_t n) { atomic_store(&dev_of(p)->fail_at, n > 0 ? n : 0); }
void simdev_lose_device_at(onyx_provider *p, int64_t n) { atomic_store(&dev_of(p)->lose_at, n > 0 ? n : 0); }
void simdev_set_kernel_delay(onyx_provider *p, int us) { atomic_store(&dev_of(p)->delay_us, us); }

void simdev_get_counts(onyx_provider *p, simdev_counts *out) {
  simdev *d = dev_of(p);
  *out = (simdev_counts){atomic_load(&d->kernels),    atomic_load(&d->copies_in),      atomic_load(&d->copies_out),
                         atomic_load(&d->copies_on),  atomic_load(&d->alloc.allocs),   atomic_load(&d->alloc.frees),
                         atomic_load(&d->bytes_in),   atomic_load(&d->bytes_out)};
}
