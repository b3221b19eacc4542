/**
 * fast-check arbitraries for fuzzing the wire protocol: valid frames of every kind, and the
 * ways to spoil them (truncation, bit flips, a wrong type in one field, lying length headers,
 * deep nesting, unknown kinds, oversize). The campaign samples the same arbitraries.
 */
import fc from 'fast-check';
import { Packr, Unpackr } from 'msgpackr';
import {
  FrameKind,
  MAX_EXPIRY_SECONDS,
  encodeFrame,
  type AckFrame,
  type AuthFrame,
  type ErrorFrame,
  type Frame,
  type HelloFrame,
  type MessageProperties,
  type MsgFrame,
  type OkFrame,
  type PingFrame,
  type PongFrame,
  type PubFrame,
  type Qos,
  type ResetFrame,
  type ResyncFrame,
  type SendFrame,
  type StreamPosition,
  type SubFrame,
  type UnsubFrame,
  type WelcomeFrame,
} from '../../src/protocol/index.js';
import { FRAME_LAYOUTS, type FieldType } from '../../src/protocol/schema.js';
import { EXTENSION_TYPES, LENGTH_HEADERS, LENGTH_HEADER_NAMES, concat, extension, frameAround, lyingHeader, nestedArray32, nestedArrays, nestedMaps } from './hostile-msgpack.js';
import { flipBits, insertBytes, overwrite, removeBytes, splice, truncate } from './mutations.js';

/**
 * Device ids and topics the corpus names. Deliberately disjoint from the ids of the devices a
 * fuzz run watches (bystanders, stored-message owners), so that valid fuzz frames cannot
 * legitimately disturb them.
 */
const PEERS = ['peer-1', 'peer-2', 'peer-3'];
const TOPICS = ['fuzz/a', 'fuzz/b/c', 'fuzz/+', 'fuzz/#', '#', '+', 'a//b', '/', '', '$sys/x', '$inbox/peer-1', 'x/#/y', 'x+/y', 'nul\u0000', 'ü/ß/中'];
const LONG = ['a'.repeat(257), 't/'.repeat(300), '\u0001ctl'];

const seq = fc.oneof(fc.nat({ max: 1000 }), fc.nat(), fc.maxSafeNat());
const uint = fc.oneof(fc.nat({ max: 100 }), fc.maxSafeNat());
const qos = fc.constantFrom<Qos>(0, 1);
const text = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...TOPICS, ...PEERS) },
  { weight: 2, arbitrary: fc.string({ maxLength: 24 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }) },
  { weight: 1, arbitrary: fc.constantFrom(...LONG) },
);
const deviceId = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...PEERS) }, { weight: 1, arbitrary: text });
const payload = fc.oneof({ weight: 4, arbitrary: fc.uint8Array({ maxLength: 32 }) }, { weight: 1, arbitrary: fc.uint8Array({ minLength: 100, maxLength: 2048 }) });
const texts = fc.array(text, { maxLength: 4 });
const position: fc.Arbitrary<StreamPosition> = fc.record({ stream: text, epoch: fc.oneof(fc.constant(''), text), offset: uint });

/** Message properties: never an empty map (the decoder reads that as none). */
const props: fc.Arbitrary<MessageProperties> = fc.record(
  {
    expirySeconds: fc.integer({ min: 0, max: MAX_EXPIRY_SECONDS }),
    contentType: text,
    responseTopic: text,
    correlationData: payload,
    payloadFormat: fc.constantFrom<0 | 1>(0, 1),
    userProperties: fc.array(fc.tuple(text, text), { maxLength: 3 }),
  },
  { requiredKeys: ['contentType'] },
);

