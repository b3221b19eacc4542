import t from 'tap';
import { createBroker } from '../src/index.js';
import { RelaymeshClient, type Message, type ReconnectInfo } from '../packages/client/src/index.js';
import { freePort, startTestBroker } from './helpers/broker.js';
import { until } from './helpers/wait.js';

const text = (m: Message) => Buffer.from(m.payload).toString();

function nextMessage(client: RelaymeshClient, timeoutMs = 30_000): Promise<Message> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no message in time')), timeoutMs);
    client.once('message', (m) => {
      clearTimeout(timer);
      resolve(m);
    });
  });
}

t.test('the SDK connects, subscribes, publishes and sends', async (t) => {
  const broker = await startTestBroker(t);
  const a = new RelaymeshClient({ url: broker.url, deviceId: 'sdk-a' });
  const b = new RelaymeshClient({ url: broker.url, deviceId: 'sdk-b' });
  t.teardown(() => Promise.all([a.close(), b.close()]));
  const welcome = await a.connect();
  t.equal(welcome.version, 1);
  await b.connect();
  await b.subscribe('sensors/+/temp');
  const got = nextMessage(b);
  await a.publish('sensors/s1/temp', '21.5', { traceId: 'trace-sdk' });
  const msg = await got;
  t.equal(msg.stream, 'sensors/s1/temp');
  t.equal(text(msg), '21.5');
  t.equal(msg.traceId, 'trace-sdk');
  const direct = nextMessage(a);
  await b.send('sdk-a', 'pong');
  t.equal(text(await direct), 'pong');
});

t.test('the SDK reconnects with backoff after the broker restarts, and resubscribes', async (t) => {
  const port = await freePort();
  const first = await startTestBroker(t, { port });
  const client = new RelaymeshClient({
    url: first.url,
    deviceId: 'sdk-reconnect',
    reconnect: { initialDelayMs: 50, maxDelayMs: 400, jitter: 0 },
  });
  t.teardown(() => client.close());
  await client.connect();
  await client.subscribe('alerts/#');
  const reconnecting: ReconnectInfo[] = [];
  client.on('reconnecting', (info) => reconnecting.push(info));
  const disconnected = new Promise<{ code: number; willReconnect: boolean }>((resolve) => client.once('disconnected', resolve));
  await first.close();
  const lost = await disconnected;
  t.equal(lost.code, 4000, 'told the broker is shutting down');
  t.equal(lost.willReconnect, true);

  // Let a few attempts fail so the backoff shows, then bring a broker back on the same port.
  await until('three reconnect attempts', () => reconnecting.length >= 3);
  t.ok(reconnecting.length >= 3, `${reconnecting.length} attempts while the broker was down`);
  const delays = reconnecting.map((r) => r.delayMs);
  t.same(delays.slice(0, 4), [50, 100, 200, 400].slice(0, Math.min(4, delays.length)), 'delays double from the initial delay');
  t.ok(delays.every((d) => d <= 400), 'and never pass the cap');

  const second = await createBroker({ host: '127.0.0.1', port, anonymous: true, logLevel: 'silent' });
  t.teardown(() => second.close());
  const reconnected = new Promise((resolve) => client.once('connected', resolve));
  await reconnected;
  // The SDK re-sent its SUB on the new broker: a publish reaches it.
  const deadline = Date.now() + 30_000;
  while (second.device('sdk-reconnect')?.subscriptions.length !== 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const got = nextMessage(client);
  await second.publish('alerts/fire', 'evacuate');
  t.equal(text(await got), 'evacuate');
  // After success the schedule starts again from the initial delay.
  reconnecting.length = 0;
  second.kick('sdk-reconnect');
  await new Promise((resolve) => client.once('connected', resolve));
  t.equal(reconnecting[0]?.delayMs, 50, 'backoff reset after a successful connection');
});

t.test('the SDK detects a dead peer that stops answering', async (t) => {
  // A peer that completes the handshake and then goes silent, like a broker behind a dead link.
  const { WebSocketServer } = await import('ws');
  const { FrameKind, decodeFrame, encodeFrame } = await import('../src/index.js');
  const silent = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  t.teardown(() => new Promise((r) => silent.close(r)));
  silent.on('connection', (ws) => {
    ws.once('message', (data: Buffer) => {
      const hello = decodeFrame(data);
      if (!hello.ok || hello.frame.kind !== FrameKind.HELLO) return;
      ws.send(
        encodeFrame({
          kind: FrameKind.WELCOME,
          seq: hello.frame.seq,
          version: 1,
          sessionId: 's',
          heartbeatMs: 100,
          maxFrameBytes: 1024,
          maxInflight: 1,
          sessionPresent: false,
        }),
      );
    });
  });
  await new Promise((r) => silent.once('listening', r));
  const { port } = silent.address() as { port: number };
  const client = new RelaymeshClient({ url: `ws://127.0.0.1:${port}/`, deviceId: 'sdk-dead', deadPeerTimeoutMs: 400, reconnect: false });
  const started = Date.now();
  const lost = new Promise<{ code: number; willReconnect: boolean }>((resolve) => client.once('disconnected', resolve));
  await client.connect();
  const info = await lost;
  t.equal(info.code, 4001, 'closed as a heartbeat timeout');
  t.ok(Date.now() - started >= 350, 'after about the dead-peer timeout');
  await client.close();
});
