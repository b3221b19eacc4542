import t from 'tap';
import { CloseCode, FrameKind } from '../src/index.js';
import { startTestBroker } from './helpers/broker.js';
import { RawClient } from './helpers/raw-client.js';

t.test('WELCOME announces the configured heartbeat', async (t) => {
  const broker = await startTestBroker(t, { heartbeatMs: 1234 });
  const client = await RawClient.open(broker.url);
  client.send({ kind: FrameKind.HELLO, seq: 1, versions: [1], deviceId: 'd' });
  t.equal((await client.next(FrameKind.WELCOME)).heartbeatMs, 1234);
  client.close();
});

t.test('a client that keeps pinging stays; a silent one is closed with HEARTBEAT_TIMEOUT', async (t) => {
  const broker = await startTestBroker(t, { heartbeatMs: 200, idleTimeoutMs: 600 });
  const pinging = await RawClient.connect(broker.url, 'pinging');
  const silent = await RawClient.connect(broker.url, 'silent');
  let seq = 1;
  const timer = setInterval(() => pinging.send({ kind: FrameKind.PING, seq: ++seq }), 150);
  t.teardown(() => clearInterval(timer));
  const closed = await silent.closed(5000);
  t.equal(closed.code, CloseCode.HEARTBEAT_TIMEOUT);
  t.equal(pinging.closeEvent, undefined, 'the pinging client is still connected');
  t.equal(broker.device('silent'), undefined);
  t.ok(broker.device('pinging'));
  clearInterval(timer);
  pinging.close();
});

t.test('a socket that never says HELLO is closed with HANDSHAKE_TIMEOUT', async (t) => {
  const broker = await startTestBroker(t, { handshakeTimeoutMs: 300 });
  const client = await RawClient.open(broker.url);
  t.equal((await client.closed(5000)).code, CloseCode.HANDSHAKE_TIMEOUT);
});