/** Builds a frame arbitrary from its field arbitraries; fields not in `required` may be absent. */
function frameOf<F extends Frame>(kind: F['kind'], fields: { [K in Exclude<keyof F, 'kind' | 'seq'>]-?: fc.Arbitrary<F[K]> }, required: readonly string[]): fc.Arbitrary<F> {
  const all = { kind: fc.constant(kind), seq, ...fields } as unknown as Record<string, fc.Arbitrary<unknown>>;
  return fc.record(all, { requiredKeys: ['kind', 'seq', ...required] }) as unknown as fc.Arbitrary<F>;
}

/** Frames a device sends: every command of protocol v1. */
export const clientFrame: fc.Arbitrary<Frame> = fc.oneof(
  frameOf<HelloFrame>(FrameKind.HELLO, { versions: fc.array(fc.oneof(fc.constantFrom(0, 1, 2), fc.nat()), { maxLength: 4 }), deviceId, token: text, resume: fc.array(position, { maxLength: 3 }) }, ['versions', 'deviceId']),
  frameOf<PingFrame>(FrameKind.PING, { ts: uint }, []),
  frameOf<SubFrame>(FrameKind.SUB, { filters: texts, qos }, ['filters']),
  frameOf<UnsubFrame>(FrameKind.UNSUB, { filters: texts }, ['filters']),
  frameOf<PubFrame>(FrameKind.PUB, { topic: text, payload, qos, traceId: text, props, retain: fc.boolean() }, ['topic', 'payload']),
  frameOf<SendFrame>(FrameKind.SEND, { target: deviceId, payload, qos, traceId: text, props }, ['target', 'payload']),
  frameOf<AckFrame>(FrameKind.ACK, { stream: text, offset: uint }, ['stream', 'offset']),
  frameOf<ResyncFrame>(FrameKind.RESYNC, { stream: text, offset: uint }, ['stream', 'offset']),
  frameOf<AuthFrame>(FrameKind.AUTH, { token: text }, ['token']),
);

/** Frames only the broker sends: valid on the wire, never a command. */
export const serverFrame: fc.Arbitrary<Frame> = fc.oneof(
  frameOf<WelcomeFrame>(FrameKind.WELCOME, { version: uint, sessionId: text, heartbeatMs: uint, maxFrameBytes: uint, maxInflight: uint, sessionPresent: fc.boolean() }, ['version', 'sessionId', 'heartbeatMs', 'maxFrameBytes', 'maxInflight', 'sessionPresent']),
  frameOf<PongFrame>(FrameKind.PONG, { ts: uint }, []),
  frameOf<MsgFrame>(
    FrameKind.MSG,
    { stream: text, offset: uint, payload, traceId: text, qos, from: text, epoch: text, delivery: uint, hops: texts, props, retain: fc.boolean() },
    ['stream', 'offset', 'payload', 'traceId', 'qos'],
  ),
  frameOf<ErrorFrame>(FrameKind.ERROR, { code: uint, message: text, ref: uint }, ['code', 'message']),
  frameOf<OkFrame>(FrameKind.OK, { ref: uint, offset: uint }, ['ref']),
  frameOf<ResetFrame>(FrameKind.RESET, { stream: text, epoch: text, offset: uint, reason: text }, ['stream', 'epoch', 'offset', 'reason']),
);

export const anyFrame: fc.Arbitrary<Frame> = fc.oneof({ weight: 3, arbitrary: clientFrame }, { weight: 1, arbitrary: serverFrame });

/** A valid frame cut short: at least one byte missing. */
export const truncatedFrame = fc.tuple(anyFrame, fc.nat()).map(([frame, cut]) => {
  const bytes = encodeFrame(frame);
  return truncate(bytes, cut % bytes.length);
});

/** A valid frame with one to four bits flipped, or bytes overwritten, inserted, removed, or two frames spliced. */
export const mutatedFrame: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.tuple(anyFrame, fc.array(fc.nat(), { minLength: 1, maxLength: 4 })).map(([f, bits]) => flipBits(encodeFrame(f), bits)),
  fc.tuple(anyFrame, fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 4 })).map(([f, at, b]) => overwrite(encodeFrame(f), at, b)),
  fc.tuple(anyFrame, fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([f, at, b]) => insertBytes(encodeFrame(f), at, b)),
  fc.tuple(anyFrame, fc.nat(), fc.integer({ min: 1, max: 8 })).map(([f, at, n]) => removeBytes(encodeFrame(f), at, n)),
  fc.tuple(anyFrame, anyFrame, fc.nat(), fc.nat()).map(([a, b, i, j]) => splice(encodeFrame(a), encodeFrame(b), i, j)),
);

