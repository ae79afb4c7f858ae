/* Module entry: context-aware, so every worker thread loads its own instance. */
#include "common.h"
#include <string.h>

napi_value el_int(napi_env env, int64_t v) {
  napi_value out;
  if (v >= INT32_MIN && v <= INT32_MAX) napi_create_int32(env, (int32_t)v, &out);
  else napi_create_double(env, (double)v, &out);
  return out;
}

int el_arg_i32(napi_env env, napi_value v, int32_t *out) {
  if (napi_get_value_int32(env, v, out) != napi_ok) {
    napi_throw_type_error(env, "EDGELOOP_ARGS", "expected a number");
    return -1;
  }
  return 0;
}

int el_arg_i64(napi_env env, napi_value v, int64_t *out) {
  if (napi_get_value_int64(env, v, out) != napi_ok) {
    napi_throw_type_error(env, "EDGELOOP_ARGS", "expected a number");
    return -1;
  }
  return 0;
}

int el_arg_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  napi_typedarray_type type;
  size_t length;
  void *ptr;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &type, &length, &ptr, &ab, &off) != napi_ok) {
    napi_throw_type_error(env, "EDGELOOP_ARGS", "expected a Buffer or TypedArray");
    return -1;
  }
  size_t elem = 1;
  switch (type) {
    case napi_int16_array: case napi_uint16_array: elem = 2; break;
    case napi_int32_array: case napi_uint32_array: case napi_float32_array: elem = 4; break;
    case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: elem = 8; break;
    default: elem = 1;
  }
  *data = (uint8_t *)ptr;
  *len = length * elem;
  return 0;
}

int el_arg_str(napi_env env, napi_value v, char *buf, size_t cap) {
  size_t n = 0;
  if (napi_get_value_string_utf8(env, v, buf, cap, &n) != napi_ok) {
    napi_throw_type_error(env, "EDGELOOP_ARGS", "expected a string");
    return -1;
  }
  if (n + 1 >= cap) {
    napi_throw_range_error(env, "EDGELOOP_ARGS", "string argument too long");
    return -1;
  }
  return 0;
}

void el_export(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn);
  napi_set_named_property(env, exports, name, fn);
}

/* noop(): the bare cost of one JS -> C -> JS crossing, for bench/crossing. */
static napi_value js_noop(napi_env env, napi_callback_info info) {
  (void)info;
  return el_int(env, 0);
}

NAPI_MODULE_INIT() {
  el_export(env, exports, "noop", js_noop);
  el_init_errors(env, exports);
  el_init_socket(env, exports);
  el_init_epoll(env, exports);
  el_init_bridge(env, exports);
  el_init_diag(env, exports);
  el_init_tls(env, exports);
  el_init_unix(env, exports);
  return exports;
}
