/* AF_UNIX sockets and descriptor passing (SCM_RIGHTS), for handing listening
 * sockets from one process to the next, and classic BPF attachment
 * (SO_ATTACH_FILTER, SO_ATTACH_REUSEPORT_CBPF). Thin wrappers: -errno on failure. */
#include "common.h"
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <linux/filter.h>

#define RET(r) return el_int(env, (r) < 0 ? -errno : (r))
#define MAX_FDS 64

/* unixSocket() -> fd: a non-blocking, close-on-exec AF_UNIX stream socket. */
static napi_value js_unixSocket(napi_env env, napi_callback_info info) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  RET(fd);
}

static napi_value unix_call(napi_env env, napi_callback_info info,
                            int (*fn)(int, const struct sockaddr *, socklen_t)) {
  ARGS(2);
  int32_t fd;
  struct sockaddr_un a;
  memset(&a, 0, sizeof(a));
  a.sun_family = AF_UNIX;
  char path[4096];
  if (el_arg_i32(env, argv[0], &fd) || el_arg_str(env, argv[1], path, sizeof(path))) return NULL;
  size_t n = strlen(path);
  if (n == 0) return el_int(env, -EINVAL);
  if (n >= sizeof(a.sun_path)) return el_int(env, -ENAMETOOLONG);
  memcpy(a.sun_path, path, n);
  int r = fn(fd, (struct sockaddr *)&a, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1));
  RET(r);
}

/* unixBind(fd, path) / unixConnect(fd, path) -> 0 or -errno (ENAMETOOLONG past 107 bytes). */
static napi_value js_unixBind(napi_env env, napi_callback_info info) { return unix_call(env, info, bind); }
static napi_value js_unixConnect(napi_env env, napi_callback_info info) { return unix_call(env, info, connect); }

/* sendFds(fd, bytes, [fd, ...]) -> bytes sent or -errno; the fds ride with the first byte. */
static napi_value js_sendFds(napi_env env, napi_callback_info info) {
  ARGS(3);
  int32_t fd;
  uint8_t *data;
  size_t len;
  if (el_arg_i32(env, argv[0], &fd) || el_arg_bytes(env, argv[1], &data, &len)) return NULL;
  uint32_t count = 0;
  NAPI_CALL(env, napi_get_array_length(env, argv[2], &count));
  if (count > MAX_FDS) return el_int(env, -E2BIG);
  if (len == 0) return el_int(env, -EINVAL); /* ancillary data needs at least one byte */
  int fds[MAX_FDS];
  for (uint32_t i = 0; i < count; i++) {
    napi_value el;
    NAPI_CALL(env, napi_get_element(env, argv[2], i, &el));
    if (el_arg_i32(env, el, &fds[i])) return NULL;
  }
  struct iovec iov = {data, len};
  union {
    char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
    struct cmsghdr align;
  } ctl;
  memset(&ctl, 0, sizeof(ctl));
  struct msghdr msg;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (count > 0) {
    msg.msg_control = ctl.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * count);
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * count);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * count);
  }
  ssize_t r = sendmsg(fd, &msg, MSG_NOSIGNAL);
  RET(r);
}

/* recvFds(fd, buf, offset, length) -> { bytes, fds: [...], truncated } or -errno.
 * Received fds are close-on-exec; `truncated` (MSG_CTRUNC) means some were dropped by the kernel. */
static napi_value js_recvFds(napi_env env, napi_callback_info info) {
  ARGS(4);
  int32_t fd, off, len;
  uint8_t *data;
  size_t size;
  if (el_arg_i32(env, argv[0], &fd) || el_arg_bytes(env, argv[1], &data, &size) ||
      el_arg_i32(env, argv[2], &off) || el_arg_i32(env, argv[3], &len)) return NULL;
  if (off < 0 || len < 0 || (size_t)off + (size_t)len > size) return el_int(env, -EFAULT);
  struct iovec iov = {data + off, (size_t)len};
  union {
    char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
    struct cmsghdr align;
  } ctl;
  struct msghdr msg;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctl.buf;
  msg.msg_controllen = sizeof(ctl.buf);
  ssize_t r = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
  if (r < 0) return el_int(env, -errno);
  napi_value out, arr;
  NAPI_CALL(env, napi_create_object(env, &out));
  NAPI_CALL(env, napi_create_array(env, &arr));
  uint32_t k = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    int *p = (int *)CMSG_DATA(c);
    for (size_t i = 0; i < n; i++) napi_set_element(env, arr, k++, el_int(env, p[i]));
  }
  napi_set_named_property(env, out, "bytes", el_int(env, r));
  napi_set_named_property(env, out, "fds", arr);
  napi_value t;
  napi_get_boolean(env, (msg.msg_flags & MSG_CTRUNC) != 0, &t);
  napi_set_named_property(env, out, "truncated", t);
  return out;
}

/* attachBpf(fd, optname, program) -> 0 or -errno. program: Uint32Array of
 * instruction pairs [code | jt << 16 | jf << 24, k]; optname SO_ATTACH_FILTER
 * (this socket's packets) or SO_ATTACH_REUSEPORT_CBPF (its reuseport group's steering). */
static napi_value js_attachBpf(napi_env env, napi_callback_info info) {
  ARGS(3);
  int32_t fd, opt;
  uint8_t *data;
  size_t len;
  if (el_arg_i32(env, argv[0], &fd) || el_arg_i32(env, argv[1], &opt) ||
      el_arg_bytes(env, argv[2], &data, &len)) return NULL;
  size_t n = len / 8;
  if (n == 0 || n > BPF_MAXINSNS || len % 8 != 0) return el_int(env, -EINVAL);
  struct sock_filter prog[n];
  const uint32_t *w = (const uint32_t *)data;
  for (size_t i = 0; i < n; i++) {
    prog[i].code = (uint16_t)(w[2 * i] & 0xffff);
    prog[i].jt = (uint8_t)((w[2 * i] >> 16) & 0xff);
    prog[i].jf = (uint8_t)((w[2 * i] >> 24) & 0xff);
    prog[i].k = w[2 * i + 1];
  }
  struct sock_fprog fp = {(unsigned short)n, prog};
  int r = setsockopt(fd, SOL_SOCKET, opt, &fp, sizeof(fp));
  RET(r);
}

void el_init_unix(napi_env env, napi_value exports) {
  el_export(env, exports, "unixSocket", js_unixSocket);
  el_export(env, exports, "unixBind", js_unixBind);
  el_export(env, exports, "unixConnect", js_unixConnect);
  el_export(env, exports, "sendFds", js_sendFds);
  el_export(env, exports, "recvFds", js_recvFds);
  el_export(env, exports, "attachBpf", js_attachBpf);
}
