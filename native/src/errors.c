/* errno text and the constants the TS side needs, read from the headers this
 * addon was compiled against rather than hard-coded in TS. */
#include "common.h"
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/eventfd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

static napi_value js_strerror(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t e;
  if (el_arg_i32(env, argv[0], &e)) return NULL;
  napi_value out;
  NAPI_CALL(env, napi_create_string_utf8(env, strerror(e < 0 ? -e : e), NAPI_AUTO_LENGTH, &out));
  return out;
}

static void set_const(napi_env env, napi_value obj, const char *name, int64_t v) {
  napi_set_named_property(env, obj, name, el_int(env, v));
}

void el_init_errors(napi_env env, napi_value exports) {
  el_export(env, exports, "strerror", js_strerror);
  napi_value c;
  napi_create_object(env, &c);
#define C(x) set_const(env, c, #x, (int64_t)(x))
  C(EPOLLIN); C(EPOLLOUT); C(EPOLLERR); C(EPOLLHUP); C(EPOLLRDHUP); C(EPOLLPRI);
  C(EPOLLET); C(EPOLLONESHOT); C(EPOLLEXCLUSIVE);
  C(EPOLL_CTL_ADD); C(EPOLL_CTL_MOD); C(EPOLL_CTL_DEL);
  C(AF_INET); C(AF_INET6);
  C(SOL_SOCKET); C(IPPROTO_TCP); C(IPPROTO_IPV6);
  C(SO_REUSEADDR); C(SO_REUSEPORT); C(SO_KEEPALIVE); C(SO_RCVBUF); C(SO_SNDBUF);
  C(SO_ERROR); C(SO_LINGER); C(SO_ACCEPTCONN);
  C(TCP_NODELAY); C(TCP_KEEPIDLE); C(TCP_KEEPINTVL); C(TCP_KEEPCNT); C(TCP_DEFER_ACCEPT);
  C(IPV6_V6ONLY);
  C(SHUT_RD); C(SHUT_WR); C(SHUT_RDWR);
  C(EFD_NONBLOCK); C(EFD_CLOEXEC); C(EFD_SEMAPHORE);
  C(RLIMIT_NOFILE);
  C(AF_UNIX); C(SO_ATTACH_FILTER); C(SO_DETACH_FILTER); C(SO_ATTACH_REUSEPORT_CBPF);
  C(SO_DETACH_REUSEPORT_BPF); C(SO_INCOMING_CPU);
#undef C
  napi_set_named_property(env, exports, "constants", c);
}
