/* TLS on the OpenSSL that Node exports (its headers, its symbols, resolved
 * from the node binary at load: never a second copy). OpenSSL 3.0 API only.
 *
 * The design follows uSockets: OpenSSL never touches the socket. A custom
 * BIO reads the ciphertext the reactor already received (the loop's read
 * buffer, lent for the duration of one call) and writes records straight
 * into an output buffer the caller lends, or into a small per-connection
 * overflow when that is full. recv, send, epoll, buffering and backpressure
 * stay in TypeScript. One call feeds ciphertext and returns plaintext.
 *
 * Per-call results beyond the return value go to a per-thread Int32Array
 * (tlsSetState); every loop runs on its own thread and the OpenSSL error
 * queue is per thread too, so each error path ends with ERR_clear_error. */
#include "common.h"
#include <string.h>
#include <stdlib.h>
#include <pthread.h>
#include <arpa/inet.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

/* state[] slots, mirrored in src/reactor/tls/native.ts */
enum { ST_OUT = 0, ST_PENDING = 1, ST_FLAGS = 2, ST_CONSUMED = 3 };
enum {
  F_DONE = 1,        /* the handshake is complete */
  F_JUST_DONE = 2,   /* ... and completed during this call */
  F_PEER_CLOSED = 4, /* close_notify received */
  F_MORE = 8,        /* plaintext left inside OpenSSL: call again */
  F_ERROR = 16,      /* fatal: the connection is unusable (tlsError has why) */
  F_SNI = 32,        /* paused for the application's certificate for this SNI name (tlsUseCertificate) */
};

static __thread int32_t *g_state;
static __thread napi_ref g_state_ref;

typedef struct {
  SSL *ssl;
  /* ciphertext lent by the caller for one call, then any leftover copied */
  const uint8_t *src;
  size_t src_len;
  uint8_t *carry;
  size_t carry_off, carry_len;
  /* records go to out (lent) while they fit and nothing waits in pend */
  uint8_t *out;
  size_t out_cap, out_len;
  uint8_t *pend;
  size_t pend_off, pend_len, pend_cap;
  int failed;
  /* SNI callback: 0 not asked, 1 paused for the answer, 2 answered */
  int sni_state;
  char err[256];
} el_tls;

/* Server-side extras of an SSL_CTX, freed with it (ex_data free callback). */
typedef struct {
  unsigned char *alpn; /* wire format */
  unsigned int alpn_len;
  int sni_count;
  char **sni_names;
  SSL_CTX **sni_ctx;
  int ask_sni; /* the application picks the certificate by SNI name (tlsContextAskSni) */
} el_ctx_extra;

static BIO_METHOD *g_bio_method;
static int g_ctx_index = -1;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* ---- the BIO ---------------------------------------------------------- */

static int bio_read(BIO *b, char *buf, int len) {
  el_tls *t = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  if (len <= 0) return 0;
  size_t n = 0;
  if (t->carry_len > 0) {
    n = t->carry_len < (size_t)len ? t->carry_len : (size_t)len;
    memcpy(buf, t->carry + t->carry_off, n);
    t->carry_off += n;
    t->carry_len -= n;
  } else if (t->src_len > 0) {
    n = t->src_len < (size_t)len ? t->src_len : (size_t)len;
    memcpy(buf, t->src, n);
    t->src += n;
    t->src_len -= n;
  }
  if (n == 0) {
    BIO_set_retry_read(b);
    return -1;
  }
  return (int)n;
}

static int pend_append(el_tls *t, const void *data, size_t len) {
  if (t->pend_off > 0 && t->pend_len == 0) t->pend_off = 0;
  if (t->pend_off + t->pend_len + len > t->pend_cap) {
    if (t->pend_off > 0) {
      memmove(t->pend, t->pend + t->pend_off, t->pend_len);
      t->pend_off = 0;
    }
    if (t->pend_len + len > t->pend_cap) {
      size_t cap = t->pend_cap ? t->pend_cap : 4096;
      while (cap < t->pend_len + len) cap *= 2;
      uint8_t *p = realloc(t->pend, cap);
      if (!p) return -1;
      t->pend = p;
      t->pend_cap = cap;
    }
  }
  memcpy(t->pend + t->pend_off + t->pend_len, data, len);
  t->pend_len += len;
  return 0;
}

