/* Socket syscalls. Every socket is created non-blocking and close-on-exec;
 * every send uses MSG_NOSIGNAL so a reset peer is an EPIPE, never a SIGPIPE. */
#include "common.h"
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#define RET(r) return el_int(env, (r) < 0 ? -errno : (r))

static int parse_addr(const char *host, int32_t port, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof(*ss));
  if (strchr(host, ':')) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) return -EINVAL;
    *len = sizeof(*a);
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &a->sin_addr) != 1) return -EINVAL;
    *len = sizeof(*a);
  }
  return 0;
}

static napi_value addr_to_js(napi_env env, struct sockaddr_storage *ss) {
  char buf[INET6_ADDRSTRLEN] = {0};
  int port = 0;
  const char *fam = "IPv4";
  if (ss->ss_family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof(buf));
    port = ntohs(a->sin6_port);
    fam = "IPv6";
  } else if (ss->ss_family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &a->sin_addr, buf, sizeof(buf));
    port = ntohs(a->sin_port);
  } else {
    fam = "unknown";
  }
  napi_value obj, v;
  napi_create_object(env, &obj);
  napi_create_string_utf8(env, buf, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, "address", v);
  napi_set_named_property(env, obj, "port", el_int(env, port));
  napi_create_string_utf8(env, fam, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, "family", v);
  return obj;
}

/* socket(family) -> fd: a non-blocking, close-on-exec TCP socket. */
static napi_value js_socket(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t family;
  if (el_arg_i32(env, argv[0], &family)) return NULL;
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  RET(fd);
}

static napi_value js_setsockopt(napi_env env, napi_callback_info info) {
  ARGS(4);
  int32_t fd, level, opt, val;
  if (el_arg_i32(env, argv[0], &fd) || el_arg_i32(env, argv[1], &level) ||
      el_arg_i32(env, argv[2], &opt) || el_arg_i32(env, argv[3], &val)) return NULL;
  int r = setsockopt(fd, level, opt, &val, sizeof(val));
  RET(r);
}

static napi_value js_getsockopt(napi_env env, napi_callback_info info) {
  ARGS(3);
  int32_t fd, level, opt;
  if (el_arg_i32(env, argv[0], &fd) || el_arg_i32(env, argv[1], &level) ||
      el_arg_i32(env, argv[2], &opt)) return NULL;
  int val = 0;
  socklen_t len = sizeof(val);
  int r = getsockopt(fd, level, opt, &val, &len);
  if (r < 0) return el_int(env, -errno);
  return el_int(env, val);
}

/* SO_LINGER {on, 0}: close() then sends RST. Used by tests and forced aborts. */
static napi_value js_setLingerZero(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t fd;
  if (el_arg_i32(env, argv[0], &fd)) return NULL;
  struct linger l = {1, 0};
  int r = setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  RET(r);
}

/* bind and connect take the same (fd, host, port) arguments. */
static napi_value addr_call(napi_env env, napi_callback_info info,
                            int (*fn)(int, const struct sockaddr *, socklen_t)) {
  ARGS(3);
  int32_t fd, port;
  char host[INET6_ADDRSTRLEN + 8];
  if (el_arg_i32(env, argv[0], &fd) || el_arg_str(env, argv[1], host, sizeof(host)) ||
      el_arg_i32(env, argv[2], &port)) return NULL;
  struct sockaddr_storage ss;
  socklen_t len;
  int pr = parse_addr(host, port, &ss, &len);
  if (pr < 0) return el_int(env, pr);
  int r = fn(fd, (struct sockaddr *)&ss, len);
  RET(r);
}

static napi_value js_bind(napi_env env, napi_callback_info info) { return addr_call(env, info, bind); }

static napi_value js_listen(napi_env env, napi_callback_info info) {
  ARGS(2);
  int32_t fd, backlog;
  if (el_arg_i32(env, argv[0], &fd) || el_arg_i32(env, argv[1], &backlog)) return NULL;
  int r = listen(fd, backlog);
  RET(r);
}

/* accept4(fd) -> new fd (non-blocking, close-on-exec) or -errno. */
static napi_value js_accept(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t fd;
  if (el_arg_i32(env, argv[0], &fd)) return NULL;
  int r = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  RET(r);
}

/* connect(fd, host, port) -> 0, or -EINPROGRESS for a connect under way. */
static napi_value js_connect(napi_env env, napi_callback_info info) { return addr_call(env, info, connect); }

