import { Packr, Unpackr } from 'msgpackr';
import { ErrorCode } from './errors.js';
import { checkMessageProperties } from './message-properties.js';
import { FRAME_LAYOUTS, type FieldType } from './schema.js';
import type { Frame, FrameKind, StreamPosition } from './frames.js';

// copyBuffers: decoded payloads must not alias the transport's receive buffer, which is reused.
const unpackr = new Unpackr({ copyBuffers: true, useRecords: false, mapsAsObjects: true, int64AsType: 'number' });
const packr = new Packr({ useRecords: false });

/** Largest list (filters, versions, resume positions) accepted in one frame. */
export const MAX_LIST_LENGTH = 1024;

export type DecodeResult =
  | { ok: true; frame: Frame }
  | { ok: false; code: ErrorCode; message: string; seq?: number; kind?: number };

/** Encodes a frame to its wire bytes. Encode once and send the same bytes to every recipient. */
export function encodeFrame(frame: Frame): Uint8Array {
  const layout = FRAME_LAYOUTS.get(frame.kind);
  if (!layout) throw new Error(`no layout for frame kind ${frame.kind}`);
  const fields = frame as unknown as Record<string, unknown>;
  const wire: unknown[] = [frame.kind, frame.seq];
  for (const field of layout) {
    const value = fields[field.name] ?? null;
    wire.push(field.type === 'positions' && value !== null ? (value as StreamPosition[]).map(positionToWire) : value);
  }
  while (wire.length > 2 && wire[wire.length - 1] === null) wire.pop();
  return packr.pack(wire);
}

/** Decodes and validates wire bytes. Never throws: bad input becomes a typed failure. */
export function decodeFrame(bytes: Uint8Array): DecodeResult {
  let wire: unknown;
  try {
    wire = unpackr.unpack(bytes);
  } catch (err) {
    return { ok: false, code: ErrorCode.MALFORMED_FRAME, message: `not msgpack: ${(err as Error).message}` };
  }
  if (!Array.isArray(wire) || wire.length < 2) {
    return { ok: false, code: ErrorCode.MALFORMED_FRAME, message: 'a frame is an array [kind, seq, ...fields]' };
  }
  const [kind, seq] = wire;
  if (!isUint(kind) || !isUint(seq)) {
    return { ok: false, code: ErrorCode.MALFORMED_FRAME, message: 'kind and seq must be unsigned integers' };
  }
  const layout = FRAME_LAYOUTS.get(kind as FrameKind);
  if (!layout) return { ok: false, code: ErrorCode.UNKNOWN_COMMAND, message: `unknown frame kind ${kind}`, seq, kind };
  if (wire.length > layout.length + 2) {
    return { ok: false, code: ErrorCode.INVALID_FIELD, message: `too many fields for kind ${kind}`, seq, kind };
  }
  const frame: Record<string, unknown> = { kind, seq };
  for (let i = 0; i < layout.length; i++) {
    const spec = layout[i]!;
    const value = wire[i + 2];
    if (value === undefined || value === null) {
      if (spec.optional) continue;
      return { ok: false, code: ErrorCode.INVALID_FIELD, message: `missing field ${spec.name}`, seq, kind };
    }
    const normalized = checkField(spec.type, value);
    if (normalized === INVALID) {
      return { ok: false, code: ErrorCode.INVALID_FIELD, message: `field ${spec.name} must be ${spec.type}`, seq, kind };
    }
    if (normalized !== undefined) frame[spec.name] = normalized;
  }
  return { ok: true, frame: frame as unknown as Frame };
}

const INVALID = Symbol('invalid');

function isUint(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isList(value: unknown): value is unknown[] {
  return Array.isArray(value) && value.length <= MAX_LIST_LENGTH;
}

function checkField(type: FieldType, value: unknown): unknown {
  switch (type) {
    case 'uint':
      return isUint(value) ? value : INVALID;
    case 'int':
      return typeof value === 'number' && Number.isSafeInteger(value) ? value : INVALID;
    case 'str':
      return typeof value === 'string' ? value : INVALID;
    case 'bin':
      return value instanceof Uint8Array ? value : INVALID;
    case 'bool':
      return typeof value === 'boolean' ? value : INVALID;
    case 'qos':
      return value === 0 || value === 1 ? value : INVALID;
    case 'uintList':
      return isList(value) && value.every(isUint) ? value : INVALID;
    case 'strList':
      return isList(value) && value.every((v) => typeof v === 'string') ? value : INVALID;
    case 'positions':
      return isList(value) && value.every(isPosition)
        ? value.map((p) => {
            const [stream, epoch, offset] = p as [string, string, number];
            return { stream, epoch, offset };
          })
        : INVALID;
    case 'props': {
      const props = checkMessageProperties(value);
      return props === 'invalid' ? INVALID : props;
    }
  }
}

function positionToWire(p: StreamPosition): [string, string, number] {
  return [p.stream, p.epoch, p.offset];
}

/** Resume positions travel as `[stream, epoch, offset]` triples. */
function isPosition(value: unknown): boolean {
  return (
    Array.isArray(value) &&
    value.length === 3 &&
    typeof value[0] === 'string' &&
    typeof value[1] === 'string' &&
    isUint(value[2])
  );
}
