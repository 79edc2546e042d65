/* The native half of the Node binding: a Node-API addon that loads libflagwire with dlopen and
 * hands each ABI 2 call over with the smallest conversion (docs/design.md §2, §8). It decides
 * nothing: statuses and messages go back to JS, where the client's one call helper
 * (lib/client.js) turns them into results and errors.
 *
 * Three things JS cannot do alone, and why they live here rather than in an FFI module:
 * - Blocking calls (flush, shutdown, Profile API lookup) run on libuv's thread pool (napi async
 *   work), so the event loop never waits.
 * - Log lines (docs/design.md §2.4) arrive on flagwire's own threads. They are copied and queued to
 *   the event loop through a thread-safe function in non-blocking mode: a flagwire thread never
 *   waits for JavaScript (a busy loop cannot stall delivery, and close or exit cannot deadlock
 *   against a line in flight). A full queue drops the line and counts it.
 * - The decision record (docs/design.md §2.2) is written by JS into one reusable Buffer whose
 *   address is cached here, so the hot call converts two arguments and nothing else.
 *
 * Written against Node-API 8 (Node >= 12.22 / 14.17 / 16); built by build-native.sh. */
#define NAPI_VERSION 8
#include <node_api.h>

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flagwire.h"

/* Log lines waiting for the event loop, per client. Beyond this they are dropped and counted:
 * debug lines carry whole batches, and a blocked loop must not grow memory without bound. */
#define LOG_QUEUE_MAX 4096

#define CHECK(env, call)                                                       \
  do {                                                                         \
    if ((call) != napi_ok) {                                                   \
      throw_last(env, #call);                                                  \
      return NULL;                                                             \
    }                                                                          \
  } while (0)

static void throw_last(napi_env env, const char *what) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  char msg[256];
  snprintf(msg, sizeof msg, "flagwire native: %s failed: %s", what,
           info && info->error_message ? info->error_message : "unknown error");
  napi_throw_error(env, NULL, msg);
}

/* ---- the library, loaded once per process ------------------------------------------------- */

#define FW_FUNCTIONS(X)                                                         \
  X(flagwire_abi_version) X(flagwire_version) X(flagwire_init)                  \
  X(flagwire_set_log_callback) X(flagwire_set_datafile_json)                    \
  X(flagwire_on_decision_record) X(flagwire_on_notification_json)               \
  X(flagwire_enqueue_json) X(flagwire_profile_lookup) X(flagwire_flush)         \
  X(flagwire_stats) X(flagwire_string_free) X(flagwire_shutdown)

/* Function pointers typed from the checked-in header: a signature change fails to compile. */
static struct {
#define FIELD(name) __typeof__(name) *name;
  FW_FUNCTIONS(FIELD)
#undef FIELD
} fw;
static void *fw_handle;
static pthread_mutex_t fw_load_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- per-environment state (main thread and each worker_thread) ---------------------------- */

typedef struct {
  uint8_t *record;      /* the JS record Buffer's bytes */
  size_t record_len;
  napi_ref record_ref;  /* keeps that Buffer alive while its address is cached */
} Instance;

static void instance_free(napi_env env, void *data, void *hint) {
  (void)hint;
  Instance *inst = data;
  if (inst->record_ref) napi_delete_reference(env, inst->record_ref);
  free(inst);
}

static Instance *instance(napi_env env) {
  void *data = NULL;
  napi_get_instance_data(env, &data);
  return data;
}

/* ---- small conversions ---------------------------------------------------------------------- */

static napi_value js_int(napi_env env, int64_t v) {
  napi_value out = NULL;
  napi_create_int64(env, v, &out);
  return out;
}

/* A string flagwire returned, as a JS string (or null), freed with flagwire_string_free. */
static napi_value take_string(napi_env env, char *s) {
  napi_value out = NULL;
  if (s == NULL) {
    napi_get_null(env, &out);
    return out;
  }
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &out);
  fw.flagwire_string_free(s);
  return out;
}

/* OK and SKIPPED come back as a bare number (the hot path allocates nothing); any other status
 * as [status, message] so the caller sees this call's own message (docs/design.md §2.1). */