static int bio_write(BIO *b, const char *data, int len) {
  el_tls *t = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  if (len <= 0) return 0;
  if (t->pend_len == 0 && t->out && t->out_cap - t->out_len >= (size_t)len) {
    memcpy(t->out + t->out_len, data, (size_t)len);
    t->out_len += (size_t)len;
    return len;
  }
  return pend_append(t, data, (size_t)len) == 0 ? len : -1;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
  (void)b; (void)num; (void)ptr;
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

static void ctx_extra_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp) {
  (void)parent; (void)ad; (void)idx; (void)argl; (void)argp;
  el_ctx_extra *x = ptr;
  if (!x) return;
  for (int i = 0; i < x->sni_count; i++) {
    free(x->sni_names[i]);
    SSL_CTX_free(x->sni_ctx[i]);
  }
  free(x->sni_names);
  free(x->sni_ctx);
  free(x->alpn);
  free(x);
}

static void init_once(void) {
  g_bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "edgeloop");
  BIO_meth_set_read(g_bio_method, bio_read);
  BIO_meth_set_write(g_bio_method, bio_write);
  BIO_meth_set_ctrl(g_bio_method, bio_ctrl);
  BIO_meth_set_create(g_bio_method, bio_create);
  g_ctx_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, ctx_extra_free);
}

/* ---- errors ----------------------------------------------------------- */

/* The first queued error (the root cause), then the queue is emptied. */
static void take_error(char *buf, size_t cap, const char *fallback) {
  unsigned long e = ERR_get_error();
  if (e) ERR_error_string_n(e, buf, cap);
  else snprintf(buf, cap, "%s", fallback);
  ERR_clear_error();
}

static napi_value throw_ssl(napi_env env, const char *what) {
  char buf[256], msg[320];
  take_error(buf, sizeof(buf), "unknown error");
  snprintf(msg, sizeof(msg), "%s: %s", what, buf);
  napi_throw_error(env, "EDGELOOP_TLS", msg);
  return NULL;
}

/* ---- contexts --------------------------------------------------------- */

static void ctx_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  SSL_CTX_free((SSL_CTX *)data);
}

static int get_ctx(napi_env env, napi_value v, SSL_CTX **out) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || !p) {
    napi_throw_type_error(env, "EDGELOOP_ARGS", "expected a TLS context");
    return -1;
  }
  *out = p;
  return 0;
}

/* Optional bytes: null/undefined gives len 0. */
static int opt_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_null || t == napi_undefined) {
    *data = NULL;
    *len = 0;
    return 0;
  }
  return el_arg_bytes(env, v, data, len);
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg) {
  (void)arg;
  el_ctx_extra *x = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), g_ctx_index);
  if (!x || !x->alpn) return SSL_TLSEXT_ERR_NOACK;
  unsigned char *sel = NULL;
  /* Server preference order; a client offering none of ours goes on without ALPN. */
  if (SSL_select_next_proto(&sel, outlen, x->alpn, x->alpn_len, in, inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  *out = sel;
  return SSL_TLSEXT_ERR_OK;
}

static int name_matches(const char *pattern, const char *name) {
  if (strcasecmp(pattern, name) == 0) return 1;
  /* "*.example.com" matches exactly one label in front of example.com */
  if (pattern[0] == '*' && pattern[1] == '.') {
    const char *dot = strchr(name, '.');
    return dot && dot != name && strcasecmp(dot, pattern + 1) == 0;
  }
  return 0;
}

static int servername_cb(SSL *ssl, int *al, void *arg) {
  (void)al; (void)arg;
  const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (!name) return SSL_TLSEXT_ERR_NOACK;
  el_ctx_extra *x = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), g_ctx_index);
  if (!x) return SSL_TLSEXT_ERR_NOACK;
  for (int i = 0; i < x->sni_count; i++) {
    if (name_matches(x->sni_names[i], name)) {
      SSL_set_SSL_CTX(ssl, x->sni_ctx[i]);
      return SSL_TLSEXT_ERR_OK;
    }
  }
  /* An unknown name gets the default certificate, as nginx does. */
  return SSL_TLSEXT_ERR_NOACK;
}

/* Certificate selection: with ask_sni, a handshake naming a server pauses
 * here (SSL_ERROR_WANT_X509_LOOKUP) until tlsUseCertificate gives the answer;
 * OpenSSL calls this again on resume. */
static int cert_cb(SSL *ssl, void *arg) {
  (void)arg;
  el_tls *t = SSL_get_app_data(ssl);
  if (!t || t->sni_state == 2) return 1;
  el_ctx_extra *x = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), g_ctx_index);
  if (!x || !x->ask_sni || !SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) return 1;
  t->sni_state = 1;
  return -1;
}

static int verify_accept_all(int ok, X509_STORE_CTX *store) {
  (void)ok; (void)store;
  return 1; /* rejectUnauthorized: false: the result is recorded and read later */
}

