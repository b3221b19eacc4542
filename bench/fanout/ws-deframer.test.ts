/**
 * The lean subscribers' WebSocket layer: whatever frames the server cuts the stream into and
 * whatever reads those frames arrive in, the data comes out whole and in order, pings are
 * seen, and the client's frames are ones a WebSocket server reads.
 */
import t from 'tap';
import fc from 'fast-check';
import type { EventEmitter } from 'node:events';
import { PONG, WsDeframer, clientFrame } from './ws-deframer.js';

/** A server frame (unmasked), with the shortest length encoding. */
function serverFrame(opcode: number, payload: Buffer, fin = true): Buffer {
  const len = payload.length;
  const header = len < 126 ? Buffer.from([0, len]) : len < 65_536 ? Buffer.from([0, 126, len >> 8, len & 0xff]) : Buffer.concat([Buffer.from([0, 127]), bigLength(len)]);
  header[0] = (fin ? 0x80 : 0) | opcode;
  return Buffer.concat([header, payload]);
}

function bigLength(len: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(len));
  return b;
}

/** Cuts `bytes` at the given offsets. */
function cut(bytes: Buffer, offsets: number[]): Buffer[] {
  const points = [...new Set(offsets.map((o) => o % (bytes.length + 1)))].sort((a, b) => a - b);
  return [...points, bytes.length].map((p, i, all) => bytes.subarray(i === 0 ? 0 : all[i - 1]!, p));
}

function deframe(chunks: Buffer[]): { data: Buffer; pings: string[]; closed: number } {
  const parts: Buffer[] = [];
  const pings: string[] = [];
  let closed = 0;
  const deframer = new WsDeframer({ data: (b) => parts.push(Buffer.from(b)), ping: (p) => pings.push(p.toString()), close: () => closed++ });
  for (const c of chunks) deframer.push(c);
  return { data: Buffer.concat(parts), pings, closed };
}

function counted(n: number): Uint8Array {
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i++) bytes[i] = i % 251;
  return bytes;
}

/** One message of the stream: its bytes, sent as one frame or as a fragmented message, maybe with a ping between fragments. */
const messageArb = fc.record({
  // Now and then over 65,535 bytes (a 64-bit length), counted bytes rather than generated ones (faster).
  bytes: fc.oneof({ arbitrary: fc.uint8Array({ maxLength: 300 }), weight: 9 }, { arbitrary: fc.integer({ min: 65_536, max: 70_000 }).map(counted), weight: 1 }),
  fragments: fc.integer({ min: 1, max: 4 }),
  ping: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
});

t.test('data split over frames, fragments and reads comes out whole and in order, pings between', async (t) => {
  fc.assert(
    fc.property(fc.array(messageArb, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 40 }), (messages, offsets) => {
      const frames: Buffer[] = [];
      const pings: string[] = [];
      for (const m of messages) {
        const bytes = Buffer.from(m.bytes);
        const size = Math.ceil(bytes.length / m.fragments) || 1;
        const pieces = Array.from({ length: m.fragments }, (_, i) => bytes.subarray(i * size, (i + 1) * size));
        pieces.forEach((piece, i) => {
          frames.push(serverFrame(i === 0 ? 2 : 0, piece, i === pieces.length - 1));
          // Control frames may come between the fragments of a message (RFC 6455 §5.4).
          if (i === 0 && m.ping !== undefined) {
            frames.push(serverFrame(9, Buffer.from(m.ping)));
            pings.push(m.ping);
          }
        });
      }
      const got = deframe(cut(Buffer.concat(frames), offsets));
      const want = Buffer.concat(messages.map((m) => Buffer.from(m.bytes)));
      return got.data.equals(want) && JSON.stringify(got.pings) === JSON.stringify(pings) && got.closed === 0;
    }),
    { numRuns: 150 },
  );
  t.pass('150 runs');
});

t.test('a close frame ends the stream', async (t) => {
  const got = deframe([Buffer.concat([serverFrame(2, Buffer.from('ab')), serverFrame(8, Buffer.from([3, 232]))])]);
  t.same(got, { data: Buffer.from('ab'), pings: [], closed: 1 });
});

t.test('a masked frame from the server is refused', async (t) => {
  const deframer = new WsDeframer({ data: () => undefined, ping: () => undefined, close: () => undefined });
  t.throws(() => deframer.push(Buffer.from([0x82, 0x81, 0, 0, 0, 0, 7])), /masked/);
});

t.test('client frames of every length encoding are read back by the ws library as sent', async (t) => {
  const sizes = [0, 125, 126, 65_535, 65_536];
  const received: { data: string; binary: boolean }[] = [];
  const pongs: string[] = [];
  // ws exports its frame parser at run time; its type declarations leave it out.
  const { Receiver } = (await import('ws')) as unknown as { Receiver: new (o: { isServer: boolean }) => EventEmitter & { write(b: Buffer): void } };
  const receiver = new Receiver({ isServer: true });
  receiver.on('message', (data: Buffer, isBinary: boolean) => received.push({ data: data.toString('hex'), binary: isBinary }));
  receiver.on('pong', (data: Buffer) => pongs.push(data.toString()));
  const payloads = sizes.map((n) => Buffer.alloc(n, n % 251));
  for (const p of payloads) receiver.write(clientFrame(p));
  receiver.write(clientFrame(Buffer.from('hi'), PONG));
  await new Promise((r) => setImmediate(r));
  t.same(received, payloads.map((p) => ({ data: p.toString('hex'), binary: true })));
  t.same(pongs, ['hi']);
});