/** Random bytes, sometimes led by an array header and a known kind so they get past the first checks. */
export const randomBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  fc.uint8Array({ minLength: 64, maxLength: 4096 }),
  fc.tuple(fc.integer({ min: 0x92, max: 0x9f }), fc.integer({ min: 0, max: 16 }), fc.uint8Array({ maxLength: 64 })).map(([h, k, rest]) => concat([Uint8Array.of(h, k), rest])),
);

/** Values of each field type that the decoder must refuse for that type. */
export const WRONG_VALUES: Record<FieldType | 'kindOrSeq', readonly unknown[]> = {
  kindOrSeq: [-1, 1.5, 2 ** 53, -(2 ** 60), 'x', true, new Uint8Array(1), [], {}],
  uint: [-1, 1.5, 2 ** 53, -(2 ** 60), 'x', '7', true, new Uint8Array(1), [], {}],
  int: [1.5, 2 ** 53, 'x', true, [], {}],
  str: [0, -1, 1.5, true, new Uint8Array([0x61]), ['a'], {}],
  bin: ['bytes', 0, true, [1, 2], {}],
  bool: [0, 1, 'true', new Uint8Array(1), [], {}],
  qos: [2, -1, 0.5, true, '1', [], {}],
  uintList: [1, 'x', [-1], ['a'], [1.5], [[1]], new Array(1025).fill(1), {}],
  strList: ['a', 1, [1], [new Uint8Array(1)], [['a']], new Array(1025).fill('a'), {}],
  props: ['x', 1, [], new Uint8Array(1), { expirySeconds: -1 }, { expirySeconds: 2 ** 32 }, { contentType: 1 }, { correlationData: 'x' }, { payloadFormat: 2 }, { userProperties: [['a']] }, { userProperties: 'a' }],
  positions: [[['s', 'e']], [['s', 'e', -1]], [[1, 'e', 1]], ['x'], [{}], new Array(1025).fill(['s', 'e', 1]), 'x', 1],
};

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

/** A frame's wire array `[kind, seq, ...fields]`, as encodeFrame lays it out. */
export function wireOf(frame: Frame): unknown[] {
  return unpackr.unpack(encodeFrame(frame)) as unknown[];
}

/** The type expected at wire index `position` of `kind` (kind and seq at 0 and 1). */
export function fieldTypeAt(kind: FrameKind, position: number): FieldType | 'kindOrSeq' {
  if (position < 2) return 'kindOrSeq';
  return FRAME_LAYOUTS.get(kind)![position - 2]!.type;
}

/** `frame` encoded with the value at wire index `position` replaced (absent optional fields before it sent as nil). */
export function withField(frame: Frame, position: number, value: unknown): Uint8Array {
  const wire = wireOf(frame);
  while (wire.length <= position) wire.push(null);
  wire[position] = value;
  return packr.pack(wire);
}

/** A client frame with a wrong-typed value in one field position, and the position it is at. */
export const wrongTypeFrame = fc
  .tuple(clientFrame, fc.nat(), fc.nat())
  .map(([frame, p, v]) => {
    const position = p % (FRAME_LAYOUTS.get(frame.kind)!.length + 2);
    const choices = WRONG_VALUES[fieldTypeAt(frame.kind, position)];
    return { frame, position, bytes: withField(frame, position, choices[v % choices.length]) };
  });

/**
 * A frame whose field (or whole body) is a header declaring up to 2^32 - 1 bytes or items with a
 * short body. `lies` is true when the declared length exceeds the bytes that follow (every item
 * takes at least one byte), so no decoder may accept it.
 */
