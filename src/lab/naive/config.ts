/**
 * What a naive server is made of: how its workers wait for connections and
 * how they accept them. Structured-clonable: it crosses into the server child
 * process (as JSON) and into every worker thread (as workerData).
 */

/**
 * shared-epoll: one epoll instance holding the one listener; every worker
 *   blocks in epoll_wait on it (fork after epoll_create, as in the 20-worker field report).
 * epoll-per-worker: one listener, one epoll instance per worker.
 * reuseport: one SO_REUSEPORT listener and one epoll instance per worker.
 */
export type Topology = 'shared-epoll' | 'epoll-per-worker' | 'reuseport';

export interface NaiveConfig {
  topology: Topology;
  workers: number;
  /** Register the listener with EPOLLET. */
  edgeTriggered: boolean;
  /** Register the listener with EPOLLEXCLUSIVE (epoll-per-worker only). */
  exclusive: boolean;
  /** 'one': one accept() per wakeup, as the field reports' servers; 'drain': until EAGAIN. */
  accept: 'one' | 'drain';
  /** Sleep between the wakeup and the accept (the field report's `slp`), ms. */
  slpMs: number;
  /** listen() backlog; the kernel caps it at net.core.somaxconn. */
  backlog: number;
  host: string;
}

/** What a worker thread is handed: the fds are plain integers, shared by every thread of the process. */
export interface WorkerSetup {
  index: number;
  epfd: number;
  listenFd: number;
  /** The responder's epoll instance: accepted connections are registered there. */
  responderEpfd: number;
  accept: NaiveConfig['accept'];
  slpMs: number;
  counters: SharedArrayBuffer;
  workers: number;
}

/** How long a worker blocks in epoll_wait before it looks at the stop flag. */
export const WAIT_MS = 100;
