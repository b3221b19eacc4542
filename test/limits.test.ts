import t from 'tap';
import { CloseCode, ErrorCode, FrameKind } from '../src/index.js';
import { startTestBroker } from './helpers/broker.js';
import { until } from './helpers/wait.js';
import { RawClient } from './helpers/raw-client.js';

const limits = { messagesPerSecond: 20, bytesPerSecond: 1_000_000, maxSubscriptions: 3, maxConnectionsPerAddress: 5, abuseThreshold: 30 };

t.test('a connection over its message rate gets RATE_LIMITED and stays up', async (t) => {
  const broker = await startTestBroker(t, { limits });
  const client = await RawClient.connect(broker.url, 'chatty');
  for (let i = 0; i < 25; i++) client.send({ kind: FrameKind.PING, seq: 100 + i });
  const error = await client.next(FrameKind.ERROR);
  t.equal(error.code, ErrorCode.RATE_LIMITED);
  await new Promise((r) => setTimeout(r, 1100));
  client.send({ kind: FrameKind.PING, seq: 999 });
  t.equal((await client.waitFor((f) => f.kind === FrameKind.PONG && f.seq === 999)).kind, FrameKind.PONG, 'fine again after a second');
  client.close();
});

t.test('a connection over its byte rate gets RATE_LIMITED', async (t) => {
  const broker = await startTestBroker(t, { limits: { ...limits, bytesPerSecond: 10_000 } });
  const client = await RawClient.connect(broker.url, 'bulky');
  for (let i = 0; i < 3; i++) client.send({ kind: FrameKind.PUB, seq: i + 1, topic: 't', payload: new Uint8Array(6000) });
  t.equal((await client.next(FrameKind.ERROR)).code, ErrorCode.RATE_LIMITED);
  client.close();
});

t.test('repeated abuse closes the connection with ABUSE', async (t) => {
  const broker = await startTestBroker(t, { limits });
  const client = await RawClient.connect(broker.url, 'abuser');
  for (let i = 0; i < 100; i++) client.send({ kind: FrameKind.PING, seq: i + 1 });
  t.equal((await client.closed()).code, CloseCode.ABUSE);
});

t.test('subscriptions beyond the limit get TOO_MANY_SUBSCRIPTIONS', async (t) => {
  const broker = await startTestBroker(t, { limits });
  const client = await RawClient.connect(broker.url, 'greedy');
  t.equal((await client.request({ kind: FrameKind.SUB, seq: 1, filters: ['a', 'b', 'c'] })).kind, FrameKind.OK);
  const reply = await client.request({ kind: FrameKind.SUB, seq: 2, filters: ['d'] });
  t.equal(reply.kind === FrameKind.ERROR && reply.code, ErrorCode.TOO_MANY_SUBSCRIPTIONS);
  t.equal((await client.request({ kind: FrameKind.SUB, seq: 3, filters: ['a'] })).kind, FrameKind.OK, 're-subscribing an existing filter is fine');
  client.close();
});

t.test('connections beyond the per-address limit are closed with TOO_MANY_CONNECTIONS', async (t) => {
  const broker = await startTestBroker(t, { limits });
  const admitted = await Promise.all(Array.from({ length: 5 }, (_, i) => RawClient.connect(broker.url, `dev-${i}`)));
  const extra = await RawClient.open(broker.url);
  t.equal((await extra.closed()).code, CloseCode.TOO_MANY_CONNECTIONS);
  admitted[0]!.close();
  await admitted[0]!.closed();
  // The client saw its close; the broker frees the slot when it handles the close on its side.
  await until('the broker to see the disconnect', () => broker.connectedDevices === 4);
  const again = await RawClient.connect(broker.url, 'dev-again');
  t.ok(broker.device('dev-again'), 'a slot freed by a disconnect can be used');
  for (const c of [...admitted.slice(1), again]) c.close();
});

t.test('a data dir that cannot be opened fails start-up with a clear message', async (t) => {
  const dir = t.testdir({ 'store.mdb': 'this is not an LMDB file, and must not be wiped' });
  await t.rejects(startTestBroker(t, { dataDir: dir }), /cannot open the message store/);
  const { readFileSync } = await import('node:fs');
  t.equal(readFileSync(`${dir}/store.mdb`, 'utf8'), 'this is not an LMDB file, and must not be wiped');
});