static int load_cert_chain(SSL_CTX *ctx, const uint8_t *pem, size_t len) {
  BIO *b = BIO_new_mem_buf(pem, (int)len);
  if (!b) return 0;
  X509 *leaf = PEM_read_bio_X509_AUX(b, NULL, NULL, NULL);
  int ok = leaf && SSL_CTX_use_certificate(ctx, leaf) == 1;
  X509_free(leaf);
  if (ok) {
    SSL_CTX_clear_chain_certs(ctx);
    X509 *c;
    while ((c = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
      if (SSL_CTX_add0_chain_cert(ctx, c) != 1) {
        X509_free(c);
        ok = 0;
        break;
      }
    }
    /* the loop ends on "no start line": that is the end of the PEM, not an error */
    if (ok) ERR_clear_error();
  }
  BIO_free(b);
  return ok;
}

/* 1 loaded, 0 not a key, -1 a key that does not match the certificate. */
static int load_key(SSL_CTX *ctx, const uint8_t *pem, size_t len) {
  BIO *b = BIO_new_mem_buf(pem, (int)len);
  if (!b) return 0;
  EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, (void *)"");
  int ok = !k ? 0 : SSL_CTX_use_PrivateKey(ctx, k) == 1 ? 1 : -1;
  EVP_PKEY_free(k);
  BIO_free(b);
  return ok;
}

