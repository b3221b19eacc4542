import type { MessageProperties } from './message-properties.js';

/** Frame kinds of protocol v1 and their typed shapes. The wire layout lives in schema.ts. */

export enum FrameKind {
  HELLO = 1,
  WELCOME = 2,
  PING = 3,
  PONG = 4,
  SUB = 5,
  UNSUB = 6,
  PUB = 7,
  SEND = 8,
  MSG = 9,
  ACK = 10,
  ERROR = 11,
  OK = 12,
  RESET = 13,
  RESYNC = 14,
  AUTH = 15,
}

/** QoS 0: at most once, not stored. QoS 1: at least once, stored until acked. */
export type Qos = 0 | 1;

/** A position in a stream: the client's last seen offset under a given epoch. */
export interface StreamPosition {
  stream: string;
  epoch: string;
  offset: number;
}

interface FrameBase {
  /** Sender-chosen sequence number; replies reference it. 0 for server pushes (MSG). */
  seq: number;
}

export interface HelloFrame extends FrameBase {
  kind: FrameKind.HELLO;
  versions: number[];
  deviceId: string;
  token?: string;
  resume?: StreamPosition[];
}

export interface WelcomeFrame extends FrameBase {
  kind: FrameKind.WELCOME;
  version: number;
  sessionId: string;
  heartbeatMs: number;
  maxFrameBytes: number;
  maxInflight: number;
  /** Whether server-side session state (subscriptions, cursors) was found for this device. */
  sessionPresent: boolean;
}

export interface PingFrame extends FrameBase {
  kind: FrameKind.PING;
  ts?: number;
}

export interface PongFrame extends FrameBase {
  kind: FrameKind.PONG;
  ts?: number;
}

export interface SubFrame extends FrameBase {
  kind: FrameKind.SUB;
  filters: string[];
  qos?: Qos;
}

export interface UnsubFrame extends FrameBase {
  kind: FrameKind.UNSUB;
  filters: string[];
}

export interface PubFrame extends FrameBase {
  kind: FrameKind.PUB;
  topic: string;
  payload: Uint8Array;
  qos?: Qos;
  traceId?: string;
  /** Passed to every receiver unchanged (MQTT 5 publication properties). */
  props?: MessageProperties;
  /** Published with MQTT's RETAIN flag: retain-as-published MQTT subscribers see it set. */
  retain?: boolean;
}

export interface SendFrame extends FrameBase {
  kind: FrameKind.SEND;
  target: string;
  payload: Uint8Array;
  qos?: Qos;
  traceId?: string;
  /** Passed to every receiver unchanged (MQTT 5 publication properties). */
  props?: MessageProperties;
}

export interface MsgFrame extends FrameBase {
  kind: FrameKind.MSG;
  /** Topic name, or `$inbox/<deviceId>` for point-to-point messages. */
  stream: string;
  offset: number;
  payload: Uint8Array;
  traceId: string;
  qos: Qos;
  /** Sender device id, when a device sent it. */
  from?: string;
  /** Stream epoch, for durable streams. */
  epoch?: string;
  /** 1 on first delivery, higher on redelivery. */
  delivery?: number;
  /** Route the message took across cluster nodes, when it crossed any. */
  hops?: string[];
  /** The publisher's properties; `expirySeconds` is what remains of the message's lifetime. */
  props?: MessageProperties;
  /** Published with MQTT's RETAIN flag (absent: without). */
  retain?: boolean;
}

export interface AckFrame extends FrameBase {
  kind: FrameKind.ACK;
  stream: string;
  offset: number;
}

export interface ErrorFrame extends FrameBase {
  kind: FrameKind.ERROR;
  code: number;
  message: string;
  /** seq of the frame that caused the error, when known. */
  ref?: number;
}

export interface OkFrame extends FrameBase {
  kind: FrameKind.OK;
  /** seq of the request frame this confirms. */
  ref: number;
  /** For a QoS 1 PUB/SEND: the stream offset the message was stored at. */
  offset?: number;
}

/**
 * Server → client: the stream's history no longer covers the client's position (retention
 * pruned it, or the stream was reset under a new epoch). Delivery continues after `offset`
 * under `epoch`; whatever lay between is gone. The "recovered: false" of the protocol.
 */
export interface ResetFrame extends FrameBase {
  kind: FrameKind.RESET;
  stream: string;
  epoch: string;
  offset: number;
  reason: string;
}

/** Client → server: "I hold everything of `stream` up to `offset`; send what follows" (gap repair). */
export interface ResyncFrame extends FrameBase {
  kind: FrameKind.RESYNC;
  stream: string;
  offset: number;
}

/** Client → server: a fresh token for the running session (before the old one expires). Answered with OK. */
export interface AuthFrame extends FrameBase {
  kind: FrameKind.AUTH;
  token: string;
}

export type Frame =
  | HelloFrame
  | WelcomeFrame
  | PingFrame
  | PongFrame
  | SubFrame
  | UnsubFrame
  | PubFrame
  | SendFrame
  | MsgFrame
  | AckFrame
  | ErrorFrame
  | OkFrame
  | ResetFrame
  | ResyncFrame
  | AuthFrame;

/** The frame type for a given kind. */
export type FrameOf<K extends FrameKind> = Extract<Frame, { kind: K }>;
