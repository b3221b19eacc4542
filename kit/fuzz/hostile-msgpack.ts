/**
 * msgpack bytes a decoder must refuse without trusting them: headers that declare more
 * than follows, nesting far deeper than any frame, and msgpackr's own extension types.
 * Written by hand because a well-behaved encoder cannot produce them.
 */

/** Headers that carry a length: strings, binaries, arrays, maps and extensions of each width. */
export const LENGTH_HEADERS = {
  str8: { byte: 0xd9, width: 1 },
  str16: { byte: 0xda, width: 2 },
  str32: { byte: 0xdb, width: 4 },
  bin8: { byte: 0xc4, width: 1 },
  bin16: { byte: 0xc5, width: 2 },
  bin32: { byte: 0xc6, width: 4 },
  array16: { byte: 0xdc, width: 2 },
  array32: { byte: 0xdd, width: 4 },
  map16: { byte: 0xde, width: 2 },
  map32: { byte: 0xdf, width: 4 },
  ext8: { byte: 0xc7, width: 1 },
  ext16: { byte: 0xc8, width: 2 },
  ext32: { byte: 0xc9, width: 4 },
} as const;

export type LengthHeader = keyof typeof LENGTH_HEADERS;
export const LENGTH_HEADER_NAMES = Object.keys(LENGTH_HEADERS) as LengthHeader[];

/** Extension type bytes msgpackr gives meaning to (bigint, bundle, error, id, pointer, record, set, typed array, regexp, timestamp) and two it does not. */
export const EXTENSION_TYPES = [0x00, 0x42, 0x62, 0x65, 0x69, 0x70, 0x72, 0x73, 0x74, 0x78, 0xff, 0x01, 0x7f] as const;

/** `header` declaring `declared` bytes or items (cut to the header's width), followed by only `body`. */
export function lyingHeader(header: LengthHeader, declared: number, body: Uint8Array, extType = 0x01): Uint8Array {
  const { byte, width } = LENGTH_HEADERS[header];
  const isExt = header.startsWith('ext');
  const out = new Uint8Array(1 + width + (isExt ? 1 : 0) + body.length);
  const view = new DataView(out.buffer);
  out[0] = byte;
  const value = width === 4 ? declared >>> 0 : declared & (width === 2 ? 0xffff : 0xff);
  if (width === 1) view.setUint8(1, value);
  else if (width === 2) view.setUint16(1, value);
  else view.setUint32(1, value);
  if (isExt) out[1 + width] = extType;
  out.set(body, 1 + width + (isExt ? 1 : 0));
  return out;
}

/** A frame header `[kind, seq, nil × (position - 2), <value>]`: `value` lands at field index `position`. */
export function frameAround(kind: number, seq: number, position: number, value: Uint8Array): Uint8Array {
  const fieldCount = Math.max(position, 2) + 1;
  const parts: Uint8Array[] = [arrayHeader(fieldCount), uint(kind), uint(seq), new Uint8Array(Math.max(0, position - 2)).fill(0xc0), value];
  return concat(parts);
}

/** `depth` single-element arrays around a nil: `[[[…[nil]…]]]`, one byte per level. */
export function nestedArrays(depth: number): Uint8Array {
  const out = new Uint8Array(depth + 1).fill(0x91);
  out[depth] = 0xc0;
  return out;
}

/** `depth` single-entry maps `{k: {k: …nil}}`, three bytes per level. */
export function nestedMaps(depth: number): Uint8Array {
  const out = new Uint8Array(depth * 3 + 1);
  for (let i = 0; i < depth; i++) out.set([0x81, 0xa1, 0x6b], i * 3);
  out[depth * 3] = 0xc0;
  return out;
}

/** Nesting through array32 headers that each declare one element: five bytes per level. */
export function nestedArray32(depth: number): Uint8Array {
  const out = new Uint8Array(depth * 5 + 1);
  for (let i = 0; i < depth; i++) out.set([0xdd, 0, 0, 0, 1], i * 5);
  out[depth * 5] = 0xc0;
  return out;
}

/** An extension value: fixext where the length allows it, ext8/16/32 otherwise. */
export function extension(type: number, data: Uint8Array): Uint8Array {
  const fixed: Record<number, number> = { 1: 0xd4, 2: 0xd5, 4: 0xd6, 8: 0xd7, 16: 0xd8 };
  const fix = fixed[data.length];
  if (fix !== undefined) return concat([Uint8Array.of(fix, type), data]);
  const header = data.length <= 0xff ? 'ext8' : data.length <= 0xffff ? 'ext16' : 'ext32';
  return lyingHeader(header, data.length, data, type);
}

export function arrayHeader(length: number): Uint8Array {
  if (length < 16) return Uint8Array.of(0x90 | length);
  if (length <= 0xffff) return Uint8Array.of(0xdc, length >> 8, length & 0xff);
  return Uint8Array.of(0xdd, length >>> 24, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff);
}

/** A msgpack unsigned integer up to 2^32 - 1 in its shortest form. */
export function uint(value: number): Uint8Array {
  if (value < 0x80) return Uint8Array.of(value);
  if (value <= 0xff) return Uint8Array.of(0xcc, value);
  if (value <= 0xffff) return Uint8Array.of(0xcd, value >> 8, value & 0xff);
  return Uint8Array.of(0xce, value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff);
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
