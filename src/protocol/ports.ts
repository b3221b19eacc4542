import type { CloseCode } from './errors.js';
import type { Frame, HelloFrame, Qos } from './frames.js';
import type { MessageProperties } from './message-properties.js';
import type { OutgoingMsg } from './outgoing-msg.js';

/**
 * The interfaces that protocol handlers and device actors work through. Handlers never
 * touch sockets: they return effects, which the device actor carries out on its Outbound.
 */

export type Effect =
  | { type: 'send'; frame: Frame }
  | { type: 'close'; code: CloseCode; reason: string }
  /**
   * Effects that follow later (e.g. the OK of a QoS 1 publish, after its commit) without
   * holding up the device's next frames. A rejection becomes an ERROR for frame `ref`.
   */
  | { type: 'later'; ref: number; effects: Promise<Effect[]> };

/**
 * Messages in and out of one protocol's devices (relaymesh or MQTT): plain numbers, shared by
 * every connection of that protocol and bumped on the hot path; metrics read them when scraped.
 */
export interface MessageTally {
  messagesIn: number;
  messagesOut: number;
}

export const newMessageTally = (): MessageTally => ({ messagesIn: 0, messagesOut: 0 });

/**
 * What HELLO needs of the broker, bound to one connection that is not admitted yet. `Grant`
 * is the broker's record of what the credentials allow; the protocol only passes it on.
 */
export interface HandshakePort<Grant extends { ok: true }> {
  /** Protocol versions the broker speaks. */
  readonly versions: readonly number[];
  /** What WELCOME announces. */
  readonly limits: { heartbeatMs: number; maxFrameBytes: number; maxInflight: number };
  authenticate(hello: HelloFrame): Promise<Grant | { ok: false; reason: string }>;
  /** Whether the broker holds a session of the device (WELCOME's sessionPresent). */
  hasSession(deviceId: string): boolean;
  newSessionId(): string;
}

/** What HELLO returns: replies and closes, and the admission the connection carries out before WELCOME goes out. */
export type HandshakeEffect<Grant> =
  | Extract<Effect, { type: 'send' | 'close' }>
  | { type: 'admit'; hello: HelloFrame; version: number; sessionId: string; grant: Grant };

/** The socket side of one connection: the transport implements it. */
export interface Outbound {
  /**
   * Queues already-encoded bytes; the transport coalesces a tick's writes per socket.
   * A `droppable` (QoS 0) frame is dropped, and counted, when the socket is backed up.
   */
  write(bytes: Uint8Array, droppable?: boolean): void;
  /**
   * Queues a live, droppable (QoS 0) MSG. A receiver that has it skips the relaymesh encoding
   * (MQTT reads the frame); without it, `write(msg.bytes, true)` is used.
   */
  deliver?(msg: OutgoingMsg): void;
  /** Closes with a WebSocket close code and a short reason. Idempotent. */
  close(code: CloseCode, reason: string): void;
  readonly closed: boolean;
  /** Counts the messages delivered through this connection (its protocol's tally, resolved once). */
  readonly tally: MessageTally;
}

/** A message entering the broker, from a device or from the server-side API. */
export interface Publication {
  topic: string;
  payload: Uint8Array;
  qos: Qos;
  traceId: string;
  from?: string;
  /** Cluster nodes the message crossed, origin first (absent when it never left its node). */
  hops?: string[];
  /** Passed to receivers unchanged (MQTT 5 publication properties). */
  props?: MessageProperties;
  /** Published with MQTT's RETAIN flag: retain-as-published MQTT subscribers see it set. */
  retain?: boolean;
}

export interface DirectMessage {
  target: string;
  payload: Uint8Array;
  qos: Qos;
  traceId: string;
  from?: string;
  /** Cluster nodes the message crossed, origin first (absent when it never left its node). */
  hops?: string[];
  /** Passed to receivers unchanged (MQTT 5 publication properties). */
  props?: MessageProperties;
}

/** Where a stored message landed; absent for QoS 0. */
export interface Stored {
  offset: number;
}

/** What a connected device may ask of the broker. Bound to one connection. */
export interface BrokerPort {
  subscribe(filters: readonly string[], qos: Qos): void | Promise<void>;
  unsubscribe(filters: readonly string[]): void | Promise<void>;
  publish(publication: Publication): Stored | undefined | Promise<Stored | undefined>;
  send(message: DirectMessage): Stored | undefined | Promise<Stored | undefined>;
  ack(stream: string, offset: number): void | Promise<void>;
  /** Replaces the session's credentials (token refresh); rejects with UNAUTHORIZED. */
  reauthenticate(token: string): Promise<void>;
  /** The client holds `stream` up to `offset`: deliver again from there. */
  resync(stream: string, offset: number): void;
  newTraceId(): string;
}

/**
 * Where one connection is in its life. One value per connection, moved by whoever acts at
 * that step: the gateway (HELLO, authentication, refusal), the device actor (live, closing).
 */
export enum ConnectionState {
  /** Open; the first frame must be HELLO. */
  AwaitingHello = 'awaiting-hello',
  /** HELLO accepted, credentials being checked; frames sent meanwhile wait. */
  Authenticating = 'authenticating',
  /** Turned away at open (too many connections from its address): nothing it sends is read. */
  Refused = 'refused',
  /** Admitted with a device actor; the stored session is being restored. */
  Authenticated = 'authenticated',
  /** Restored and replayed: live delivery. */
  Live = 'live',
  /** Closing: frames still arriving are ignored. */
  Closing = 'closing',
}

/** The state of one connection, shared by its gateway and its device actor. */
export interface ConnectionStatus {
  state: ConnectionState;
}

/** Per-connection session context a device actor carries. */
export interface Session {
  readonly deviceId: string;
  readonly sessionId: string;
  readonly version: number;
  readonly subscriptions: ReadonlyMap<string, Qos>;
  readonly counters: { framesIn: number; framesOut: number; errors: number; restarts: number };
}

export interface HandlerContext {
  session: Session;
  broker: BrokerPort;
}
