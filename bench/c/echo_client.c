/* A minimal epoll echo load generator for bench/echo: C connections ping-pong
 * SIZE-byte messages for SECONDS and print round trips per second. Written in
 * C so the client is never the bottleneck of a one-core server measurement.
 * usage: echo_client PORT CONNECTIONS SIZE SECONDS */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc < 5) { fprintf(stderr, "usage: echo_client PORT CONNECTIONS SIZE SECONDS\n"); return 2; }
  int port = atoi(argv[1]), n = atoi(argv[2]), size = atoi(argv[3]);
  double secs = atof(argv[4]);
  char *msg = malloc(size), buf[65536];
  memset(msg, 'a', size);
  int ep = epoll_create1(0);
  int *pending = calloc(n, sizeof(int));
  int *fds = calloc(n, sizeof(int));
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  for (int i = 0; i < n; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) { perror("connect"); return 1; }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    fds[i] = fd;
    pending[i] = size;
    if (send(fd, msg, size, MSG_NOSIGNAL) != size) { perror("send"); return 1; }
  }
  long trips = 0;
  double warm = now() + 0.5, start = 0, end = warm + secs;
  int measuring = 0;
  struct epoll_event evs[256];
  for (;;) {
    double t = now();
    if (!measuring && t >= warm) { measuring = 1; start = t; trips = 0; }
    if (t >= end) break;
    int k = epoll_wait(ep, evs, 256, 100);
    for (int j = 0; j < k; j++) {
      int i = evs[j].data.u32;
      ssize_t r = recv(fds[i], buf, sizeof(buf), 0);
      if (r <= 0) { fprintf(stderr, "connection %d closed\n", i); return 1; }
      pending[i] -= r;
      if (pending[i] <= 0) {
        trips++;
        pending[i] = size;
        send(fds[i], msg, size, MSG_NOSIGNAL);
      }
    }
  }
  printf("%.0f\n", trips / (now() - start));
  return 0;
}
