/* Shared helpers for the edgeloop addon. The addon is a thin layer of syscall
 * wrappers: every wrapper returns its result or a negative errno as a JS
 * number, and never decides policy (retrying, draining, buffering live in TS). */
#ifndef EDGELOOP_COMMON_H
#define EDGELOOP_COMMON_H

#include <node_api.h>
#include <stdint.h>
#include <stddef.h>
#include <errno.h>

#define NAPI_CALL(env, call)                                              \
  do {                                                                    \
    if ((call) != napi_ok) {                                              \
      const napi_extended_error_info *info_ = NULL;                      \
      napi_get_last_error_info((env), &info_);                            \
      bool pending_ = false;                                              \
      napi_is_exception_pending((env), &pending_);                        \
      if (!pending_)                                                      \
        napi_throw_error((env), "EDGELOOP_NAPI",                          \
                         info_ && info_->error_message                    \
                             ? info_->error_message                       \
                             : "N-API call failed");                      \
      return NULL;                                                        \
    }                                                                     \
  } while (0)

#define ARGS(n)                                                           \
  size_t argc = (n);                                                      \
  napi_value argv[(n) > 0 ? (n) : 1];                                     \
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));   \
  if (argc < (size_t)(n)) {                                               \
    napi_throw_type_error(env, "EDGELOOP_ARGS", "missing arguments");     \
    return NULL;                                                          \
  }

napi_value el_int(napi_env env, int64_t v);
int el_arg_i32(napi_env env, napi_value v, int32_t *out);
int el_arg_i64(napi_env env, napi_value v, int64_t *out);
/* Pointer and length of a Buffer or any TypedArray (offset already applied). */
int el_arg_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len);
/* Copies a JS string into buf (NUL terminated); returns 0 on success. */
int el_arg_str(napi_env env, napi_value v, char *buf, size_t cap);
void el_export(napi_env env, napi_value exports, const char *name, napi_callback cb);

void el_init_errors(napi_env env, napi_value exports);
void el_init_socket(napi_env env, napi_value exports);
void el_init_epoll(napi_env env, napi_value exports);
void el_init_bridge(napi_env env, napi_value exports);
void el_init_diag(napi_env env, napi_value exports);
void el_init_tls(napi_env env, napi_value exports);
void el_init_unix(napi_env env, napi_value exports);

#endif