/* Returns the number of certificates added, or -1. */
static int load_ca(SSL_CTX *ctx, const uint8_t *pem, size_t len, int server) {
  BIO *b = BIO_new_mem_buf(pem, (int)len);
  if (!b) return -1;
  X509_STORE *store = SSL_CTX_get_cert_store(ctx);
  STACK_OF(X509_NAME) *names = server ? sk_X509_NAME_new_null() : NULL;
  int n = 0;
  X509 *c;
  while ((c = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
    X509_STORE_add_cert(store, c);
    if (names) sk_X509_NAME_push(names, X509_NAME_dup(X509_get_subject_name(c)));
    X509_free(c);
    n++;
  }
  ERR_clear_error();
  if (names) SSL_CTX_set_client_CA_list(ctx, names);
  BIO_free(b);
  return n;
}

/* tlsContext(server, cert, key, ca, alpnWire, verify, ticketKeys, ciphers)
 * verify: 0 none, 1 verify and reject, 2 verify and record only (request the
 * certificate, accept any). Returns an external SSL_CTX or throws. */
static napi_value js_tlsContext(napi_env env, napi_callback_info info) {
  ARGS(8);
  pthread_once(&g_once, init_once);
  bool server;
  int32_t verify;
  uint8_t *cert, *key, *ca, *alpn, *keys;
  size_t cert_len, key_len, ca_len, alpn_len, keys_len;
  char ciphers[1024];
  NAPI_CALL(env, napi_get_value_bool(env, argv[0], &server));
  if (opt_bytes(env, argv[1], &cert, &cert_len) || opt_bytes(env, argv[2], &key, &key_len) ||
      opt_bytes(env, argv[3], &ca, &ca_len) || opt_bytes(env, argv[4], &alpn, &alpn_len) ||
      el_arg_i32(env, argv[5], &verify) || opt_bytes(env, argv[6], &keys, &keys_len) ||
      el_arg_str(env, argv[7], ciphers, sizeof(ciphers)))
    return NULL;
  ERR_clear_error();
  const char *why = "TLS context setup";
  SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (!ctx) return throw_ssl(env, "SSL_CTX_new");
  el_ctx_extra *x = calloc(1, sizeof(*x));
  if (!x || !SSL_CTX_set_ex_data(ctx, g_ctx_index, x)) {
    free(x);
    SSL_CTX_free(ctx);
    napi_throw_error(env, "EDGELOOP_TLS", "out of memory");
    return NULL;
  }
  /* Secure defaults: TLS 1.2 and 1.3 only, AEAD ciphers with forward secrecy,
   * no renegotiation, no compression. */
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  /* (OpenSSL 3.0 refuses client-initiated renegotiation by default too.) */
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (SSL_CTX_set_cipher_list(ctx, ciphers) != 1) { why = "invalid cipher list"; goto fail; }
  if (server) {
    if (!load_cert_chain(ctx, cert, cert_len)) { why = "invalid certificate (expected PEM)"; goto fail; }
    int k = load_key(ctx, key, key_len);
    if (k == 0) { why = "invalid private key (expected an unencrypted PEM key)"; goto fail; }
    if (k < 0 || SSL_CTX_check_private_key(ctx) != 1) { why = "the private key does not match the certificate"; goto fail; }
    /* Stateless tickets only (TLS 1.2 tickets, TLS 1.3 PSK): no per-thread
     * session cache to grow, and every loop given the same keys resumes the
     * others' sessions. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"edgeloop", 8);
    SSL_CTX_set_num_tickets(ctx, 1);
    if (keys_len == 80 && SSL_CTX_set_tlsext_ticket_keys(ctx, keys, 80) != 1) { why = "TLS context setup"; goto fail; }
    SSL_CTX_set_tlsext_servername_callback(ctx, servername_cb);
    if (alpn_len > 0) {
      x->alpn = malloc(alpn_len);
      if (!x->alpn) { why = "TLS context setup"; goto fail; }
      memcpy(x->alpn, alpn, alpn_len);
      x->alpn_len = (unsigned int)alpn_len;
      SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    }
  } else {
    if (cert_len > 0 && !load_cert_chain(ctx, cert, cert_len)) { why = "invalid certificate (expected PEM)"; goto fail; }
    if (key_len > 0) {
      int k = load_key(ctx, key, key_len);
      if (k == 0) { why = "invalid private key (expected an unencrypted PEM key)"; goto fail; }
      if (k < 0) { why = "the private key does not match the certificate"; goto fail; }
    }
    if (alpn_len > 0 && SSL_CTX_set_alpn_protos(ctx, alpn, (unsigned int)alpn_len) != 0) { why = "TLS context setup"; goto fail; }
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT);
  }
  if (ca_len > 0 && load_ca(ctx, ca, ca_len, server) < 0) { why = "invalid CA certificates"; goto fail; }
  if (verify == 1) SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | (server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);
  else if (verify == 2) SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_accept_all);
  else SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  napi_value ext;
  if (napi_create_external(env, ctx, ctx_finalize, NULL, &ext) != napi_ok) {
    SSL_CTX_free(ctx);
    return NULL;
  }
  return ext;
fail:
  SSL_CTX_free(ctx);
  return throw_ssl(env, why);
}

/* tlsContextAddSni(ctx, name, sniCtx): handshakes naming `name` (or matching
 * "*.domain") get sniCtx's certificate. */
static napi_value js_tlsContextAddSni(napi_env env, napi_callback_info info) {
  ARGS(3);
  SSL_CTX *ctx, *sni;
  char name[256];
  if (get_ctx(env, argv[0], &ctx) || el_arg_str(env, argv[1], name, sizeof(name)) || get_ctx(env, argv[2], &sni))
    return NULL;
  el_ctx_extra *x = SSL_CTX_get_ex_data(ctx, g_ctx_index);
  char **names = realloc(x->sni_names, sizeof(char *) * (size_t)(x->sni_count + 1));
  if (names) x->sni_names = names;
  SSL_CTX **ctxs = realloc(x->sni_ctx, sizeof(SSL_CTX *) * (size_t)(x->sni_count + 1));
  if (ctxs) x->sni_ctx = ctxs;
  char *copy = strdup(name);
  if (!names || !ctxs || !copy) {
    free(copy);
    napi_throw_error(env, "EDGELOOP_TLS", "out of memory");
    return NULL;
  }
  SSL_CTX_up_ref(sni);
  x->sni_names[x->sni_count] = copy;
  x->sni_ctx[x->sni_count] = sni;
  x->sni_count++;
  return el_int(env, x->sni_count);
}

/* tlsContextAskSni(ctx): handshakes that name a server pause for the
 * application's certificate (F_SNI from tlsFeed, then tlsUseCertificate). */
static napi_value js_tlsContextAskSni(napi_env env, napi_callback_info info) {
  ARGS(1);
  SSL_CTX *ctx;
  if (get_ctx(env, argv[0], &ctx)) return NULL;
  el_ctx_extra *x = SSL_CTX_get_ex_data(ctx, g_ctx_index);
  if (!x) return el_int(env, -EINVAL);
  x->ask_sni = 1;
  SSL_CTX_set_cert_cb(ctx, cert_cb, NULL);
  return el_int(env, 0);
}

/* ---- connections ------------------------------------------------------ */

static void conn_release(el_tls *t) {
  if (t->ssl) SSL_free(t->ssl); /* frees the BIO too */
  t->ssl = NULL;
  free(t->carry);
  free(t->pend);
  t->carry = t->pend = NULL;
  t->carry_len = t->pend_len = t->carry_off = t->pend_off = t->pend_cap = 0;
}

static void conn_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  el_tls *t = data;
  conn_release(t);
  free(t);
}

static el_tls *get_conn(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || !p) {
    napi_throw_type_error(env, "EDGELOOP_ARGS", "expected a TLS connection");
    return NULL;
  }
  return p;
}

/* tlsNew(ctx, server, servername, verifyHost) -> external connection.
 * servername: SNI to send (client); verifyHost: 1 to check the peer's
 * certificate names it (a literal IP is checked as an IP). */
static napi_value js_tlsNew(napi_env env, napi_callback_info info) {
  ARGS(4);
  SSL_CTX *ctx;
  bool server, verify_host;
  char name[256];
  if (get_ctx(env, argv[0], &ctx)) return NULL;
  NAPI_CALL(env, napi_get_value_bool(env, argv[1], &server));
  if (el_arg_str(env, argv[2], name, sizeof(name))) return NULL;
  NAPI_CALL(env, napi_get_value_bool(env, argv[3], &verify_host));
  ERR_clear_error();
  el_tls *t = calloc(1, sizeof(*t));
  if (!t) {
    napi_throw_error(env, "EDGELOOP_TLS", "out of memory");
    return NULL;
  }
  t->ssl = SSL_new(ctx);
  BIO *bio = BIO_new(g_bio_method);
  if (!t->ssl || !bio) {
    BIO_free(bio);
    conn_release(t);
    free(t);
    return throw_ssl(env, "SSL_new");
  }
  BIO_set_data(bio, t);
  SSL_set_bio(t->ssl, bio, bio);
  SSL_set_app_data(t->ssl, t);
  if (server) {
    SSL_set_accept_state(t->ssl);
  } else {
    SSL_set_connect_state(t->ssl);
    if (name[0]) {
      unsigned char ip[16];
      int is_ip = inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;
      if (!is_ip) SSL_set_tlsext_host_name(t->ssl, name);
      if (verify_host) {
        X509_VERIFY_PARAM *p = SSL_get0_param(t->ssl);
        if (is_ip) X509_VERIFY_PARAM_set1_ip_asc(p, name);
        else SSL_set1_host(t->ssl, name);
      }
    }
  }
  napi_value ext;
  if (napi_create_external(env, t, conn_finalize, NULL, &ext) != napi_ok) {
    conn_release(t);
    free(t);
    return NULL;
  }
  return ext;
}

static void lend_out(el_tls *t, napi_env env, napi_value buf, int32_t off, int32_t cap, int *bad) {
  uint8_t *data;
  size_t size;
  if (el_arg_bytes(env, buf, &data, &size)) {
    *bad = -1;
    return;
  }
  if (off < 0 || cap < 0 || (size_t)off + (size_t)cap > size) {
    *bad = 1;
    return;
  }
  t->out = data + off;
  t->out_cap = (size_t)cap;
  t->out_len = 0;
}

static void fail(el_tls *t, int32_t *flags, const char *fallback) {
  take_error(t->err, sizeof(t->err), fallback);
  t->failed = 1;
  *flags |= F_ERROR;
}

/* Moves what the pend overflow holds into the lent out buffer, as far as it fits. */
static void drain_pend(el_tls *t) {
  if (!t->out || t->pend_len == 0) return;
  size_t room = t->out_cap - t->out_len;
  size_t n = t->pend_len < room ? t->pend_len : room;
  memcpy(t->out + t->out_len, t->pend + t->pend_off, n);
  t->out_len += n;
  t->pend_off += n;
  t->pend_len -= n;
  if (t->pend_len == 0) {
    t->pend_off = 0;
    if (t->pend_cap > 65536) { /* a burst made it big: do not keep it */
      free(t->pend);
      t->pend = NULL;
      t->pend_cap = 0;
    }
  }
}

static void finish_call(el_tls *t, int32_t flags) {
  drain_pend(t);
  if (t->ssl && SSL_is_init_finished(t->ssl)) flags |= F_DONE;
  if (g_state) {
    g_state[ST_OUT] = (int32_t)t->out_len;
    g_state[ST_PENDING] = (int32_t)t->pend_len;
    g_state[ST_FLAGS] = flags;
  }
  t->out = NULL;
  t->out_cap = t->out_len = 0;
}

/* tlsFeed(conn, cipher, off, len, plain, plainOff, plainCap, out, outOff, outCap) -> plaintext bytes.
 * Hands len bytes of ciphertext to OpenSSL (handshake or records), reads the
 * plaintext into plain, and puts records to send (handshake flights, alerts,
 * key updates) into out. state: OUT, PENDING (more records: tlsTake), FLAGS. */
static napi_value js_tlsFeed(napi_env env, napi_callback_info info) {
  ARGS(10);
  el_tls *t = get_conn(env, argv[0]);
  if (!t) return NULL;
  uint8_t *cipher, *plain;
  size_t cipher_size, plain_size;
  int32_t off, len, poff, pcap, ooff, ocap;
  if (el_arg_bytes(env, argv[1], &cipher, &cipher_size) || el_arg_i32(env, argv[2], &off) ||
      el_arg_i32(env, argv[3], &len) || el_arg_bytes(env, argv[4], &plain, &plain_size) ||
      el_arg_i32(env, argv[5], &poff) || el_arg_i32(env, argv[6], &pcap) || el_arg_i32(env, argv[8], &ooff) ||
      el_arg_i32(env, argv[9], &ocap))
    return NULL;
  if (off < 0 || len < 0 || (size_t)off + (size_t)len > cipher_size || poff < 0 || pcap < 0 ||
      (size_t)poff + (size_t)pcap > plain_size)
    return el_int(env, -EFAULT);
  int bad = 0;
  lend_out(t, env, argv[7], ooff, ocap, &bad);
  if (bad < 0) return NULL;
  if (bad > 0) return el_int(env, -EFAULT);
  int32_t flags = 0;
  if (!t->ssl || t->failed) {
    finish_call(t, F_ERROR);
    return el_int(env, 0);
  }
  t->src = cipher + off;
  t->src_len = (size_t)len;
  size_t got = 0;
  if (!SSL_is_init_finished(t->ssl)) {
    int r = SSL_do_handshake(t->ssl);
    if (r == 1) {
      flags |= F_JUST_DONE;
    } else {
      int e = SSL_get_error(t->ssl, r);
      if (e == SSL_ERROR_WANT_X509_LOOKUP) {
        flags |= F_SNI;
        ERR_clear_error();
      } else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        fail(t, &flags, "handshake failed");
      } else {
        ERR_clear_error();
      }
    }
  }
  if (!(flags & F_ERROR) && SSL_is_init_finished(t->ssl)) {
    while (got < (size_t)pcap) {
      int r = SSL_read(t->ssl, plain + poff + got, (int)((size_t)pcap - got));
      if (r > 0) {
        got += (size_t)r;
        continue;
      }
      int e = SSL_get_error(t->ssl, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        ERR_clear_error();
      } else if (e == SSL_ERROR_ZERO_RETURN) {
        flags |= F_PEER_CLOSED;
        ERR_clear_error();
      } else {
        fail(t, &flags, "record layer error");
      }
      break;
    }
    if (got == (size_t)pcap && (SSL_pending(t->ssl) > 0 || t->src_len > 0 || t->carry_len > 0)) flags |= F_MORE;
  }
  /* Ciphertext OpenSSL has not asked for yet stays for the next call. */
  if (t->src_len > 0 && !t->failed) {
    if (t->carry_len == 0) t->carry_off = 0;
    uint8_t *c = realloc(t->carry, t->carry_off + t->carry_len + t->src_len);
    if (c) {
      t->carry = c;
      memcpy(t->carry + t->carry_off + t->carry_len, t->src, t->src_len);
      t->carry_len += t->src_len;
    } else {
      fail(t, &flags, "out of memory");
    }
  } else if (t->carry_len == 0 && t->carry) {
    free(t->carry);
    t->carry = NULL;
    t->carry_off = 0;
  }
  t->src = NULL;
  t->src_len = 0;
  finish_call(t, flags);
  return el_int(env, (int64_t)got);
}

