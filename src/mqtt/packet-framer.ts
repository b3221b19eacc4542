import { Buffer } from 'node:buffer';

export type FramerResult = { ok: true; packets: Buffer[] } | { ok: false; reason: 'too-large' | 'malformed'; size?: number };

/**
 * Cuts an MQTT byte stream into whole packets (fixed header: one byte, then the remaining
 * length as a 1–4 byte varint) and refuses a packet over `maxPacketBytes` as soon as its header
 * says so, before its body is buffered. The packets themselves are parsed by mqtt-packet.
 */
export class PacketFramer {
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;

  constructor(private readonly maxPacketBytes: number) {}

  push(chunk: Buffer): FramerResult {
    this.buffered.push(chunk);
    this.bufferedBytes += chunk.length;
    let data = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered, this.bufferedBytes);
    const packets: Buffer[] = [];
    let at = 0;
    for (;;) {
      const header = readFixedHeader(data, at);
      if (header === 'malformed') return { ok: false, reason: 'malformed' };
      if (header === undefined) break;
      const size = header.headerBytes + header.remaining;
      if (size > this.maxPacketBytes) return { ok: false, reason: 'too-large', size };
      if (data.length - at < size) break;
      packets.push(data.subarray(at, at + size));
      at += size;
    }
    data = data.subarray(at);
    this.buffered = data.length > 0 ? [data] : [];
    this.bufferedBytes = data.length;
    return { ok: true, packets };
  }
}

/** The fixed header at `at`; undefined when incomplete. */
function readFixedHeader(data: Buffer, at: number): { headerBytes: number; remaining: number } | 'malformed' | undefined {
  let remaining = 0;
  let multiplier = 1;
  for (let i = 1; i <= 4; i++) {
    if (at + i >= data.length) return undefined;
    const byte = data[at + i]!;
    remaining += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) return { headerBytes: 1 + i, remaining };
    multiplier *= 128;
  }
  return 'malformed';
}
