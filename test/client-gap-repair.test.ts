import t from 'tap';
import { WebSocketServer, type WebSocket } from 'ws';
import { decodeFrame, encodeFrame, FrameKind, type Frame, type FrameOf, type MsgFrame } from '../src/protocol/index.js';
import { RelaymeshClient, type ClientOptions, type Message, type ResetInfo } from '../packages/client/src/index.js';

type Teardown = { teardown(fn: () => unknown): void };

/**
 * A scripted broker: completes the handshake, records what the SDK sends, and sends whatever
 * the test tells it to, gaps, duplicates and all.
 */
class ScriptedPeer {
  readonly received: Frame[] = [];
  private socket: WebSocket | undefined;
  private waiters: { match: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];

  private constructor(private readonly server: WebSocketServer) {
    server.on('connection', (ws) => {
      this.socket = ws;
      ws.on('message', (data: Buffer) => {
        const decoded = decodeFrame(data);
        if (!decoded.ok) throw new Error(decoded.message);
        const frame = decoded.frame;
        this.received.push(frame);
        if (frame.kind === FrameKind.HELLO) ws.send(encodeFrame(welcome(frame.seq)));
        if (frame.kind === FrameKind.PING) ws.send(encodeFrame({ kind: FrameKind.PONG, seq: frame.seq, ts: frame.ts }));
        this.waiters = this.waiters.filter((w) => !(w.match(frame) && (w.resolve(frame), true)));
      });
    });
  }