/* tlsWrite(conn, plain, off, len, out, outOff, outCap) -> plaintext bytes taken.
 * Encrypts into out while whole records fit; stops early when they do not
 * (the caller sends out and calls again). -1 with F_ERROR on failure. */
static napi_value js_tlsWrite(napi_env env, napi_callback_info info) {
  ARGS(7);
  el_tls *t = get_conn(env, argv[0]);
  if (!t) return NULL;
  uint8_t *plain;
  size_t plain_size;
  int32_t off, len, ooff, ocap;
  if (el_arg_bytes(env, argv[1], &plain, &plain_size) || el_arg_i32(env, argv[2], &off) ||
      el_arg_i32(env, argv[3], &len) || el_arg_i32(env, argv[5], &ooff) || el_arg_i32(env, argv[6], &ocap))
    return NULL;
  if (off < 0 || len < 0 || (size_t)off + (size_t)len > plain_size) return el_int(env, -EFAULT);
  int bad = 0;
  lend_out(t, env, argv[4], ooff, ocap, &bad);
  if (bad < 0) return NULL;
  if (bad > 0) return el_int(env, -EFAULT);
  int32_t flags = 0;
  if (!t->ssl || t->failed || !SSL_is_init_finished(t->ssl)) {
    finish_call(t, F_ERROR);
    return el_int(env, -1);
  }
  size_t done = 0;
  drain_pend(t);
  while (done < (size_t)len && t->pend_len == 0) {
    size_t chunk = (size_t)len - done;
    if (chunk > 16384) chunk = 16384;
    /* a full record must fit after what is already in out; otherwise send first */
    if (t->out_len > 0 && t->out_cap - t->out_len < chunk + 256) break;
    int r = SSL_write(t->ssl, plain + off + done, (int)chunk);
    if (r <= 0) {
      fail(t, &flags, "write failed");
      finish_call(t, flags);
      return el_int(env, -1);
    }
    done += (size_t)r;
  }
  finish_call(t, flags);
  return el_int(env, (int64_t)done);
}

