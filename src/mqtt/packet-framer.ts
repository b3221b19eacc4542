import { Buffer } from 'node:buffer';

export type FramerResult = { ok: true; packets: Buffer[] } | { ok: false; reason: 'too-large' | 'malformed'; size?: number };

const NO_PACKETS: Buffer[] = [];
/** Room first set aside for a packet whose fixed header is not complete yet (most device packets fit). */
const FIRST_ROOM = 256;
const INCOMPLETE = -1;
const MALFORMED = -2;

/**
 * Cuts an MQTT byte stream into whole packets (fixed header: one byte, then the remaining
 * length as a 1–4 byte varint) and refuses a packet over `maxPacketBytes` as soon as its header
 * says so, before its body is buffered. The packets themselves are parsed by mqtt-packet.
 *
 * Chunks are borrowed (the transport may reuse them after `push` returns): whole packets are
 * copied out once, and a packet split over chunks (mqtt.js over WebSocket sends one message
 * per field) is assembled in one buffer, not concatenated again at every piece.
 */
export class PacketFramer {
  /** Bytes of packets not complete yet are `held[start, end)`; earlier bytes belong to packets handed out. */
  private held: Buffer | undefined;
  private start = 0;
  private end = 0;

  constructor(private readonly maxPacketBytes: number) {}

  push(chunk: Uint8Array): FramerResult {
    if (this.held === undefined) return this.cut(chunk, true);
    this.makeRoom(chunk.length);
    this.held.set(chunk, this.end);
    this.end += chunk.length;
    return this.cut(this.held.subarray(this.start, this.end), false);
  }

  /** Whole packets of `data`; what is left of it is held for the next chunk. */
  private cut(data: Uint8Array, borrowed: boolean): FramerResult {
    let at = 0;
    let incomplete = 0;
    let count = 0;
    for (;;) {
      const size = packetSize(data, at);
      if (size === MALFORMED) return { ok: false, reason: 'malformed' };
      if (size === INCOMPLETE) break;
      if (size > this.maxPacketBytes) return { ok: false, reason: 'too-large', size };
      if (data.length - at < size) {
        incomplete = size;
        break;
      }
      at += size;
      count++;
    }
    const packets = count === 0 ? NO_PACKETS : split(borrowed ? Buffer.copyBytesFrom(data, 0, at) : (data as Buffer).subarray(0, at), count);
    const rest = data.length - at;
    if (rest === 0) {
      // Released: handed-out packets keep only their own bytes alive.
      this.held = undefined;
      this.start = this.end = 0;
    } else if (borrowed) {
      this.held = Buffer.allocUnsafe(Math.max(incomplete, FIRST_ROOM));
      this.held.set(data.subarray(at));
      this.start = 0;
      this.end = rest;
    } else {
      this.start += at;
      if (incomplete > 0) this.makeRoom(incomplete - rest);
    }
    return { ok: true, packets };
  }

  /** Room for `bytes` more after `end`, moving the held bytes to a new buffer when needed. */
  private makeRoom(bytes: number): void {
    const held = this.held!;
    if (held.length - this.end >= bytes) return;
    const kept = this.end - this.start;
    const next = Buffer.allocUnsafe(Math.max(kept + bytes, 2 * kept, FIRST_ROOM));
    next.set(held.subarray(this.start, this.end));
    this.held = next;
    this.start = 0;
    this.end = kept;
  }
}

/** `data` holds `count` whole packets back to back: each as its own view. */
function split(data: Buffer, count: number): Buffer[] {
  if (count === 1) return [data];
  const packets: Buffer[] = [];
  let at = 0;
  while (at < data.length) {
    const size = packetSize(data, at);
    packets.push(data.subarray(at, at + size));
    at += size;
  }
  return packets;
}

/** Size of the packet at `at` from its fixed header: INCOMPLETE while the header is, MALFORMED past four length bytes. */
function packetSize(data: Uint8Array, at: number): number {
  let remaining = 0;
  let multiplier = 1;
  for (let i = 1; i <= 4; i++) {
    if (at + i >= data.length) return INCOMPLETE;
    const byte = data[at + i]!;
    remaining += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) return 1 + i + remaining;
    multiplier *= 128;
  }
  return MALFORMED;
}
