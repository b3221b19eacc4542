import { Packr, Unpackr } from 'msgpackr';

/**
 * Frames on a peer link: one msgpack array `[kind, ...fields]` per WebSocket message, fields in
 * the order of `LAYOUTS`. Payloads travel as opaque bytes (`bin`), packed once at the origin, so
 * a relaying node re-encodes only the small envelope, never the payload.
 */
export const CLUSTER_PROTOCOL_VERSION = 1;

export const Kind = {
  HELLO: 1,
  CHALLENGE: 2,
  PROOF: 3,
  WELCOME: 4,
  PING: 5,
  PONG: 6,
  LSA: 7,
  DATA: 8,
  DATA_ACK: 9,
  BCAST: 10,
  /** Several encoded frames in one WebSocket message: one socket write for a tick's frames to a peer. */
  BATCH: 11,
} as const;

/** Outcome of a hop-by-hop transfer of a reliable DATA frame. */
export const AckStatus = {
  /** Delivered to the destination's handler (and, before that, handed on by every hop). */
  OK: 0,
  /** Not delivered this time (no route, link lost, timeout, loop): the origin keeps it and retries. */
  RETRY: 1,
  /** The destination's handler refused it: final, the origin's promise rejects. */
  REJECTED: 2,
} as const;
export type AckStatus = (typeof AckStatus)[keyof typeof AckStatus];

/** WebSocket close codes of peer links. */
export const LinkClose = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  /** This node failed handling the peer's frame (a bug here, not the peer's fault). */
  INTERNAL: 1011,
  PROTOCOL: 4400,
  BAD_SECRET: 4401,
  WRONG_NODE: 4404,
  TIMEOUT: 4408,
  DUPLICATE: 4409,
} as const;

export interface HelloFrame { kind: typeof Kind.HELLO; version: number; nodeId: string; expect: string; nonce: string }
export interface ChallengeFrame { kind: typeof Kind.CHALLENGE; nodeId: string; nonce: string }
export interface ProofFrame { kind: typeof Kind.PROOF; proof: string }
export interface WelcomeFrame { kind: typeof Kind.WELCOME; proof: string }
export interface PingFrame { kind: typeof Kind.PING; seq: number }
export interface PongFrame { kind: typeof Kind.PONG; seq: number }
/** Link-state advertisement: `origin`'s neighbours and its costs to them, versioned by `seq`. */
export interface LsaFrame { kind: typeof Kind.LSA; origin: string; seq: number; neighbours: [string, number][] }
/** A routed payload. `xid` is 0 for best-effort frames, else the sending hop's transfer id to ack. */
export interface DataFrame {
  kind: typeof Kind.DATA;
  xid: number;
  id: string;
  origin: string;
  dest: string;
  hops: string[];
  channel: number;
  payload: Uint8Array;
}
export interface DataAckFrame { kind: typeof Kind.DATA_ACK; xid: number; status: AckStatus; reason: string }
export interface BroadcastFrame { kind: typeof Kind.BCAST; origin: string; bid: string; hops: string[]; payload: Uint8Array }
export interface BatchFrame { kind: typeof Kind.BATCH; frames: Uint8Array[] }

export type Frame =
  | HelloFrame
  | ChallengeFrame
  | ProofFrame
  | WelcomeFrame
  | PingFrame
  | PongFrame
  | LsaFrame
  | DataFrame
  | DataAckFrame
  | BroadcastFrame
  | BatchFrame;

type FieldType = 'uint' | 'id' | 'str' | 'ids' | 'costs' | 'bin' | 'bins' | 'status';

const LAYOUTS: Record<Frame['kind'], readonly (readonly [string, FieldType])[]> = {
  [Kind.HELLO]: [['version', 'uint'], ['nodeId', 'id'], ['expect', 'id'], ['nonce', 'str']],
  [Kind.CHALLENGE]: [['nodeId', 'id'], ['nonce', 'str']],
  [Kind.PROOF]: [['proof', 'str']],
  [Kind.WELCOME]: [['proof', 'str']],
  [Kind.PING]: [['seq', 'uint']],
  [Kind.PONG]: [['seq', 'uint']],
  [Kind.LSA]: [['origin', 'id'], ['seq', 'uint'], ['neighbours', 'costs']],
  [Kind.DATA]: [['xid', 'uint'], ['id', 'str'], ['origin', 'id'], ['dest', 'id'], ['hops', 'ids'], ['channel', 'uint'], ['payload', 'bin']],
  [Kind.DATA_ACK]: [['xid', 'uint'], ['status', 'status'], ['reason', 'str']],
  [Kind.BCAST]: [['origin', 'id'], ['bid', 'str'], ['hops', 'ids'], ['payload', 'bin']],
  [Kind.BATCH]: [['frames', 'bins']],
};