/* Records queued in the overflow go to the lent out buffer; with close_notify
 * first queues one (once the handshake is done; we do not wait for the peer's). */
static napi_value take_out(napi_env env, napi_callback_info info, int close_notify) {
  ARGS(4);
  el_tls *t = get_conn(env, argv[0]);
  if (!t) return NULL;
  int32_t off, cap;
  if (el_arg_i32(env, argv[2], &off) || el_arg_i32(env, argv[3], &cap)) return NULL;
  int bad = 0;
  lend_out(t, env, argv[1], off, cap, &bad);
  if (bad < 0) return NULL;
  if (bad > 0) return el_int(env, -EFAULT);
  if (close_notify && t->ssl && !t->failed && SSL_is_init_finished(t->ssl)) {
    SSL_shutdown(t->ssl);
    ERR_clear_error();
  }
  finish_call(t, t->failed ? F_ERROR : 0);
  return el_int(env, g_state ? g_state[ST_OUT] : 0);
}

/* tlsTake(conn, out, off, cap) -> bytes of queued records copied out. state.PENDING: what is left. */
static napi_value js_tlsTake(napi_env env, napi_callback_info info) { return take_out(env, info, 0); }

/* tlsShutdown(conn, out, off, cap) -> bytes of close_notify put into out. */
static napi_value js_tlsShutdown(napi_env env, napi_callback_info info) { return take_out(env, info, 1); }