static napi_value status_result(napi_env env, FlagwireStatus st, char *err) {
  if (st == FLAGWIRE_STATUS_OK || st == FLAGWIRE_STATUS_SKIPPED) {
    if (err) fw.flagwire_string_free(err);
    return js_int(env, st);
  }
  napi_value arr = NULL;
  napi_create_array_with_length(env, 2, &arr);
  napi_set_element(env, arr, 0, js_int(env, st));
  napi_set_element(env, arr, 1, take_string(env, err));
  return arr;
}

static bool get_client(napi_env env, napi_value v, FlagwireClient **out) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || p == NULL) {
    napi_throw_type_error(env, NULL, "flagwire native: not a client handle");
    return false;
  }
  *out = p;
  return true;
}

static bool get_u32(napi_env env, napi_value v, uint32_t *out) {
  if (napi_get_value_uint32(env, v, out) != napi_ok) {
    napi_throw_type_error(env, NULL, "flagwire native: expected a non-negative integer");
    return false;
  }
  return true;
}

/* A JS string as a malloc'd NUL-terminated UTF-8 copy (free() it). */
static char *copy_string(napi_env env, napi_value v, size_t *out_len) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "flagwire native: expected a string");
    return NULL;
  }
  char *s = malloc(len + 1);
  if (s == NULL) {
    napi_throw_error(env, NULL, "flagwire native: out of memory");
    return NULL;
  }
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  if (out_len) *out_len = len;
  return s;
}

#define ARGS(n)                                                                \
  size_t argc = (n);                                                           \
  napi_value argv[(n) > 0 ? (n) : 1];                                          \
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));            \
  if (argc < (n)) {                                                            \
    napi_throw_type_error(env, NULL, "flagwire native: missing argument");    \
    return NULL;                                                               \
  }

/* ---- load(path) -> {version, abi} ----------------------------------------------------------- */