/** Node ids: short, printable, safe in logs, URLs and `id@host:port` seed strings. */
export const NODE_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
const MAX_LIST = 1024;
const MAX_STR = 4096;
const MAX_BATCH = 65_536;

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

export function encodeFrame(frame: Frame): Uint8Array {
  const fields = frame as unknown as Record<string, unknown>;
  return packr.pack([frame.kind, ...LAYOUTS[frame.kind].map(([name]) => fields[name])]);
}

/** Decodes and validates one frame. Never throws: bad input becomes a reason string. */
export function decodeFrame(bytes: Uint8Array): Frame | string {
  let wire: unknown;
  try {
    wire = unpackr.unpack(bytes);
  } catch {
    // The decoder's message can quote the input: reasons never echo peer bytes.
    return 'not msgpack';
  }
  if (!Array.isArray(wire) || wire.length === 0) return 'a frame is an array [kind, ...fields]';
  const kind = wire[0] as Frame['kind'];
  const layout = Object.hasOwn(LAYOUTS, kind) ? LAYOUTS[kind] : undefined;
  if (!layout) return `unknown frame kind (${describe(wire[0])})`;
  if (wire.length !== layout.length + 1) return `frame kind ${kind} has ${wire.length - 1} fields, expected ${layout.length}`;
  const frame: Record<string, unknown> = { kind };
  for (let i = 0; i < layout.length; i++) {
    const [name, type] = layout[i]!;
    const value: unknown = wire[i + 1];
    if (!fieldOk(type, value)) return `frame kind ${kind}: field ${name} is not a valid ${type}`;
    frame[name] = value;
  }
  return frame as unknown as Frame;
}

/** A bounded description of a peer-supplied value: its type, or the number itself. */
function describe(value: unknown): string {
  return typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : typeof value;
}

function fieldOk(type: FieldType, v: unknown): boolean {
  switch (type) {
    case 'uint':
      return Number.isSafeInteger(v) && (v as number) >= 0;
    case 'status':
      return v === AckStatus.OK || v === AckStatus.RETRY || v === AckStatus.REJECTED;
    case 'id':
      return typeof v === 'string' && NODE_ID_PATTERN.test(v);
    case 'str':
      return typeof v === 'string' && v.length <= MAX_STR;
    case 'bin':
      return v instanceof Uint8Array;
    case 'bins':
      return Array.isArray(v) && v.length <= MAX_BATCH && v.every((x) => x instanceof Uint8Array);
    case 'ids':
      return Array.isArray(v) && v.length <= MAX_LIST && v.every((x) => fieldOk('id', x));
    case 'costs':
      return (
        Array.isArray(v) &&
        v.length <= MAX_LIST &&
        v.every((pair) => Array.isArray(pair) && pair.length === 2 && fieldOk('id', pair[0]) && Number.isFinite(pair[1]) && pair[1] >= 0)
      );
  }
}

/** The frames of one WebSocket message: a batch's contents, or the single frame it is. */
export function decodeFrames(bytes: Uint8Array): Frame[] | string {
  const outer = decodeFrame(bytes);
  if (typeof outer === 'string' || outer.kind !== Kind.BATCH) return typeof outer === 'string' ? outer : [outer];
  const frames: Frame[] = [];
  for (const inner of outer.frames) {
    const frame = decodeFrame(inner);
    if (typeof frame === 'string') return frame;
    if (frame.kind === Kind.BATCH) return 'a batch inside a batch';
    frames.push(frame);
  }
  return frames;
}

/** Application payloads: any msgpack-encodable value. Packed once at the origin. */
export function packPayload(payload: unknown): Uint8Array {
  return packr.pack(payload);
}

export function unpackPayload(bytes: Uint8Array): unknown {
  return unpackr.unpack(bytes);
}
