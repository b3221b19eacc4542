/**
 * The WebSocket layer of the lean MQTT subscribers: cuts the server's frames (RFC 6455 §5.2,
 * unmasked) out of the TCP stream and passes data payloads on as they come, in pieces if a
 * frame spans reads, to a layer that takes a stream (the MQTT framer). No message is
 * reassembled and nothing is copied except a header cut by a read boundary. Text and binary
 * frames are both data; ping is answered by the caller; close ends the connection.
 */

export interface DeframerHandler {
  /** The next bytes of the data stream (valid only during the call). */
  data(bytes: Buffer): void;
  ping(payload: Buffer): void;
  close(): void;
}

const Opcode = { CONTINUATION: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 } as const;
const NOTHING = Buffer.alloc(0);

export class WsDeframer {
  /** A frame header cut by the end of the last chunk. */
  private headerCarry: Buffer = NOTHING;
  /** Payload bytes of the current frame still to come; 0 between frames. */
  private payloadLeft = 0;
  private opcode: number = Opcode.BINARY;
  /** A control frame's payload, gathered (it is at most 125 bytes). */
  private controlParts: Buffer[] = [];

  constructor(private readonly handler: DeframerHandler) {}

  push(chunk: Buffer): void {
    let bytes = chunk;
    if (this.headerCarry.length > 0) {
      bytes = Buffer.concat([this.headerCarry, chunk]);
      this.headerCarry = NOTHING;
    }
    let at = 0;
    while (at < bytes.length) {
      if (this.payloadLeft === 0) {
        const header = headerLength(bytes, at);
        if (header < 0) {
          this.headerCarry = Buffer.from(bytes.subarray(at));
          return;
        }
        // Control frames are never fragmented (§5.5), so a continuation always continues data.
        this.opcode = bytes[at]! & 0x0f;
        this.payloadLeft = payloadLength(bytes, at);
        at += header;
        if (this.payloadLeft === 0) {
          this.endFrame();
          continue;
        }
      }
      const n = Math.min(this.payloadLeft, bytes.length - at);
      const piece = bytes.subarray(at, at + n);
      at += n;
      this.payloadLeft -= n;
      if (this.opcode <= Opcode.BINARY) this.handler.data(piece);
      else this.controlParts.push(Buffer.from(piece));
      if (this.payloadLeft === 0) this.endFrame();
    }
  }

  private endFrame(): void {
    if (this.opcode === Opcode.PING) this.handler.ping(Buffer.concat(this.controlParts));
    else if (this.opcode === Opcode.CLOSE) this.handler.close();
    this.controlParts = [];
  }
}

/** Bytes of the frame header at `bytes[at]`, or -1 while it is not all there. Masked server frames are refused (§5.1). */
function headerLength(bytes: Buffer, at: number): number {
  if (bytes.length - at < 2) return -1;
  if (bytes[at + 1]! & 0x80) throw new Error('masked WebSocket frame from the server');
  const len7 = bytes[at + 1]! & 0x7f;
  const header = len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
  return bytes.length - at < header ? -1 : header;
}

/** Payload length of the frame whose complete header is at `bytes[at]`. */
function payloadLength(bytes: Buffer, at: number): number {
  const len7 = bytes[at + 1]! & 0x7f;
  if (len7 < 126) return len7;
  if (len7 === 126) return bytes.readUInt16BE(at + 2);
  return Number(bytes.readBigUInt64BE(at + 2));
}

/** A client frame (FIN, masked with an all-zero key: on loopback the XOR buys nothing). */
export function clientFrame(payload: Buffer, opcode: number = Opcode.BINARY): Buffer {
  const len = payload.length;
  const lengthBytes = len < 126 ? 0 : len < 65_536 ? 2 : 8;
  const out = Buffer.alloc(2 + lengthBytes + 4 + len);
  out[0] = 0x80 | opcode;
  out[1] = 0x80 | (len < 126 ? len : len < 65_536 ? 126 : 127);
  if (lengthBytes === 2) out.writeUInt16BE(len, 2);
  else if (lengthBytes === 8) out.writeBigUInt64BE(BigInt(len), 2);
  payload.copy(out, 2 + lengthBytes + 4);
  return out;
}

export const PONG = Opcode.PONG;
