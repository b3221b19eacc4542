/** Public API of the relaymesh client SDK. */
export { RelaymeshClient, type PublishOptions, type PublishResult, type SubscribeOptions } from './client.js';
export type { ClientOptions, ReconnectPolicy } from './options.js';
export type { ClientEvents, DisconnectInfo, Message, ReconnectInfo, ResetInfo, WelcomeInfo } from './events.js';
export { DisconnectedError, RelaymeshError, TimeoutError } from './errors.js';
export { DEFAULT_BACKOFF, exponentialBackoff, RetrySchedule, type BackoffOptions, type ReconnectDelay } from '../../../src/protocol/backoff.js';
export type { WebSocketConstructor, WebSocketLike } from './websocket.js';
export { CloseCode, ErrorCode, shouldReconnect, SUPPORTED_VERSIONS, type MessageProperties, type Qos, type StreamPosition } from '../../../src/protocol/index.js';
