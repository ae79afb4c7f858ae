/* Kernel interfaces /proc lacks, for `edgeloop doctor`: NETLINK_SOCK_DIAG
 * (inet_diag) and kcmp(KCMP_FILE). Filled in by the doctor work. */
#include "common.h"

void el_init_diag(napi_env env, napi_value exports) {
  (void)env;
  (void)exports;
}