/* tlsFree(conn): releases OpenSSL's state now (the external itself goes with GC). */
static napi_value js_tlsFree(napi_env env, napi_callback_info info) {
  ARGS(1);
  el_tls *t = get_conn(env, argv[0]);
  if (!t) return NULL;
  conn_release(t);
  return el_int(env, 0);
}

/* tlsUseCertificate(conn, ctx | null) -> 0, or -1 (tlsError says why).
 * The answer to F_SNI: the certificate, chain and key of ctx replace the
 * default ones for this connection (null keeps the default); the next
 * tlsFeed resumes the handshake. */
static napi_value js_tlsUseCertificate(napi_env env, napi_callback_info info) {
  ARGS(2);
  el_tls *t = get_conn(env, argv[0]);
  if (!t) return NULL;
  napi_valuetype vt;
  napi_typeof(env, argv[1], &vt);
  SSL_CTX *ctx = NULL;
  if (vt != napi_null && vt != napi_undefined && get_ctx(env, argv[1], &ctx)) return NULL;
  if (!t->ssl || t->failed || t->sni_state != 1) return el_int(env, -EINVAL);
  if (ctx) {
    X509 *cert = SSL_CTX_get0_certificate(ctx);
    EVP_PKEY *key = SSL_CTX_get0_privatekey(ctx);
    STACK_OF(X509) *chain = NULL;
    SSL_CTX_get0_chain_certs(ctx, &chain);
    SSL_certs_clear(t->ssl);
    if (!cert || !key || SSL_use_certificate(t->ssl, cert) != 1 || SSL_use_PrivateKey(t->ssl, key) != 1 ||
        SSL_set1_chain(t->ssl, chain) != 1) {
      take_error(t->err, sizeof(t->err), "the SNI certificate could not be used");
      t->failed = 1;
      return el_int(env, -1);
    }
  }
  t->sni_state = 2;
  return el_int(env, 0);
}

/* tlsServername(conn) -> the SNI name the client sent, or null. */
static napi_value js_tlsServername(napi_env env, napi_callback_info info) {
  ARGS(1);
  el_tls *t = get_conn(env, argv[0]);
  if (!t) return NULL;
  const char *name = t->ssl ? SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name) : NULL;
  napi_value v;
  if (name) napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &v);
  else napi_get_null(env, &v);
  return v;
}

