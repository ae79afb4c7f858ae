/* Kernel interfaces /proc lacks, for `edgeloop doctor`:
 *  - NETLINK_SOCK_DIAG (inet_diag): for a LISTEN socket, /proc/net/tcp shows
 *    the accept-queue length but never the backlog it is measured against;
 *    idiag_wqueue carries sk_max_ack_backlog. INET_DIAG_SKMEMINFO carries
 *    sk_drops, which for a listener counts the SYNs and handshakes it dropped
 *    (tcp_listendrop); the TcpExt counters only give the namespace-wide sum.
 *  - kcmp(KCMP_FILE): every epoll fd links to the same anonymous inode, so only
 *    the kernel can say whether fds in two processes are one epoll instance.
 * Both wrappers return data or a negative errno, like the rest of the addon. */
#include "common.h"
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/inet_diag.h>
#include <linux/rtnetlink.h>
#include <linux/kcmp.h>

/* Big enough for a few hundred sockets per recv; the kernel never splits one
 * message across datagrams, and a dump fills at most what we offer. */
#define DIAG_BUF_SIZE (64 * 1024)
/* A dump that does not finish in this time is a kernel or permission problem,
 * not something to wait on forever in the caller's thread. */
#define DIAG_RECV_TIMEOUT_SEC 5

static void set_str(napi_env env, napi_value obj, const char *key, const char *s) {
  napi_value v;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, key, v);
}

static void set_num(napi_env env, napi_value obj, const char *key, int64_t n) {
  napi_set_named_property(env, obj, key, el_int(env, n));
}

static void addr_str(int family, const __be32 *words, char *out, size_t cap) {
  if (family == AF_INET6) {
    if (!inet_ntop(AF_INET6, words, out, (socklen_t)cap)) out[0] = '\0';
  } else {
    if (!inet_ntop(AF_INET, words, out, (socklen_t)cap)) out[0] = '\0';
  }
}

/* The SK_MEMINFO_DROPS word of an INET_DIAG_SKMEMINFO attribute, or -1 when
 * the reply has none or a shorter array (kernels before sk_drops was added). */
static int64_t diag_drops(const struct nlmsghdr *h) {
  const struct inet_diag_msg *m = (const struct inet_diag_msg *)NLMSG_DATA(h);
  int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*m));
  for (const struct rtattr *a = (const struct rtattr *)((const char *)m + NLMSG_ALIGN(sizeof(*m)));
       RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    if (a->rta_type != INET_DIAG_SKMEMINFO) continue;
    if (RTA_PAYLOAD(a) < (SK_MEMINFO_DROPS + 1) * sizeof(uint32_t)) return -1;
    uint32_t v;
    memcpy(&v, (const char *)RTA_DATA(a) + SK_MEMINFO_DROPS * sizeof(uint32_t), sizeof(v));
    return (int64_t)v;
  }
  return -1;
}

static napi_value diag_to_js(napi_env env, const struct nlmsghdr *h) {
  const struct inet_diag_msg *m = (const struct inet_diag_msg *)NLMSG_DATA(h);
  char local[INET6_ADDRSTRLEN], remote[INET6_ADDRSTRLEN];
  addr_str(m->idiag_family, m->id.idiag_src, local, sizeof(local));
  addr_str(m->idiag_family, m->id.idiag_dst, remote, sizeof(remote));
  napi_value obj;
  if (napi_create_object(env, &obj) != napi_ok) return NULL;
  set_num(env, obj, "family", m->idiag_family);
  set_num(env, obj, "state", m->idiag_state);
  set_str(env, obj, "localAddress", local);
  set_num(env, obj, "localPort", ntohs(m->id.idiag_sport));
  set_str(env, obj, "remoteAddress", remote);
  set_num(env, obj, "remotePort", ntohs(m->id.idiag_dport));
  set_num(env, obj, "inode", (int64_t)m->idiag_inode);
  set_num(env, obj, "uid", (int64_t)m->idiag_uid);
  set_num(env, obj, "rqueue", (int64_t)m->idiag_rqueue);
  set_num(env, obj, "wqueue", (int64_t)m->idiag_wqueue);
  /* null, not 0, when absent: "no drops" and "cannot tell" must stay distinct. */
  int64_t drops = diag_drops(h);
  if (drops >= 0) {
    set_num(env, obj, "drops", drops);
  } else {
    napi_value nul;
    napi_get_null(env, &nul);
    napi_set_named_property(env, obj, "drops", nul);
  }
  return obj;
}