static napi_value Load(napi_env env, napi_callback_info info) {
  ARGS(1);
  char *path = copy_string(env, argv[0], NULL);
  if (!path) return NULL;
  char msg[1024] = "";
  pthread_mutex_lock(&fw_load_lock);
  if (fw_handle == NULL) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
      snprintf(msg, sizeof msg, "cannot load %s: %s", path, dlerror());
    } else {
#define LOOKUP(name)                                                           \
  if (!msg[0] && (fw.name = (__typeof__(name) *)dlsym(h, #name)) == NULL)      \
    snprintf(msg, sizeof msg, "%s is not a flagwire library: no symbol %s", path, #name);
      FW_FUNCTIONS(LOOKUP)
#undef LOOKUP
      /* The pointers are typed from this header: another ABI must not be called through them. */
      if (!msg[0] && fw.flagwire_abi_version() != FLAGWIRE_ABI_VERSION)
        snprintf(msg, sizeof msg, "%s has C ABI version %u; this package needs %d", path,
                 (unsigned)fw.flagwire_abi_version(), FLAGWIRE_ABI_VERSION);
      if (msg[0]) {
        memset(&fw, 0, sizeof fw);
        dlclose(h);
      } else {
        fw_handle = h;
      }
    }
  }
  pthread_mutex_unlock(&fw_load_lock);
  free(path);
  if (msg[0]) {
    napi_throw_error(env, "FLAGWIRE_LOAD", msg);
    return NULL;
  }
  napi_value out, version;
  CHECK(env, napi_create_object(env, &out));
  CHECK(env, napi_create_string_utf8(env, fw.flagwire_version(), NAPI_AUTO_LENGTH, &version));
  CHECK(env, napi_set_named_property(env, out, "version", version));
  CHECK(env, napi_set_named_property(env, out, "abi", js_int(env, fw.flagwire_abi_version())));
  return out;
}

/* ---- init(configJson) -> handle | [status, message] ----------------------------------------- */

static napi_value Init(napi_env env, napi_callback_info info) {
  ARGS(1);
  char *config = copy_string(env, argv[0], NULL);
  if (!config) return NULL;
  FlagwireClient *client = NULL;
  char *err = NULL;
  FlagwireStatus st = fw.flagwire_init(config, &client, &err);
  free(config);
  if (st != FLAGWIRE_STATUS_OK) return status_result(env, st, err);
  napi_value handle;
  /* No finalizer: the client is freed by shutdown only (a GC'd handle must not free a client
   * whose sender may still be delivering). */
  CHECK(env, napi_create_external(env, client, NULL, NULL, &handle));
  return handle;
}

/* ---- the record buffer and the hot path ------------------------------------------------------ */

/* setRecordBuffer(buffer): caches the address of the Buffer JS encodes decision records into. */
static napi_value SetRecordBuffer(napi_env env, napi_callback_info info) {
  ARGS(1);
  Instance *inst = instance(env);
  void *data = NULL;
  size_t len = 0;
  CHECK(env, napi_get_buffer_info(env, argv[0], &data, &len));
  napi_ref ref = NULL;
  CHECK(env, napi_create_reference(env, argv[0], 1, &ref));
  if (inst->record_ref) napi_delete_reference(env, inst->record_ref);
  inst->record_ref = ref;
  inst->record = data;
  inst->record_len = len;
  return NULL;
}

/* onDecisionRecord(handle, len) -> status | [status, message]: the record JS just encoded. */
static napi_value OnDecisionRecord(napi_env env, napi_callback_info info) {
  ARGS(2);
  FlagwireClient *client;
  uint32_t len;
  if (!get_client(env, argv[0], &client) || !get_u32(env, argv[1], &len)) return NULL;
  Instance *inst = instance(env);
  if (inst->record == NULL || len > inst->record_len) {
    napi_throw_range_error(env, NULL, "flagwire native: record length beyond the record buffer");
    return NULL;
  }
  char *err = NULL;
  FlagwireStatus st = fw.flagwire_on_decision_record(client, inst->record, len, &err);
  return status_result(env, st, err); /* after the call: argument order is unspecified */
}

/* ---- JSON inputs: (handle, buffer, len) -> status | [status, message] ------------------------ */

typedef FlagwireStatus (*json_fn)(FlagwireClient *, const uint8_t *, size_t, char **);

static napi_value json_call(napi_env env, napi_callback_info info, json_fn fn) {
  ARGS(3);
  FlagwireClient *client;
  uint32_t len;
  void *data = NULL;
  size_t cap = 0;
  if (!get_client(env, argv[0], &client) || !get_u32(env, argv[2], &len)) return NULL;
  CHECK(env, napi_get_buffer_info(env, argv[1], &data, &cap));
  if (len > cap) {
    napi_throw_range_error(env, NULL, "flagwire native: length beyond the buffer");
    return NULL;
  }
  /* A zero-length Buffer may have a NULL address; the ABI reads that as NULL_ARGUMENT. */
  static const uint8_t empty[1];
  char *err = NULL;
  FlagwireStatus st = fn(client, data ? data : empty, len, &err);
  return status_result(env, st, err);
}

static napi_value SetDatafileJson(napi_env env, napi_callback_info info) {
  return json_call(env, info, fw.flagwire_set_datafile_json);
}
static napi_value OnNotificationJson(napi_env env, napi_callback_info info) {
  return json_call(env, info, fw.flagwire_on_notification_json);
}
static napi_value EnqueueJson(napi_env env, napi_callback_info info) {
  return json_call(env, info, fw.flagwire_enqueue_json);
}

/* stats(handle) -> JSON text */
static napi_value Stats(napi_env env, napi_callback_info info) {
  ARGS(1);
  FlagwireClient *client;
  if (!get_client(env, argv[0], &client)) return NULL;
  return take_string(env, fw.flagwire_stats(client));
}

/* flushSync(handle, timeoutMs) -> status. Blocks the calling thread: only for the process's
 * 'exit' event, where no event loop is left to wait on. */
static napi_value FlushSync(napi_env env, napi_callback_info info) {
  ARGS(2);
  FlagwireClient *client;
  uint32_t timeout;
  if (!get_client(env, argv[0], &client) || !get_u32(env, argv[1], &timeout)) return NULL;
  return js_int(env, fw.flagwire_flush(client, timeout));
}

/* ---- blocking calls on the thread pool: flush, shutdown, profile lookup ---------------------- */

typedef enum { OP_FLUSH, OP_SHUTDOWN, OP_PROFILE } OpKind;

typedef struct {
  OpKind kind;
  FlagwireClient *client;
  uint32_t timeout_ms;
  FlagwireProfileField field;
  char *identifier;
  size_t identifier_len;
  FlagwireStatus status;
  char *value;
  char *error;
  napi_deferred deferred;
  napi_async_work work;
} Op;

static void op_execute(napi_env env, void *data) {
  (void)env; /* runs on a pool thread: no JS here */
  Op *op = data;
  switch (op->kind) {
    case OP_FLUSH:
      op->status = fw.flagwire_flush(op->client, op->timeout_ms);
      break;
    case OP_SHUTDOWN:
      op->status = fw.flagwire_shutdown(op->client, op->timeout_ms);
      break;
    case OP_PROFILE:
      op->status = fw.flagwire_profile_lookup(op->client, op->field, (const uint8_t *)op->identifier,
                                              op->identifier_len, &op->value, &op->error);
      break;
  }
}

/* Resolves with the status, or for a lookup with [status, value, message]. */
static void op_complete(napi_env env, napi_status status, void *data) {
  Op *op = data;
  napi_value result = NULL;
  if (status != napi_ok) {
    napi_value msg;
    napi_create_string_utf8(env, "flagwire native: blocking call cancelled", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &result);
    napi_reject_deferred(env, op->deferred, result);
  } else {
    if (op->kind == OP_PROFILE) {
      napi_create_array_with_length(env, 3, &result);
      napi_set_element(env, result, 0, js_int(env, op->status));
      napi_set_element(env, result, 1, take_string(env, op->value));
      napi_set_element(env, result, 2, take_string(env, op->error));
      op->value = op->error = NULL;
    } else {
      result = js_int(env, op->status);
    }
    napi_resolve_deferred(env, op->deferred, result);
  }
  napi_delete_async_work(env, op->work);
  free(op->identifier);
  free(op);
}

static napi_value queue_op(napi_env env, Op *op) {
  napi_value promise, name;
  if (napi_create_promise(env, &op->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "flagwire", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, op_execute, op_complete, op, &op->work) != napi_ok ||
      napi_queue_async_work(env, op->work) != napi_ok) {
    /* Only reachable when Node-API itself fails; the promise (if any) is left unsettled. */
    free(op->identifier);
    free(op);
    throw_last(env, "queueing a blocking call");
    return NULL;
  }
  return promise;
}

static Op *new_op(napi_env env, OpKind kind) {
  Op *op = calloc(1, sizeof *op);
  if (op == NULL) napi_throw_error(env, NULL, "flagwire native: out of memory");
  else op->kind = kind;
  return op;
}

/* flush(handle, timeoutMs) / shutdown(handle, timeoutMs) -> Promise<status> */
static napi_value timed_op(napi_env env, napi_callback_info info, OpKind kind) {
  ARGS(2);
  FlagwireClient *client;
  uint32_t timeout;
  if (!get_client(env, argv[0], &client) || !get_u32(env, argv[1], &timeout)) return NULL;
  Op *op = new_op(env, kind);
  if (!op) return NULL;
  op->client = client;
  op->timeout_ms = timeout;
  return queue_op(env, op);
}
static napi_value Flush(napi_env env, napi_callback_info info) { return timed_op(env, info, OP_FLUSH); }
static napi_value Shutdown(napi_env env, napi_callback_info info) { return timed_op(env, info, OP_SHUTDOWN); }

/* profileLookup(handle, field, identifier) -> Promise<[status, value, message]> */
static napi_value ProfileLookup(napi_env env, napi_callback_info info) {
  ARGS(3);
  FlagwireClient *client;
  uint32_t field;
  if (!get_client(env, argv[0], &client) || !get_u32(env, argv[1], &field)) return NULL;
  Op *op = new_op(env, OP_PROFILE);
  if (!op) return NULL;
  op->client = client;
  op->field = (FlagwireProfileField)field;
  op->identifier = copy_string(env, argv[2], &op->identifier_len);
  if (!op->identifier) {
    free(op);
    return NULL;
  }
  return queue_op(env, op);
}

/* ---- log lines: flagwire threads -> event loop ------------------------------------------------ */

/* One per client with a JS logger. Freed only after the client is shut down (the core then never
 * calls the callback again) and every queued line was delivered, or leaked at process exit. */
typedef struct {
  pthread_mutex_t lock; /* orders trampoline calls against close / env teardown */
  bool closed;          /* no more napi calls: released, or the environment is going away */
  napi_threadsafe_function tsfn;
  bool core_done;       /* the core will never call the trampoline again: freeing is safe */
  uint64_t dropped;     /* lines not delivered: queue full, or after close */
  napi_deferred released; /* resolved when the last queued line was delivered */
} LogSink;

typedef struct {
  int level;
  size_t len;
  char text[];
} LogLine;

/* The FlagwireLogCallback: copies the line and queues it without waiting. Never calls JS. */
static void log_trampoline(void *user_data, FlagwireLogLevel level, const char *message, size_t len) {
  LogSink *sink = user_data;
  LogLine *line = malloc(sizeof *line + len);
  pthread_mutex_lock(&sink->lock);
  bool queued = false;
  if (line && !sink->closed) {
    line->level = (int)level;
    line->len = len;
    memcpy(line->text, message, len);
    queued = napi_call_threadsafe_function(sink->tsfn, line, napi_tsfn_nonblocking) == napi_ok;
  }
  if (!queued) sink->dropped++;
  pthread_mutex_unlock(&sink->lock);
  if (!queued) free(line);
}

/* On the event loop: calls the JS dispatcher(level, message). lib/ wraps the user's onLog so it
 * never throws; anything that still does is cleared here rather than left pending. */
static void log_deliver(napi_env env, napi_value js_fn, void *context, void *data) {
  (void)context;
  LogLine *line = data;
  if (env != NULL && js_fn != NULL) {
    napi_value undefined, args[2];
    napi_get_undefined(env, &undefined);
    args[0] = js_int(env, line->level);
    if (napi_create_string_utf8(env, line->text, line->len, &args[1]) == napi_ok) {
      if (napi_call_function(env, undefined, js_fn, 2, args, NULL) == napi_pending_exception) {
        napi_value ignored;
        napi_get_and_clear_last_exception(env, &ignored);
      }
    }
  }
  free(line);
}

static void log_env_teardown(void *arg) {
  LogSink *sink = arg;
  pthread_mutex_lock(&sink->lock);
  sink->closed = true;
  pthread_mutex_unlock(&sink->lock);
}

/* Runs once the thread-safe function is released and its queue is empty, or when the
 * environment is torn down (then the client may still be running: the sink stays allocated,
 * closed, so a late line from a flagwire thread is dropped instead of touching freed memory). */
static void log_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  LogSink *sink = data;
  napi_remove_env_cleanup_hook(env, log_env_teardown, sink);
  pthread_mutex_lock(&sink->lock);
  sink->closed = true;
  bool core_done = sink->core_done;
  pthread_mutex_unlock(&sink->lock);
  if (sink->released) {
    napi_value dropped;
    napi_create_double(env, (double)sink->dropped, &dropped);
    napi_resolve_deferred(env, sink->released, dropped);
    sink->released = NULL;
  }
  if (core_done) {
    pthread_mutex_destroy(&sink->lock);
    free(sink);
  }
}

/* setLogger(handle, dispatcher) -> sink: routes the client's lines to dispatcher(level, text). */
static napi_value SetLogger(napi_env env, napi_callback_info info) {
  ARGS(2);
  FlagwireClient *client;
  if (!get_client(env, argv[0], &client)) return NULL;
  LogSink *sink = calloc(1, sizeof *sink);
  if (!sink) {
    napi_throw_error(env, NULL, "flagwire native: out of memory");
    return NULL;
  }
  pthread_mutex_init(&sink->lock, NULL);
  napi_value name;
  CHECK(env, napi_create_string_utf8(env, "flagwire log", NAPI_AUTO_LENGTH, &name));
  if (napi_create_threadsafe_function(env, argv[1], NULL, name, LOG_QUEUE_MAX, 1, sink, log_finalize,
                                      NULL, log_deliver, &sink->tsfn) != napi_ok) {
    pthread_mutex_destroy(&sink->lock);
    free(sink);
    throw_last(env, "napi_create_threadsafe_function");
    return NULL;
  }
  /* Pending log lines never keep the process alive. */
  napi_unref_threadsafe_function(env, sink->tsfn);
  napi_add_env_cleanup_hook(env, log_env_teardown, sink);
  FlagwireStatus st = fw.flagwire_set_log_callback(client, log_trampoline, sink);
  if (st != FLAGWIRE_STATUS_OK) {
    /* The core did not take it: nothing can call the trampoline, so release at once. */
    pthread_mutex_lock(&sink->lock);
    sink->closed = sink->core_done = true;
    pthread_mutex_unlock(&sink->lock);
    napi_release_threadsafe_function(sink->tsfn, napi_tsfn_release);
    return js_int(env, st);
  }
  napi_value out;
  CHECK(env, napi_create_external(env, sink, NULL, NULL, &out));
  return out;
}

/* logDropped(sink) -> lines dropped so far */
static napi_value LogDropped(napi_env env, napi_callback_info info) {
  ARGS(1);
  void *p = NULL;
  CHECK(env, napi_get_value_external(env, argv[0], &p));
  LogSink *sink = p;
  pthread_mutex_lock(&sink->lock);
  double n = (double)sink->dropped;
  pthread_mutex_unlock(&sink->lock);
  napi_value out;
  CHECK(env, napi_create_double(env, n, &out));
  return out;
}

/* releaseLogger(sink) -> Promise<dropped>: call only after shutdown returned (the core will not
 * call the trampoline again). Resolves once every queued line was delivered. */
static napi_value ReleaseLogger(napi_env env, napi_callback_info info) {
  ARGS(1);
  void *p = NULL;
  CHECK(env, napi_get_value_external(env, argv[0], &p));
  LogSink *sink = p;
  napi_value promise;
  CHECK(env, napi_create_promise(env, &sink->released, &promise));
  pthread_mutex_lock(&sink->lock);
  sink->closed = sink->core_done = true;
  pthread_mutex_unlock(&sink->lock);
  napi_release_threadsafe_function(sink->tsfn, napi_tsfn_release);
  return promise;
}

/* logToStderr(handle) -> status: the core's stderr fallback, for the process's 'exit' event
 * (no loop left to deliver to). Waits for lines being handed over, which never block. */
static napi_value LogToStderr(napi_env env, napi_callback_info info) {
  ARGS(1);
  FlagwireClient *client;
  if (!get_client(env, argv[0], &client)) return NULL;
  return js_int(env, fw.flagwire_set_log_callback(client, NULL, NULL));
}

/* ---- module ------------------------------------------------------------------------------------ */

NAPI_MODULE_INIT() {
  Instance *inst = calloc(1, sizeof *inst);
  if (!inst || napi_set_instance_data(env, inst, instance_free, NULL) != napi_ok) {
    free(inst);
    napi_throw_error(env, NULL, "flagwire native: cannot set instance data");
    return NULL;
  }
  static const struct {
    const char *name;
    napi_callback fn;
  } exports_table[] = {
      {"load", Load},
      {"init", Init},
      {"setRecordBuffer", SetRecordBuffer},
      {"onDecisionRecord", OnDecisionRecord},
      {"onNotificationJson", OnNotificationJson},
      {"setDatafileJson", SetDatafileJson},
      {"enqueueJson", EnqueueJson},
      {"stats", Stats},
      {"flush", Flush},
      {"flushSync", FlushSync},
      {"shutdown", Shutdown},
      {"profileLookup", ProfileLookup},
      {"setLogger", SetLogger},
      {"logDropped", LogDropped},
      {"releaseLogger", ReleaseLogger},
      {"logToStderr", LogToStderr},
  };
  for (size_t i = 0; i < sizeof exports_table / sizeof exports_table[0]; i++) {
    napi_value fn;
    if (napi_create_function(env, exports_table[i].name, NAPI_AUTO_LENGTH, exports_table[i].fn, NULL, &fn) != napi_ok ||
        napi_set_named_property(env, exports, exports_table[i].name, fn) != napi_ok) {
      throw_last(env, "exporting functions");
      return NULL;
    }
  }
  return exports;
}