/* tlsError(conn) -> the reason of the failure that ended the connection, or "". */
static napi_value js_tlsError(napi_env env, napi_callback_info info) {
  ARGS(1);
  el_tls *t = get_conn(env, argv[0]);
  if (!t) return NULL;
  napi_value s;
  napi_create_string_utf8(env, t->failed ? t->err : "", NAPI_AUTO_LENGTH, &s);
  return s;
}

static void set_str(napi_env env, napi_value obj, const char *key, const char *val) {
  napi_value v;
  if (val) napi_create_string_utf8(env, val, NAPI_AUTO_LENGTH, &v);
  else napi_get_null(env, &v);
  napi_set_named_property(env, obj, key, v);
}

/* tlsInfo(conn) -> { version, cipher, alpn, servername, reused, verifyResult, peerCert (DER) } */
static napi_value js_tlsInfo(napi_env env, napi_callback_info info) {
  ARGS(1);
  el_tls *t = get_conn(env, argv[0]);
  if (!t) return NULL;
  napi_value obj, v;
  napi_create_object(env, &obj);
  if (!t->ssl) return obj;
  set_str(env, obj, "version", SSL_get_version(t->ssl));
  set_str(env, obj, "cipher", SSL_get_cipher_name(t->ssl));
  const unsigned char *alpn = NULL;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(t->ssl, &alpn, &alpn_len);
  if (alpn_len > 0) napi_create_string_utf8(env, (const char *)alpn, alpn_len, &v);
  else napi_get_null(env, &v);
  napi_set_named_property(env, obj, "alpn", v);
  set_str(env, obj, "servername", SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name));
  napi_get_boolean(env, SSL_session_reused(t->ssl) == 1, &v);
  napi_set_named_property(env, obj, "reused", v);
  napi_set_named_property(env, obj, "verifyResult", el_int(env, (int64_t)SSL_get_verify_result(t->ssl)));
  set_str(env, obj, "verifyError", X509_verify_cert_error_string(SSL_get_verify_result(t->ssl)));
  X509 *peer = SSL_get1_peer_certificate(t->ssl);
  if (peer) {
    int n = i2d_X509(peer, NULL);
    void *data = NULL;
    if (n > 0 && napi_create_buffer(env, (size_t)n, &data, &v) == napi_ok) {
      unsigned char *p = data;
      i2d_X509(peer, &p);
      napi_set_named_property(env, obj, "peerCert", v);
    }
    X509_free(peer);
  }
  ERR_clear_error();
  return obj;
}

/* tlsSetState(int32Array): this thread's result slots. */
static napi_value js_tlsSetState(napi_env env, napi_callback_info info) {
  ARGS(1);
  uint8_t *data;
  size_t len;
  if (el_arg_bytes(env, argv[0], &data, &len)) return NULL;
  if (len < 4 * sizeof(int32_t)) {
    napi_throw_range_error(env, "EDGELOOP_ARGS", "state needs 4 slots");
    return NULL;
  }
  if (g_state_ref) napi_delete_reference(env, g_state_ref);
  napi_create_reference(env, argv[0], 1, &g_state_ref);
  g_state = (int32_t *)data;
  return el_int(env, 0);
}

static void state_cleanup(void *arg) {
  (void)arg;
  g_state = NULL;
  g_state_ref = NULL;
}

void el_init_tls(napi_env env, napi_value exports) {
  pthread_once(&g_once, init_once);
  napi_add_env_cleanup_hook(env, state_cleanup, NULL);
  el_export(env, exports, "tlsSetState", js_tlsSetState);
  el_export(env, exports, "tlsContext", js_tlsContext);
  el_export(env, exports, "tlsContextAddSni", js_tlsContextAddSni);
  el_export(env, exports, "tlsContextAskSni", js_tlsContextAskSni);
  el_export(env, exports, "tlsUseCertificate", js_tlsUseCertificate);
  el_export(env, exports, "tlsServername", js_tlsServername);
  el_export(env, exports, "tlsNew", js_tlsNew);
  el_export(env, exports, "tlsFeed", js_tlsFeed);
  el_export(env, exports, "tlsWrite", js_tlsWrite);
  el_export(env, exports, "tlsTake", js_tlsTake);
  el_export(env, exports, "tlsShutdown", js_tlsShutdown);
  el_export(env, exports, "tlsFree", js_tlsFree);
  el_export(env, exports, "tlsError", js_tlsError);
  el_export(env, exports, "tlsInfo", js_tlsInfo);
}