/* recv and send take (fd, buf, offset, length); the range is checked against the buffer. */
static int io_args(napi_env env, napi_callback_info info, int32_t *fd, uint8_t **at, size_t *n) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) {
    napi_throw_type_error(env, "EDGELOOP_ARGS", "expected (fd, buffer, offset, length)");
    return -1;
  }
  int32_t off, len;
  uint8_t *data;
  size_t size;
  if (el_arg_i32(env, argv[0], fd) || el_arg_bytes(env, argv[1], &data, &size) ||
      el_arg_i32(env, argv[2], &off) || el_arg_i32(env, argv[3], &len)) return -1;
  if (off < 0 || len < 0 || (size_t)off + (size_t)len > size) return 1;
  *at = data + off;
  *n = (size_t)len;
  return 0;
}

/* recv(fd, buf, offset, length) -> bytes read, 0 at EOF, or -errno. */
static napi_value js_recv(napi_env env, napi_callback_info info) {
  int32_t fd;
  uint8_t *at;
  size_t n;
  int a = io_args(env, info, &fd, &at, &n);
  if (a < 0) return NULL;
  if (a > 0) return el_int(env, -EFAULT);
  ssize_t r = recv(fd, at, n, 0);
  RET(r);
}

/* send(fd, buf, offset, length) -> bytes written or -errno (EPIPE, never SIGPIPE). */
static napi_value js_send(napi_env env, napi_callback_info info) {
  int32_t fd;
  uint8_t *at;
  size_t n;
  int a = io_args(env, info, &fd, &at, &n);
  if (a < 0) return NULL;
  if (a > 0) return el_int(env, -EFAULT);
  ssize_t r = send(fd, at, n, MSG_NOSIGNAL);
  RET(r);
}

/* The reads or sends of one loop turn in one crossing: ops[4i..4i+3] = fd, offset into
 * arena, length, result (bytes, 0 at EOF for a read, or -errno; sends use MSG_NOSIGNAL).
 * Once a send to an fd comes back short, later sends to the same fd are not tried (result
 * -EAGAIN): they would overtake the unsent rest. */
static napi_value batch_io(napi_env env, napi_callback_info info, int sending) {
  ARGS(3);
  uint8_t *opsb, *arena;
  size_t opsn, arenan;
  int32_t count;
  if (el_arg_bytes(env, argv[0], &opsb, &opsn) || el_arg_i32(env, argv[1], &count) ||
      el_arg_bytes(env, argv[2], &arena, &arenan))
    return NULL;
  int32_t *ops = (int32_t *)opsb;
  if (count < 0 || (size_t)count * 4 * sizeof(int32_t) > opsn) {
    napi_throw_range_error(env, "EDGELOOP_ARGS", "batch count out of range of the ops table");
    return NULL;
  }
  int short_seen = 0;
  for (int32_t i = 0; i < count; i++) {
    int32_t *o = ops + 4 * i;
    if (o[1] < 0 || o[2] < 0 || (size_t)o[1] + (size_t)o[2] > arenan) {
      o[3] = -EFAULT;
      short_seen = 1;
      continue;
    }
    if (sending && short_seen) {
      int blocked = 0;
      for (int32_t j = 0; j < i && !blocked; j++) blocked = ops[4 * j] == o[0] && ops[4 * j + 3] != ops[4 * j + 2];
      if (blocked) {
        o[3] = -EAGAIN;
        continue;
      }
    }
    ssize_t r = sending ? send(o[0], arena + o[1], (size_t)o[2], MSG_NOSIGNAL) : recv(o[0], arena + o[1], (size_t)o[2], 0);
    o[3] = r < 0 ? -errno : (int32_t)r;
    if (o[3] != o[2]) short_seen = 1;
  }
  return NULL;
}

/* recvBatch(ops Int32Array, count, arena) -> undefined: a turn's first reads (ReadBatch). */
static napi_value js_recvBatch(napi_env env, napi_callback_info info) {
  return batch_io(env, info, 0);
}

/* sendBatch(ops Int32Array, count, arena) -> undefined: a turn's gathered writes (SendBatch). */
static napi_value js_sendBatch(napi_env env, napi_callback_info info) {
  return batch_io(env, info, 1);
}

/* writev(fd, [buf, ...]) -> bytes written or -errno; sendmsg with MSG_NOSIGNAL. */
static napi_value js_writev(napi_env env, napi_callback_info info) {
  ARGS(2);
  int32_t fd;
  if (el_arg_i32(env, argv[0], &fd)) return NULL;
  uint32_t count = 0;
  NAPI_CALL(env, napi_get_array_length(env, argv[1], &count));
  if (count > 64) count = 64; /* IOV_MAX is larger; the caller sends the rest next time */
  struct iovec iov[64];
  for (uint32_t i = 0; i < count; i++) {
    napi_value el;
    NAPI_CALL(env, napi_get_element(env, argv[1], i, &el));
    uint8_t *data;
    size_t len;
    if (el_arg_bytes(env, el, &data, &len)) return NULL;
    iov[i].iov_base = data;
    iov[i].iov_len = len;
  }
  struct msghdr msg;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = iov;
  msg.msg_iovlen = count;
  ssize_t r = sendmsg(fd, &msg, MSG_NOSIGNAL);
  RET(r);
}

