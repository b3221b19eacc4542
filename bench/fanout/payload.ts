import { nowUs } from './clock.js';

/** Bytes at the front of every payload: publish time (µs, float64 LE), run id, sequence number (uint32 LE). */
export const STAMP_BYTES = 16;

/** A payload of `size` bytes stamped with the current time; the rest is filler. */
export function stampedPayload(size: number, runId: number, seq: number): Buffer {
  const buf = Buffer.alloc(Math.max(size, STAMP_BYTES), 0x2e);
  buf.writeDoubleLE(nowUs(), 0);
  buf.writeUInt32LE(runId, 8);
  buf.writeUInt32LE(seq, 12);
  return buf;
}

// Reading through a fixed scratch buffer: a DataView per delivery costs more than the rest of the bookkeeping.
const scratch = new Uint8Array(8);
const scratchF64 = new Float64Array(scratch.buffer);
const scratchU32 = new Uint32Array(scratch.buffer);

/** Publish time of the stamped payload `bytes[start, end)` (µs); NaN if it is too short to carry a stamp. */
export function stampTime(bytes: Uint8Array, start = 0, end = bytes.byteLength): number {
  if (end - start < STAMP_BYTES) return NaN;
  for (let i = 0; i < 8; i++) scratch[i] = bytes[start + i]!;
  return scratchF64[0]!;
}

/** Run id of the stamped payload `bytes[start, end)`; -1 if it is too short to carry a stamp. */
export function stampRunId(bytes: Uint8Array, start = 0, end = bytes.byteLength): number {
  return stampU32(bytes, start + 8, end - start);
}

/** Sequence number (0, 1, … within a run) of the stamped payload `bytes[start, end)`; -1 if it is too short to carry a stamp. */
export function stampSeq(bytes: Uint8Array, start = 0, end = bytes.byteLength): number {
  return stampU32(bytes, start + 12, end - start);
}

function stampU32(bytes: Uint8Array, at: number, payloadLength: number): number {
  if (payloadLength < STAMP_BYTES) return -1;
  for (let i = 0; i < 4; i++) scratch[i] = bytes[at + i]!;
  return scratchU32[0]!;
}
