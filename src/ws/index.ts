/**
 * edgeloop's WebSocket server (RFC 6455, permessage-deflate RFC 7692): the
 * `websocket` option of serve(), the socket object handlers receive, and the
 * protocol pieces (for adapters and tools). See docs/websocket.md.
 */
export { ServerWebSocket, WS_OPEN, WS_CLOSING, WS_CLOSED } from './websocket.js';
export {
  SendStatus,
  type SendResult,
  type SendOptions,
  type WsData,
  type WebSocketBehavior,
  type WebSocketHandlers,
  type WebSocketOptions,
  type CompressionMode,
} from './options.js';
export { CloseCode, isValidCloseCode } from './frame.js';
export { acceptKey } from './handshake.js';
export { Utf8Validator } from './utf8.js';