static napi_value js_shutdown(napi_env env, napi_callback_info info) {
  ARGS(2);
  int32_t fd, how;
  if (el_arg_i32(env, argv[0], &fd) || el_arg_i32(env, argv[1], &how)) return NULL;
  int r = shutdown(fd, how);
  RET(r);
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t fd;
  if (el_arg_i32(env, argv[0], &fd)) return NULL;
  /* Linux releases the fd even when close() reports EINTR: never retry. */
  int r = close(fd);
  RET(r);
}

static napi_value name_common(napi_env env, napi_callback_info info, int peer) {
  ARGS(1);
  int32_t fd;
  if (el_arg_i32(env, argv[0], &fd)) return NULL;
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  memset(&ss, 0, sizeof(ss));
  int r = peer ? getpeername(fd, (struct sockaddr *)&ss, &len)
               : getsockname(fd, (struct sockaddr *)&ss, &len);
  if (r < 0) return el_int(env, -errno);
  return addr_to_js(env, &ss);
}

static napi_value js_getsockname(napi_env env, napi_callback_info info) { return name_common(env, info, 0); }
static napi_value js_getpeername(napi_env env, napi_callback_info info) { return name_common(env, info, 1); }

/* getrlimitNofile() -> [soft, hard] (RLIM_INFINITY as -1). */
static napi_value js_getrlimit(napi_env env, napi_callback_info info) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return el_int(env, -errno);
  napi_value arr;
  napi_create_array_with_length(env, 2, &arr);
  napi_set_element(env, arr, 0, el_int(env, rl.rlim_cur == RLIM_INFINITY ? -1 : (int64_t)rl.rlim_cur));
  napi_set_element(env, arr, 1, el_int(env, rl.rlim_max == RLIM_INFINITY ? -1 : (int64_t)rl.rlim_max));
  return arr;
}

static napi_value js_setrlimit(napi_env env, napi_callback_info info) {
  ARGS(2);
  int64_t soft, hard;
  if (el_arg_i64(env, argv[0], &soft) || el_arg_i64(env, argv[1], &hard)) return NULL;
  struct rlimit rl;
  rl.rlim_cur = soft < 0 ? RLIM_INFINITY : (rlim_t)soft;
  rl.rlim_max = hard < 0 ? RLIM_INFINITY : (rlim_t)hard;
  int r = setrlimit(RLIMIT_NOFILE, &rl);
  RET(r);
}

/* The reserve fd for EMFILE recovery: /dev/null, close-on-exec. */
static napi_value js_openReserve(napi_env env, napi_callback_info info) {
  int r = open("/dev/null", O_RDONLY | O_CLOEXEC);
  RET(r);
}

static napi_value js_gettid(napi_env env, napi_callback_info info) {
  return el_int(env, (int64_t)syscall(SYS_gettid));
}

void el_init_socket(napi_env env, napi_value exports) {
  el_export(env, exports, "socket", js_socket);
  el_export(env, exports, "setsockopt", js_setsockopt);
  el_export(env, exports, "getsockopt", js_getsockopt);
  el_export(env, exports, "setLingerZero", js_setLingerZero);
  el_export(env, exports, "bind", js_bind);
  el_export(env, exports, "listen", js_listen);
  el_export(env, exports, "accept", js_accept);
  el_export(env, exports, "connect", js_connect);
  el_export(env, exports, "recv", js_recv);
  el_export(env, exports, "send", js_send);
  el_export(env, exports, "sendBatch", js_sendBatch);
  el_export(env, exports, "recvBatch", js_recvBatch);
  el_export(env, exports, "writev", js_writev);
  el_export(env, exports, "shutdown", js_shutdown);
  el_export(env, exports, "close", js_close);
  el_export(env, exports, "getsockname", js_getsockname);
  el_export(env, exports, "getpeername", js_getpeername);
  el_export(env, exports, "getrlimitNofile", js_getrlimit);
  el_export(env, exports, "setrlimitNofile", js_setrlimit);
  el_export(env, exports, "openReserve", js_openReserve);
  el_export(env, exports, "gettid", js_gettid);
}
