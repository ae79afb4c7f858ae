export { native, C } from './binding.js';
export type { NativeBinding, SockAddr, InetDiagSocket } from './binding.js';
export { SysError, check, errnoName, Errno } from './errors.js';
export { epollWaitBlocking } from './blocking.js';
