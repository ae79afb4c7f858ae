/* epoll and eventfd. Events are copied out as int32 pairs [events, token]:
 * the token is the loop's own never-reused channel id, not a pointer and not
 * an fd, so an event for a closed channel can be recognised and dropped. */
#include "common.h"
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

static napi_value js_epollCreate(napi_env env, napi_callback_info info) {
  int r = epoll_create1(EPOLL_CLOEXEC);
  return el_int(env, r < 0 ? -errno : r);
}

/* epollCtl(epfd, op, fd, events, token) -> 0 or -errno. */
static napi_value js_epollCtl(napi_env env, napi_callback_info info) {
  ARGS(5);
  int32_t epfd, op, fd, events, token;
  if (el_arg_i32(env, argv[0], &epfd) || el_arg_i32(env, argv[1], &op) ||
      el_arg_i32(env, argv[2], &fd) || el_arg_i32(env, argv[3], &events) ||
      el_arg_i32(env, argv[4], &token)) return NULL;
  struct epoll_event ev;
  ev.events = (uint32_t)events;
  ev.data.u64 = (uint32_t)token;
  int r = epoll_ctl(epfd, op, fd, &ev);
  return el_int(env, r < 0 ? -errno : 0);
}

int el_epoll_drain(int epfd, int32_t *out, size_t max, int timeout) {
  struct epoll_event evs[256];
  if (max > 256) max = 256;
  int n = epoll_wait(epfd, evs, (int)max, timeout);
  if (n < 0) return -errno;
  for (int i = 0; i < n; i++) {
    out[2 * i] = (int32_t)evs[i].events;
    out[2 * i + 1] = (int32_t)(uint32_t)evs[i].data.u64;
  }
  return n;
}

/* epollWait(epfd, Int32Array out, maxevents, timeoutMs) -> n or -errno.
 * maxevents is clamped to what `out` holds, so the buffer and the count can
 * never disagree (pitfall 2). A loop thread always passes timeout 0. */
static napi_value js_epollWait(napi_env env, napi_callback_info info) {
  ARGS(4);
  int32_t epfd, max, timeout;
  uint8_t *data;
  size_t len;
  if (el_arg_i32(env, argv[0], &epfd) || el_arg_bytes(env, argv[1], &data, &len) ||
      el_arg_i32(env, argv[2], &max) || el_arg_i32(env, argv[3], &timeout)) return NULL;
  size_t cap = len / 8;
  if (max <= 0) return el_int(env, -EINVAL);
  if ((size_t)max > cap) max = (int32_t)cap;
  return el_int(env, el_epoll_drain(epfd, (int32_t *)data, (size_t)max, timeout));
}

static napi_value js_eventfd(napi_env env, napi_callback_info info) {
  int r = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  return el_int(env, r < 0 ? -errno : r);
}

/* eventfdWrite(fd, n): adds n to the counter (wakes the loop watching it). */
static napi_value js_eventfdWrite(napi_env env, napi_callback_info info) {
  ARGS(2);
  int32_t fd, n;
  if (el_arg_i32(env, argv[0], &fd) || el_arg_i32(env, argv[1], &n)) return NULL;
  uint64_t v = (uint64_t)n;
  ssize_t r = write(fd, &v, sizeof(v));
  return el_int(env, r < 0 ? -errno : 0);
}

/* eventfdRead(fd) -> the counter (reset to 0) or -errno (-EAGAIN when 0). */
static napi_value js_eventfdRead(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t fd;
  if (el_arg_i32(env, argv[0], &fd)) return NULL;
  uint64_t v = 0;
  ssize_t r = read(fd, &v, sizeof(v));
  if (r < 0) return el_int(env, -errno);
  return el_int(env, (int64_t)v);
}

void el_init_epoll(napi_env env, napi_value exports) {
  el_export(env, exports, "epollCreate", js_epollCreate);
  el_export(env, exports, "epollCtl", js_epollCtl);
  el_export(env, exports, "epollWait", js_epollWait);
  el_export(env, exports, "eventfd", js_eventfd);
  el_export(env, exports, "eventfdWrite", js_eventfdWrite);
  el_export(env, exports, "eventfdRead", js_eventfdRead);
}