  static async start(t: Teardown): Promise<ScriptedPeer> {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((r) => server.once('listening', r));
    const peer = new ScriptedPeer(server);
    t.teardown(() => peer.stop());
    return peer;
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.server.address() as { port: number }).port}/`;
  }

  send(...frames: Frame[]): void {
    for (const frame of frames) this.socket?.send(encodeFrame(frame));
  }

  /** Resolves with the next frame of `kind` the SDK sends from now on. */
  next<K extends FrameKind>(kind: K, timeoutMs = 3000): Promise<FrameOf<K>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${FrameKind[kind]} within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        match: (f) => f.kind === kind,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f as FrameOf<K>);
        },
      });
    });
  }

  sent<K extends FrameKind>(kind: K): FrameOf<K>[] {
    return this.received.filter((f): f is FrameOf<K> => f.kind === kind);
  }

  dropConnection(): void {
    this.socket?.terminate();
  }

  private stop(): Promise<void> {
    for (const client of this.server.clients) client.terminate();
    return new Promise((r) => this.server.close(() => r()));
  }
}

function welcome(seq: number): FrameOf<FrameKind.WELCOME> {
  return { kind: FrameKind.WELCOME, seq, version: 1, sessionId: 's', heartbeatMs: 10_000, maxFrameBytes: 65536, maxInflight: 100, sessionPresent: true };
}

const STREAM = '$inbox/dev';

function msg(offset: number, epoch = 'e1', delivery = 1): MsgFrame {
  return { kind: FrameKind.MSG, seq: 0, stream: STREAM, offset, payload: Buffer.from(`m${offset}`), traceId: 't', qos: 1, epoch, delivery };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A connected SDK client with what it handed to the application. */
async function connect(t: Teardown, peer: ScriptedPeer, options: Partial<ClientOptions> = {}) {
  const client = new RelaymeshClient({ url: peer.url, deviceId: 'dev', reconnect: false, ...options } as ClientOptions);
  const delivered: Message[] = [];
  const resets: ResetInfo[] = [];
  const events: string[] = [];
  client.on('message', (m) => (delivered.push(m), events.push(`msg ${m.epoch}:${m.offset}`)));
  client.on('reset', (r) => (resets.push(r), events.push(`reset ${r.epoch}:${r.offset}`)));
  t.teardown(() => client.close());
  await client.connect();
  const offsets = () => delivered.map((m) => m.offset);
  /** Waits until the application got `count` messages in all. */
  const until = async (count: number) => {
    const deadline = Date.now() + 3000;
    while (delivered.length < count && Date.now() < deadline) await sleep(5);
  };
  return { client, delivered, resets, events, offsets, until };
}

const highestAck = (peer: ScriptedPeer) => Math.max(0, ...peer.sent(FrameKind.ACK).map((a) => a.offset));

t.test('a gap sends exactly one RESYNC, holds the gapped messages back and does not ack them', async (t) => {
  const peer = await ScriptedPeer.start(t);
  const app = await connect(t, peer);
  const resync = peer.next(FrameKind.RESYNC);
  peer.send(msg(1), msg(2), msg(5), msg(6));
  t.same(await resync, { kind: FrameKind.RESYNC, seq: (await resync).seq, stream: STREAM, offset: 2 });
  await sleep(300);
  t.equal(peer.sent(FrameKind.RESYNC).length, 1, 'one RESYNC for the whole gap');
  t.same(app.offsets(), [1, 2]);
  t.equal(highestAck(peer), 2, 'nothing past the gap acked');
});

t.test('after the resend the application sees every message once, in order', async (t) => {
  const peer = await ScriptedPeer.start(t);
  const app = await connect(t, peer);
  const resync = peer.next(FrameKind.RESYNC);
  peer.send(msg(1), msg(2), msg(5), msg(6));
  await resync;
  peer.send(msg(3), msg(4), msg(5), msg(6), msg(7));
  await app.until(7);
  await sleep(50);
  t.same(app.offsets(), [1, 2, 3, 4, 5, 6, 7]);
  t.same(app.delivered.map((m) => Buffer.from(m.payload).toString()), ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7']);
  t.equal(highestAck(peer), 7);
  t.equal(peer.sent(FrameKind.RESYNC).length, 1);
});

t.test('duplicates that arrive after a RESYNC are dropped, and re-acked once acked', async (t) => {
  const peer = await ScriptedPeer.start(t);
  const app = await connect(t, peer);
  const resync = peer.next(FrameKind.RESYNC);
  peer.send(msg(1), msg(3));
  await resync;
  // The broker rewinds to offset 1 and resends; its redelivery sweep repeats some too.
  peer.send(msg(1, 'e1', 2), msg(2), msg(3), msg(2, 'e1', 2), msg(3, 'e1', 2));
  await app.until(3);
  await sleep(100);
  t.same(app.offsets(), [1, 2, 3]);
  t.same(app.resets, []);
  const acks = peer.sent(FrameKind.ACK).map((a) => a.offset);
  t.same(acks.slice(-2), [3, 3], 'the duplicate of 3 is covered by a repeated ACK 3');
});

t.test('an unanswered RESYNC is sent again after about a second', async (t) => {
  const peer = await ScriptedPeer.start(t);
  await connect(t, peer);
  const first = peer.next(FrameKind.RESYNC);
  peer.send(msg(1), msg(4));
  await first;
  const started = Date.now();
  const again = await peer.next(FrameKind.RESYNC, 30_000);
  t.equal(again.offset, 1);
  t.ok(Date.now() - started >= 800, `repeated after ${Date.now() - started} ms`);
});

t.test('RESET moves the position to the new epoch and is reported before the messages that follow', async (t) => {
  const peer = await ScriptedPeer.start(t);
  const app = await connect(t, peer);
  peer.send(msg(1), msg(2));
  peer.send({ kind: FrameKind.RESET, seq: 0, stream: STREAM, epoch: 'e2', offset: 10, reason: 'the stream was reset: its epoch changed' });
  peer.send(msg(11, 'e2'), msg(12, 'e2'), msg(3, 'e1'));
  await app.until(4);
  await sleep(100);
  t.same(app.resets, [{ stream: STREAM, epoch: 'e2', offset: 10, reason: 'the stream was reset: its epoch changed' }]);
  t.same(app.events, ['msg e1:1', 'msg e1:2', 'reset e2:10', 'msg e2:11', 'msg e2:12'], 'a late message of the old epoch is dropped');
  t.same(app.client.positions(), [{ stream: STREAM, epoch: 'e2', offset: 12 }]);
  t.same(peer.sent(FrameKind.RESYNC), [], 'offset 11 after RESET 10 is no gap');
});

t.test('RESET in the same epoch skips what retention removed: the next message is no gap', async (t) => {
  const peer = await ScriptedPeer.start(t);
  const app = await connect(t, peer);
  peer.send(msg(1));
  peer.send({ kind: FrameKind.RESET, seq: 0, stream: STREAM, epoch: 'e1', offset: 7, reason: 'retention removed messages after your position' });
  peer.send(msg(8), msg(9));
  await app.until(3);
  await sleep(100);
  t.same(app.offsets(), [1, 8, 9]);
  t.same(app.resets.map((r) => r.offset), [7]);
  t.same(peer.sent(FrameKind.RESYNC), []);
  t.equal(highestAck(peer), 9);
});

t.test('the first epoch of a stream is accepted at any offset without a reset', async (t) => {
  const peer = await ScriptedPeer.start(t);
  const app = await connect(t, peer);
  peer.send(msg(42), msg(43));
  await app.until(2);
  t.same(app.offsets(), [42, 43]);
  t.same(app.resets, []);
});

t.test('a new epoch without a RESET is accepted and reported as an epoch change', async (t) => {
  const peer = await ScriptedPeer.start(t);
  const app = await connect(t, peer);
  peer.send(msg(5), msg(1, 'e2'), msg(2, 'e2'));
  await app.until(3);
  t.same(app.events, ['msg e1:5', 'reset e2:0', 'msg e2:1', 'msg e2:2']);
  t.same(app.resets, [{ stream: STREAM, epoch: 'e2', offset: 0, reason: 'epoch changed' }]);
});

t.test('QoS 0 messages are delivered as they come, with no gap checks', async (t) => {
  const peer = await ScriptedPeer.start(t);
  const app = await connect(t, peer);
  peer.send({ ...msg(9), qos: 0 }, { ...msg(3), qos: 0 });
  await app.until(2);
  t.same(app.offsets(), [9, 3]);
  t.same(peer.sent(FrameKind.RESYNC), []);
});

t.test('on reconnect the resume position is the last offset delivered in order, not past a gap', async (t) => {
  const peer = await ScriptedPeer.start(t);
  await connect(t, peer, { reconnect: { initialDelayMs: 10, jitter: 0 } });
  const resync = peer.next(FrameKind.RESYNC);
  peer.send(msg(1), msg(2), msg(6));
  await resync;
  const hello = peer.next(FrameKind.HELLO);
  peer.dropConnection();
  t.same((await hello).resume, [{ stream: STREAM, epoch: 'e1', offset: 2 }]);
});

t.test('reconcileMs must be 0 or a usable timer interval', async (t) => {
  const make = (reconcileMs: number) => () => new RelaymeshClient({ url: 'ws://127.0.0.1:1/', deviceId: 'd', reconcileMs });
  t.throws(make(-1), RangeError);
  t.throws(make(Number.NaN), RangeError);
  t.throws(make(2 ** 31), RangeError);
  t.doesNotThrow(make(0));
});
