/**
 * The stamp at the front of every fleet-bench payload, identical on every broker so the
 * same bytes travel through relaymesh and the MQTT peers:
 * kind (u8), phase (u16), device index (u32), sequence number (u32), send time (µs, f64).
 * Times come from nowUs() (CLOCK_MONOTONIC), which every process on the machine shares.
 */
import { nowUs } from '../fanout/clock.js';

export enum PayloadKind {
  TELEMETRY = 1,
  COMMAND = 2,
  BROADCAST = 3,
  /** A device's answer to a command: carries the command's device, sequence number and send time. */
  COMMAND_ACK = 4,
}

export const STAMP_BYTES = 24;

export interface Stamp {
  kind: PayloadKind;
  phase: number;
  device: number;
  seq: number;
  sentUs: number;
}

/** A payload of `size` bytes (at least the stamp) stamped now; the rest is filler. */
export function stampedPayload(size: number, kind: PayloadKind, phase: number, device: number, seq: number): Buffer {
  const buf = Buffer.allocUnsafe(Math.max(size, STAMP_BYTES));
  buf.writeUInt8(kind, 0);
  buf.writeUInt8(0, 1);
  buf.writeUInt16LE(phase & 0xffff, 2);
  buf.writeUInt32LE(device, 4);
  buf.writeUInt32LE(seq, 8);
  buf.writeUInt32LE(0, 12);
  buf.writeDoubleLE(nowUs(), 16);
  buf.fill(0x2e, STAMP_BYTES);
  return buf;
}

/** Reads the stamp; undefined when the payload is too short to carry one. */
export function readStamp(payload: Uint8Array): Stamp | undefined {
  if (payload.byteLength < STAMP_BYTES) return undefined;
  const view = new DataView(payload.buffer, payload.byteOffset, STAMP_BYTES);
  return {
    kind: view.getUint8(0),
    phase: view.getUint16(2, true),
    device: view.getUint32(4, true),
    seq: view.getUint32(8, true),
    sentUs: view.getFloat64(16, true),
  };
}

/** Phase ids wrap at 16 bits in the payload; compare through this. */
export function samePhase(stampPhase: number, phaseId: number): boolean {
  return stampPhase === (phaseId & 0xffff);
}
