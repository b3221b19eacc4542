import t from 'tap';
import WebSocket from 'ws';
import { decodeFrame, FrameKind, type Frame } from '../src/protocol/index.js';
import { RelaymeshClient, type ClientOptions, type Message, type ResetInfo, type WebSocketConstructor, type WebSocketLike } from '../packages/client/src/index.js';
import { startTestBroker, TEST_ADMIN_TOKEN, untilRetainedFrom } from './helpers/broker.js';

const text = (m: Message) => Buffer.from(m.payload).toString();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The `ws` socket behind a lossy path: inbound frames `drop` picks never reach the SDK.
 * Records every frame the SDK writes.
 */
function lossyWebSocket(drop: (frame: Frame) => boolean, written: Frame[]): WebSocketConstructor {
  return class LossyWebSocket implements WebSocketLike {
    private readonly ws: WebSocket;
    constructor(url: string) {
      this.ws = new WebSocket(url);
    }
    get binaryType(): string {
      return this.ws.binaryType;
    }
    set binaryType(type: string) {
      this.ws.binaryType = type as WebSocket['binaryType'];
    }
    get readyState(): number {
      return this.ws.readyState;
    }
    send(data: Uint8Array): void {
      const decoded = decodeFrame(data);
      if (decoded.ok) written.push(decoded.frame);
      this.ws.send(data);
    }
    close(code?: number, reason?: string): void {
      this.ws.close(code, reason);
    }
    terminate(): void {
      this.ws.terminate();
    }
    addEventListener(type: 'open' | 'error' | 'message' | 'close', listener: (event: never) => void): void {
      const deliver = listener as (event: unknown) => void;
      if (type !== 'message') return void this.ws.addEventListener(type, deliver);
      this.ws.addEventListener('message', (event) => {
        const decoded = decodeFrame(new Uint8Array(event.data as ArrayBuffer));
        if (!(decoded.ok && drop(decoded.frame))) deliver(event);
      });
    }
  };
}

async function device(t: { teardown(fn: () => unknown): void }, options: ClientOptions) {
  const client = new RelaymeshClient(options);
  const messages: Message[] = [];
  const resets: ResetInfo[] = [];
  const events: string[] = [];
  client.on('message', (m) => (messages.push(m), events.push(`msg ${m.offset}`)));
  client.on('reset', (r) => (resets.push(r), events.push(`reset ${r.offset}`)));
  t.teardown(() => client.close());
  await client.connect();
  const until = async (count: number) => {
    const deadline = Date.now() + 5000;
    while (messages.length < count && Date.now() < deadline) await sleep(10);
  };
  return { client, messages, resets, events, until };
}

t.test('a message lost on the way is fetched again with RESYNC and delivered in order, once', async (t) => {
  const broker = await startTestBroker(t);
  const written: Frame[] = [];
  let dropped = false;
  const dropFirstOffset3 = (f: Frame) => f.kind === FrameKind.MSG && f.offset === 3 && !dropped && (dropped = true);
  const app = await device(t, { url: broker.url, deviceId: 'lossy', WebSocket: lossyWebSocket(dropFirstOffset3, written) });
  for (let i = 1; i <= 6; i++) await broker.send('lossy', `m${i}`, { qos: 1 });
  await app.until(6);
  await sleep(100);
  t.ok(dropped, 'offset 3 was lost once');
  t.same(app.messages.map(text), ['m1', 'm2', 'm3', 'm4', 'm5', 'm6']);
  const resyncs = written.filter((f) => f.kind === FrameKind.RESYNC);
  // One RESYNC; on a loaded machine the resend may take past the retry interval (1 s), and a
  // retry asks for the same position again.
  t.ok(resyncs.length >= 1, `${resyncs.length} RESYNC(s)`);
  t.same(
    new Set(resyncs.map((f) => f.kind === FrameKind.RESYNC && `${f.stream}@${f.offset}`)),
    new Set(['$inbox/lossy@2']),
    'from the last offset delivered in order',
  );
  t.same(app.resets, []);
  t.same(app.client.positions(), [{ stream: '$inbox/lossy', epoch: app.messages[0]!.epoch, offset: 6 }]);
});

t.test('retention that removed messages is reported as a reset, then delivery continues after it', async (t) => {
  const broker = await startTestBroker(t, { retention: { maxEntries: 3, maxAgeMs: 60_000 }, maintenanceIntervalMs: 50, adminToken: TEST_ADMIN_TOKEN });
  for (let i = 1; i <= 10; i++) await broker.send('behind', `m${i}`, { qos: 1 });
  await untilRetainedFrom(broker, '$inbox/behind', 8);
  const app = await device(t, { url: broker.url, deviceId: 'behind' });
  await app.until(3);
  await sleep(100);
  t.equal(app.resets.length, 1);
  t.match(app.resets[0], { stream: '$inbox/behind', offset: 7, reason: /retention/ });
  t.same(app.events, ['reset 7', 'msg 8', 'msg 9', 'msg 10'], 'told before the messages that follow it');
  t.same(app.messages.map(text), ['m8', 'm9', 'm10']);
  await broker.send('behind', 'm11', { qos: 1 });
  await app.until(4);
  t.equal(text(app.messages[3]!), 'm11', 'live messages follow with no gap');
});

t.test('across a reconnect the broker resumes after the last delivered offset: nothing lost, nothing twice', async (t) => {
  const broker = await startTestBroker(t);
  const written: Frame[] = [];
  const options = { url: broker.url, deviceId: 'hopper', reconnect: { initialDelayMs: 20, jitter: 0 } } as const;
  const app = await device(t, { ...options, WebSocket: lossyWebSocket(() => false, written) });
  for (let i = 1; i <= 3; i++) await broker.send('hopper', `m${i}`, { qos: 1 });
  await app.until(3);
  const back = new Promise((r) => app.client.once('connected', r));
  broker.kick('hopper');
  for (let i = 4; i <= 8; i++) await broker.send('hopper', `m${i}`, { qos: 1 });
  await back;
  await app.until(8);
  await sleep(100);
  t.same(app.messages.map(text), ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8']);
  t.same(app.resets, []);
  t.same(written.filter((f) => f.kind === FrameKind.RESYNC), [], 'no gap to repair');
});
