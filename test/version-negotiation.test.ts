import t from 'tap';
import { CloseCode, ErrorCode, FrameKind, negotiateVersion } from '../src/index.js';
import { startTestBroker } from './helpers/broker.js';
import { RawClient } from './helpers/raw-client.js';

t.test('the server picks the highest common version', async (t) => {
  const broker = await startTestBroker(t);
  const client = await RawClient.open(broker.url);
  client.send({ kind: FrameKind.HELLO, seq: 1, versions: [7, 1, 3], deviceId: 'dev-a' });
  const welcome = await client.next(FrameKind.WELCOME);
  t.equal(welcome.version, 1);
  t.equal(welcome.seq, 1, 'WELCOME answers the HELLO seq');
  t.ok(welcome.sessionId.length > 0);
  t.equal(welcome.heartbeatMs, 30_000);
  client.close();
});

t.test('no common version: UNSUPPORTED_VERSION then close 4500', async (t) => {
  const broker = await startTestBroker(t);
  const client = await RawClient.open(broker.url);
  client.send({ kind: FrameKind.HELLO, seq: 1, versions: [2, 9], deviceId: 'dev-a' });
  const error = await client.next(FrameKind.ERROR);
  t.equal(error.code, ErrorCode.UNSUPPORTED_VERSION);
  t.equal(error.ref, 1);
  const closed = await client.closed();
  t.equal(closed.code, CloseCode.UNSUPPORTED_VERSION);
});

t.test('negotiateVersion prefers the highest common one', async (t) => {
  t.equal(negotiateVersion([1, 2, 3], [2, 3, 4]), 3);
  t.equal(negotiateVersion([5], [1]), undefined);
  t.equal(negotiateVersion([], [1]), undefined);
});

t.test('a frame other than HELLO first is a protocol violation', async (t) => {
  const broker = await startTestBroker(t);
  const client = await RawClient.open(broker.url);
  client.send({ kind: FrameKind.PING, seq: 1 });
  t.equal((await client.next(FrameKind.ERROR)).code, ErrorCode.PROTOCOL_VIOLATION);
  t.equal((await client.closed()).code, CloseCode.PROTOCOL_VIOLATION);
});

t.test('a rejected authentication closes with UNAUTHORIZED', async (t) => {
  const broker = await startTestBroker(t, {
    anonymous: false,
    authenticate: ({ token }) => (token === 'good' ? { ok: true } : { ok: false, reason: 'bad token' }),
  });
  const denied = await RawClient.open(broker.url);
  denied.send({ kind: FrameKind.HELLO, seq: 1, versions: [1], deviceId: 'dev-a', token: 'bad' });
  t.equal((await denied.next(FrameKind.ERROR)).code, ErrorCode.UNAUTHORIZED);
  t.equal((await denied.closed()).code, CloseCode.UNAUTHORIZED);
  const admitted = await RawClient.connect(broker.url, 'dev-a', { token: 'good' });
  t.equal(broker.device('dev-a')?.state, 'live');
  admitted.close();
});