/* Sends one dump request. Returns 0 or -errno. */
static int diag_request(int fd, uint8_t family, uint32_t states, uint32_t seq) {
  struct {
    struct nlmsghdr nlh;
    struct inet_diag_req_v2 req;
  } msg;
  memset(&msg, 0, sizeof(msg));
  msg.nlh.nlmsg_len = sizeof(msg);
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  msg.nlh.nlmsg_seq = seq;
  msg.req.sdiag_family = family;
  msg.req.sdiag_protocol = IPPROTO_TCP;
  msg.req.idiag_states = states;
  /* The extension bits are 1 << (attribute - 1); SKMEMINFO needs no privilege. */
  msg.req.idiag_ext = 1 << (INET_DIAG_SKMEMINFO - 1);

  struct sockaddr_nl kernel;
  memset(&kernel, 0, sizeof(kernel));
  kernel.nl_family = AF_NETLINK;
  for (;;) {
    ssize_t n = sendto(fd, &msg, sizeof(msg), 0, (struct sockaddr *)&kernel, sizeof(kernel));
    if (n >= 0) return n == (ssize_t)sizeof(msg) ? 0 : -EIO;
    if (errno != EINTR) return -errno;
  }
}

/* Reads the dump into `arr`. Returns the count, or -errno (an NLMSG_ERROR
 * from the kernel carries its own negative errno). */
static int diag_collect(napi_env env, int fd, uint32_t seq, napi_value arr, uint8_t *buf) {
  uint32_t count = 0;
  for (;;) {
    ssize_t n = recv(fd, buf, DIAG_BUF_SIZE, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) return -EIO;
    int len = (int)n;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != seq) continue; /* not our dump */
      if (h->nlmsg_type == NLMSG_DONE) return (int)count;
      if (h->nlmsg_type == NLMSG_ERROR) {
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr))) return -EIO;
        const struct nlmsgerr *e = (const struct nlmsgerr *)NLMSG_DATA(h);
        return e->error < 0 ? e->error : -EIO;
      }
      if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
      if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg))) return -EIO;
      napi_value obj = diag_to_js(env, h);
      if (!obj || napi_set_element(env, arr, count, obj) != napi_ok) return -ENOMEM;
      count++;
    }
    /* Leftover bytes that do not form a whole message mean a truncated read. */
    if (len != 0) return -EIO;
  }
}

/* inetDiag(family, statesMask) -> [{family, state, localAddress, ..., rqueue,
 * wqueue, drops}] or -errno; drops is null when the kernel sent no sk_drops.
 * statesMask is a bitmask of (1 << TCP_STATE), e.g. 1 << 10 for LISTEN. */
static napi_value js_inetDiag(napi_env env, napi_callback_info info) {
  ARGS(2);
  int32_t family, states;
  if (el_arg_i32(env, argv[0], &family) || el_arg_i32(env, argv[1], &states)) return NULL;
  if (family != AF_INET && family != AF_INET6) return el_int(env, -EAFNOSUPPORT);

  int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return el_int(env, -errno);

  int r;
  struct timeval tv = {.tv_sec = DIAG_RECV_TIMEOUT_SEC, .tv_usec = 0};
  if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
    r = -errno;
    close(fd);
    return el_int(env, r);
  }
  /* The sequence number tells our replies from anything stale on the socket;
   * the socket is fresh, so any constant works, but be explicit. */
  const uint32_t seq = 0x65646c70; /* "edlp" */
  r = diag_request(fd, (uint8_t)family, (uint32_t)states, seq);
  if (r < 0) {
    close(fd);
    return el_int(env, r);
  }
  napi_value arr;
  if (napi_create_array(env, &arr) != napi_ok) {
    close(fd);
    return el_int(env, -ENOMEM);
  }
  /* malloc is suitably aligned for struct nlmsghdr; the heap keeps 64 KiB
   * off the JS thread's stack. */
  uint8_t *buf = malloc(DIAG_BUF_SIZE);
  if (!buf) {
    close(fd);
    return el_int(env, -ENOMEM);
  }
  r = diag_collect(env, fd, seq, arr, buf);
  free(buf);
  close(fd);
  if (r < 0) {
    /* A JS exception may be pending if an N-API call failed; let it surface. */
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) return NULL;
    return el_int(env, r);
  }
  return arr;
}

/* kcmpFile(pid1, pid2, fd1, fd2) -> 0 same open file description, 1 or 2
 * ordering (different), 3 not comparable (different), or -errno (EPERM without
 * ptrace access, EBADF for a closed fd, ESRCH for a gone process, ENOSYS when
 * the kernel lacks CONFIG_KCMP/CONFIG_CHECKPOINT_RESTORE). */
static napi_value js_kcmpFile(napi_env env, napi_callback_info info) {
  ARGS(4);
  int32_t pid1, pid2, fd1, fd2;
  if (el_arg_i32(env, argv[0], &pid1) || el_arg_i32(env, argv[1], &pid2) ||
      el_arg_i32(env, argv[2], &fd1) || el_arg_i32(env, argv[3], &fd2)) return NULL;
#ifdef SYS_kcmp
  long r = syscall(SYS_kcmp, (pid_t)pid1, (pid_t)pid2, KCMP_FILE, (unsigned long)fd1,
                   (unsigned long)fd2);
  return el_int(env, r < 0 ? -errno : r);
#else
  return el_int(env, -ENOSYS);
#endif
}

void el_init_diag(napi_env env, napi_value exports) {
  el_export(env, exports, "inetDiag", js_inetDiag);
  el_export(env, exports, "kcmpFile", js_kcmpFile);
}
