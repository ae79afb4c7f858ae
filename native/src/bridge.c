/* The libuv bridge: the current thread's libuv loop watches an epoll fd with a
 * uv_poll_t. When it turns readable, the ready events are copied into the
 * caller's Int32Array with a zero-timeout epoll_wait and one JS callback runs
 * (through napi_make_callback, so promise jobs run right after it). No JS
 * thread ever blocks in epoll_wait; timers, promises and Node I/O keep going.
 * Draining here saves one JS->C crossing per wakeup; what to do with the
 * events is decided in TS. */
#include "common.h"
#include <stdlib.h>
#include <uv.h>

int el_epoll_drain(int epfd, int32_t *out, size_t max, int timeout);

typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref cb;
  napi_ref buf;
  napi_async_context ctx;
  int epfd;
  int max;
  int closed;
} el_watch;

static void on_closed(uv_handle_t *h) { free(h->data); }

static void watch_close(el_watch *w) {
  if (w->closed) return;
  w->closed = 1;
  uv_poll_stop(&w->poll);
  if (w->cb) { napi_delete_reference(w->env, w->cb); w->cb = NULL; }
  if (w->buf) { napi_delete_reference(w->env, w->buf); w->buf = NULL; }
  if (w->ctx) { napi_async_destroy(w->env, w->ctx); w->ctx = NULL; }
  uv_close((uv_handle_t *)&w->poll, on_closed);
}

static void cleanup_hook(void *arg) {
  el_watch *w = (el_watch *)arg;
  if (!w->closed) {
    w->closed = 1;
    uv_poll_stop(&w->poll);
    uv_close((uv_handle_t *)&w->poll, on_closed);
  }
}

static void on_poll(uv_poll_t *h, int status, int events) {
  el_watch *w = (el_watch *)h->data;
  if (w->closed) return;
  napi_env env = w->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value buf, cb, recv, argv[1], result;
  int n;
  if (napi_get_reference_value(env, w->buf, &buf) != napi_ok || buf == NULL) goto out;
  {
    uint8_t *data;
    size_t len;
    napi_typedarray_type type;
    size_t length;
    void *ptr;
    napi_value ab;
    size_t off;
    if (napi_get_typedarray_info(env, buf, &type, &length, &ptr, &ab, &off) != napi_ok) goto out;
    data = (uint8_t *)ptr;
    len = length * 4;
    size_t cap = len / 8;
    n = el_epoll_drain(w->epfd, (int32_t *)data, (size_t)w->max < cap ? (size_t)w->max : cap, 0);
  }
  if (n == 0 || n == -EINTR) goto out;
  napi_get_reference_value(env, w->cb, &cb);
  napi_get_global(env, &recv);
  argv[0] = el_int(env, n);
  if (napi_make_callback(env, w->ctx, recv, cb, 1, argv, &result) == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
out:
  napi_close_handle_scope(env, scope);
}

/* watch(epfd, Int32Array events, maxevents, callback(n)) -> handle */
static napi_value js_watch(napi_env env, napi_callback_info info) {
  ARGS(4);
  int32_t epfd, max;
  if (el_arg_i32(env, argv[0], &epfd) || el_arg_i32(env, argv[2], &max)) return NULL;
  napi_typedarray_type type;
  size_t length;
  void *ptr;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, argv[1], &type, &length, &ptr, &ab, &off) != napi_ok ||
      type != napi_int32_array) {
    napi_throw_type_error(env, "EDGELOOP_ARGS", "watch() needs an Int32Array for events");
    return NULL;
  }
  if (max <= 0 || (size_t)max * 2 > length) {
    napi_throw_range_error(env, "EDGELOOP_ARGS", "maxevents must fit the events array");
    return NULL;
  }
  uv_loop_t *loop;
  NAPI_CALL(env, napi_get_uv_event_loop(env, &loop));
  el_watch *w = calloc(1, sizeof(el_watch));
  if (!w) { napi_throw_error(env, "ENOMEM", "out of memory"); return NULL; }
  w->env = env;
  w->epfd = epfd;
  w->max = max;
  int r = uv_poll_init(loop, &w->poll, epfd);
  if (r < 0) { free(w); return el_int(env, r); }
  w->poll.data = w;
  napi_create_reference(env, argv[3], 1, &w->cb);
  napi_create_reference(env, argv[1], 1, &w->buf);
  napi_value name;
  napi_create_string_utf8(env, "edgeloop.EventLoop", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &w->ctx);
  r = uv_poll_start(&w->poll, UV_READABLE, on_poll);
  if (r < 0) { watch_close(w); return el_int(env, r); }
  napi_add_env_cleanup_hook(env, cleanup_hook, w);
  napi_value ext;
  NAPI_CALL(env, napi_create_external(env, w, NULL, NULL, &ext));
  return ext;
}

static el_watch *get_watch(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || !p) {
    napi_throw_type_error(env, "EDGELOOP_ARGS", "not a watch handle");
    return NULL;
  }
  return (el_watch *)p;
}

static napi_value js_unwatch(napi_env env, napi_callback_info info) {
  ARGS(1);
  el_watch *w = get_watch(env, argv[0]);
  if (!w) return NULL;
  if (!w->closed) {
    napi_remove_env_cleanup_hook(env, cleanup_hook, w);
    watch_close(w);
  }
  return NULL;
}

/* watchRef(handle, bool): a referenced watch keeps the thread alive. */
static napi_value js_watchRef(napi_env env, napi_callback_info info) {
  ARGS(2);
  el_watch *w = get_watch(env, argv[0]);
  if (!w) return NULL;
  bool on;
  NAPI_CALL(env, napi_get_value_bool(env, argv[1], &on));
  if (!w->closed) {
    if (on) uv_ref((uv_handle_t *)&w->poll);
    else uv_unref((uv_handle_t *)&w->poll);
  }
  return NULL;
}

void el_init_bridge(napi_env env, napi_value exports) {
  el_export(env, exports, "watch", js_watch);
  el_export(env, exports, "unwatch", js_unwatch);
  el_export(env, exports, "watchRef", js_watchRef);
}
