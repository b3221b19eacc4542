import type { MsgFrame, WelcomeFrame } from '../../../src/protocol/index.js';

/** What the broker granted in its WELCOME (version, session id, heartbeat, limits, sessionPresent), plus the URL that answered. */
export type WelcomeInfo = Omit<WelcomeFrame, 'kind' | 'seq'> & { url: string };

/** A message delivered by the broker: the MSG frame's fields (stream, offset, payload, traceId, qos, from, epoch, delivery, hops, props). */
export type Message = Omit<MsgFrame, 'kind' | 'seq'>;

export interface DisconnectInfo {
  /** WebSocket close code (see CloseCode); 1006 when the connection dropped without one. */
  code: number;
  reason: string;
  willReconnect: boolean;
}

export interface ReconnectInfo {
  /** 1 for the first attempt after a failure; restarts after each successful handshake. */
  attempt: number;
  delayMs: number;
  /** The broker URL the attempt will use. */
  url: string;
}

/**
 * A stream's history no longer covers this client's position: messages were lost for good.
 * Sent by the broker (retention pruned them, or the stream was recreated under a new epoch), or
 * concluded by the SDK when a message arrives under a new epoch without one ('epoch changed').
 */
export interface ResetInfo {
  stream: string;
  /** The epoch delivery continues under. */
  epoch: string;
  /** Delivery continues after this offset; what lay between the old position and it is gone. */
  offset: number;
  reason: string;
}

export interface ClientEvents {
  connected: WelcomeInfo;
  /** A connection that had completed its handshake ended. */
  disconnected: DisconnectInfo;
  reconnecting: ReconnectInfo;
  message: Message;
  /** QoS 1 history was lost on a stream; delivery goes on after the new position. */
  reset: ResetInfo;
  /** Errors no promise could carry: unsolicited ERROR frames, bad frames, failed resubscribes, throwing listeners. */
  error: Error;
  /** The client stopped for good: close() was called, reconnect is off, or the broker refused terminally. */
  closed: void;
}
