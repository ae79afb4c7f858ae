/**
 * edgeloop/reactor: the public surface of the epoll reactor, one event loop
 * per thread. Internals that need raw fds or another thread's ring (Poller,
 * Channel, Acceptor, LoopQueue, ServerLoop, listenTcp) stay in their modules.
 */
export { EventLoop, type EventLoopOptions } from './EventLoop.js';
export { Buffer } from './Buffer.js';
export type { Timer } from './TimerQueue.js';
export { TcpConnection, type ConnectionHandlers, type ConnState, type CloseReason } from './TcpConnection.js';
export { describeFdShortage, type FdShortage } from './Acceptor.js';
export { STAT_FIELDS, type LoopStats, type LoopStatsSnapshot, type StatusClass } from './LoopStats.js';
export { parseProxyHeader, type ProxyHeaderResult } from './ProxyProtocol.js';
export type { ServerHandlers, ServerContext, SetupFn } from './ServerLoop.js';
export { TcpServer, ACCEPT_STRATEGIES, type TcpServerOptions, type ServerInfo, type AcceptStrategy, type DispatchPolicy } from './TcpServer.js';
export { connect, TcpClient, ConnectionPool, type ConnectOptions, type PoolOptions, type RetryOptions } from './TcpClient.js';
export { SysError } from '../native/errors.js';