export const lyingLengthFrame = fc
  .tuple(
    fc.constantFrom(...LENGTH_HEADER_NAMES),
    fc.oneof(fc.constantFrom(2 ** 32 - 1, 2 ** 31, 2 ** 16 - 1, 2 ** 16, 256), fc.nat()),
    fc.uint8Array({ maxLength: 64 }),
    fc.constantFrom(...EXTENSION_TYPES),
    fc.integer({ min: -1, max: 6 }),
    fc.integer({ min: 1, max: 14 }),
  )
  .map(([header, declared, body, extType, position, kind]) => {
    const value = lyingHeader(header, declared, body, extType);
    // position -1: the header is the whole message (a top-level array32 declaring billions of fields, say).
    const bytes = position < 0 ? value : frameAround(kind, 7, position, value);
    return { bytes, header, lies: declaredLength(value) > body.length };
  });

function declaredLength(value: Uint8Array): number {
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const width = value.byteLength > 1 ? LENGTH_WIDTHS.get(value[0]!)! : 0;
  return width === 1 ? view.getUint8(1) : width === 2 ? view.getUint16(1) : view.getUint32(1);
}
const LENGTH_WIDTHS = new Map<number, number>(LENGTH_HEADER_NAMES.map((h) => [LENGTH_HEADERS[h].byte, LENGTH_HEADERS[h].width]));

const NESTINGS = [
  { nest: nestedArrays, bytesPerLevel: 1 },
  { nest: nestedMaps, bytesPerLevel: 3 },
  { nest: nestedArray32, bytesPerLevel: 5 },
];

/** Nesting far beyond any frame (arrays, maps, array32 headers), bare or inside a field, no larger than `maxBytes`. */
export function deeplyNested(maxBytes: number) {
  return fc
    .tuple(fc.constantFrom(...NESTINGS), fc.constantFrom(1_000, 10_000, 20_000, 60_000), fc.integer({ min: -1, max: 4 }), fc.integer({ min: 1, max: 14 }))
    .map(([{ nest, bytesPerLevel }, wanted, position, kind]) => {
      const depth = Math.min(wanted, Math.floor((maxBytes - 32) / bytesPerLevel));
      const value = nest(depth);
      return { depth, bytes: position < 0 ? value : frameAround(kind, 9, position, value) };
    });
}

/** msgpackr extension values (error, typed array, record, pointer, bundle…) with arbitrary data, inside a field. */
export const extensionFrame = fc
  .tuple(fc.constantFrom(...EXTENSION_TYPES), fc.uint8Array({ maxLength: 24 }), fc.uint8Array({ maxLength: 24 }), fc.integer({ min: 2, max: 6 }), fc.integer({ min: 1, max: 14 }))
  .map(([type, data, trailer, position, kind]) => frameAround(kind, 11, position, concat([extension(type, data), trailer])));

/** A well-formed frame of a kind the protocol does not define. */
export const unknownKindFrame = fc
  .tuple(fc.oneof(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 256, max: 2 ** 32 - 1 }), fc.integer({ min: 2 ** 32, max: Number.MAX_SAFE_INTEGER })).filter((k) => !FRAME_LAYOUTS.has(k)), seq, fc.array(fc.oneof(text, uint, payload), { maxLength: 4 }))
  .map(([kind, s, fields]) => ({ kind, seq: s, bytes: packr.pack([kind, s, ...fields]) }));

/** A PUB whose size lies between `min` and `max` bytes. */
export function oversizeFrame(min: number, max: number): fc.Arbitrary<Uint8Array> {
  return fc.tuple(fc.integer({ min, max }), seq).map(([size, s]) => {
    const frame = encodeFrame({ kind: FrameKind.PUB, seq: s, topic: 'fuzz/big', payload: new Uint8Array(size) });
    return frame.subarray(0, size);
  });
}
