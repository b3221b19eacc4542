import { SUPPORTED_VERSIONS } from '../../../src/protocol/index.js';
import { exponentialBackoff, type BackoffOptions, type ReconnectDelay } from '../../../src/protocol/backoff.js';
import { DEFAULT_RECONCILE_MS } from './resync-scheduler.js';
import type { WebSocketConstructor } from './websocket.js';

/** `false`: never reconnect; options: exponential backoff; a function: your own delay per attempt. */
export type ReconnectPolicy = false | BackoffOptions | ReconnectDelay;

interface CommonOptions {
  deviceId: string;
  token?: string;
  /** Protocol versions to offer. Default: every version this SDK speaks. */
  versions?: readonly number[];
  /** PING interval. Default: the heartbeatMs of the broker's WELCOME. */
  heartbeatMs?: number;
  /** With no inbound frame for this long the connection is dropped and redialled. Default 2.5 × heartbeat. */
  deadPeerTimeoutMs?: number;
  /** Deadline for each request's reply and for each connection attempt's WELCOME. Default 10000. */
  requestTimeoutMs?: number;
  /** Default: exponential backoff from 1 s doubling to 32 s, with 50 % jitter. */
  reconnect?: ReconnectPolicy;
  /** Default: globalThis.WebSocket in browsers, the `ws` package in Node. */
  WebSocket?: WebSocketConstructor;
  /** Ack QoS 1 messages after the 'message' listeners ran. Default true; false means call ack() yourself. */
  autoAck?: boolean;
  /**
   * QoS 1 messages reach the application in offset order. One that skips offsets is held back
   * and the SDK sends RESYNC for the missing ones, repeated every second while nothing arrives,
   * up to 5 times. Every `reconcileMs` the SDK starts another such round for each gap still open,
   * so none is left unrepaired. Streams without a gap are left alone. Default 60000; 0 disables.
   */
  reconcileMs?: number;
}

/** One broker URL, or several tried in turn on reconnect. */
export type ClientOptions = CommonOptions & ({ url: string; urls?: never } | { urls: readonly string[]; url?: never });

export interface ResolvedOptions {
  urls: readonly string[];
  deviceId: string;
  token: string | undefined;
  versions: readonly number[];
  heartbeatMs: number | undefined;
  deadPeerTimeoutMs: number | undefined;
  requestTimeoutMs: number;
  /** undefined when reconnecting is off. */
  reconnectDelay: ReconnectDelay | undefined;
  WebSocket: WebSocketConstructor | undefined;
  autoAck: boolean;
  /** 0: no reconciliation. */
  reconcileMs: number;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** Used when the WELCOME carries no heartbeat interval (0). */
export const DEFAULT_HEARTBEAT_MS = 30_000;
export const DEAD_PEER_HEARTBEATS = 2.5;
const MAX_TIMER_MS = 2_147_483_647;

/** Applies defaults and checks every option once, so mistakes fail at construction with a clear message. */
export function resolveOptions(options: ClientOptions): ResolvedOptions {
  const urls = options.urls ?? (options.url === undefined ? [] : [options.url]);
  if (urls.length === 0) throw new TypeError('give the broker address as `url` or a non-empty `urls`');
  for (const url of urls) checkUrl(url);
  if (typeof options.deviceId !== 'string' || options.deviceId.length === 0) {
    throw new TypeError('deviceId must be a non-empty string');
  }
  const versions = options.versions ?? SUPPORTED_VERSIONS;
  if (versions.length === 0 || !versions.every((v) => Number.isSafeInteger(v) && v > 0)) {
    throw new TypeError(`versions must be a non-empty list of positive integers, got ${JSON.stringify(versions)}`);
  }
  const heartbeatMs = optionalPositive('heartbeatMs', options.heartbeatMs);
  const deadPeerTimeoutMs = optionalPositive('deadPeerTimeoutMs', options.deadPeerTimeoutMs);
  if (heartbeatMs !== undefined && deadPeerTimeoutMs !== undefined && deadPeerTimeoutMs <= heartbeatMs) {
    throw new RangeError(`deadPeerTimeoutMs (${deadPeerTimeoutMs}) must exceed heartbeatMs (${heartbeatMs}) or every PONG would come too late`);
  }
  if (options.WebSocket !== undefined && typeof options.WebSocket !== 'function') {
    throw new TypeError('WebSocket must be a WebSocket constructor');
  }
  return {
    urls: [...urls],
    deviceId: options.deviceId,
    token: options.token,
    versions: [...versions],
    heartbeatMs,
    deadPeerTimeoutMs,
    requestTimeoutMs: optionalPositive('requestTimeoutMs', options.requestTimeoutMs) ?? DEFAULT_REQUEST_TIMEOUT_MS,
    reconnectDelay: reconnectDelay(options.reconnect),
    WebSocket: options.WebSocket,
    autoAck: options.autoAck ?? true,
    reconcileMs: reconcileMs(options.reconcileMs),
  };
}

function reconnectDelay(policy: ReconnectPolicy | undefined): ReconnectDelay | undefined {
  if (policy === false) return undefined;
  if (typeof policy === 'function') return policy;
  return exponentialBackoff(policy);
}

function reconcileMs(value: number | undefined): number {
  if (value === undefined) return DEFAULT_RECONCILE_MS;
  // Timers fire at once beyond 2^31-1 ms, which would turn a "rarely" into "constantly".
  if (!(Number.isFinite(value) && value >= 0 && value <= MAX_TIMER_MS)) {
    throw new RangeError(`reconcileMs must be 0 (disabled) or a number of ms up to ${MAX_TIMER_MS}, got ${value}`);
  }
  return value;
}

function checkUrl(url: string): void {
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw new TypeError(`not a URL: ${JSON.stringify(url)}`);
  }
  if (protocol !== 'ws:' && protocol !== 'wss:') throw new TypeError(`broker URL must start with ws:// or wss://, got ${url}`);
}

function optionalPositive(name: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`${name} must be a positive number of ms, got ${value}`);
  return value;
}
