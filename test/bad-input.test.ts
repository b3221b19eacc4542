import t from 'tap';
import { encode } from 'msgpackr';
import { CloseCode, ErrorCode, FrameKind } from '../src/index.js';
import { startTestBroker } from './helpers/broker.js';
import { RawClient } from './helpers/raw-client.js';

t.test('an unknown command gets UNKNOWN_COMMAND and the connection stays up', async (t) => {
  const broker = await startTestBroker(t);
  const client = await RawClient.connect(broker.url, 'dev-a');
  client.sendRaw(encode([99, 5, 'x']));
  const error = await client.next(FrameKind.ERROR);
  t.equal(error.code, ErrorCode.UNKNOWN_COMMAND);
  t.equal(error.ref, 5);
  client.send({ kind: FrameKind.PING, seq: 6, ts: 1 });
  t.equal((await client.next(FrameKind.PONG)).seq, 6, 'still answering');
  client.close();
});

t.test('a server-to-client kind sent by a client is an unknown command', async (t) => {
  const broker = await startTestBroker(t);
  const client = await RawClient.connect(broker.url, 'dev-a');
  client.send({ kind: FrameKind.OK, seq: 3, ref: 1 });
  t.equal((await client.next(FrameKind.ERROR)).code, ErrorCode.UNKNOWN_COMMAND);
  client.close();
});

t.test('garbage gets MALFORMED_FRAME and the session survives', async (t) => {
  const broker = await startTestBroker(t);
  const client = await RawClient.connect(broker.url, 'dev-a');
  const garbage = [Buffer.from([0xc1]), Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff]), encode({ not: 'an array' }), encode([1]), encode(['x', 1])];
  for (const bytes of garbage) {
    client.sendRaw(bytes);
    t.equal((await client.next(FrameKind.ERROR)).code, ErrorCode.MALFORMED_FRAME);
  }
  client.send({ kind: FrameKind.PING, seq: 9 });
  await client.next(FrameKind.PONG);
  client.close();
});

t.test('wrong field types get INVALID_FIELD with the frame seq', async (t) => {
  const broker = await startTestBroker(t);
  const client = await RawClient.connect(broker.url, 'dev-a');
  client.sendRaw(encode([FrameKind.PUB, 4, 42, 'not bytes']));
  const error = await client.next(FrameKind.ERROR);
  t.equal(error.code, ErrorCode.INVALID_FIELD);
  t.equal(error.ref, 4);
  client.sendRaw(encode([FrameKind.SUB, 5, ['ok'], 7]));
  t.equal((await client.next(FrameKind.ERROR)).code, ErrorCode.INVALID_FIELD, 'qos must be 0 or 1');
  client.close();
});

t.test('invalid topics and filters are refused with INVALID_TOPIC', async (t) => {
  const broker = await startTestBroker(t);
  const client = await RawClient.connect(broker.url, 'dev-a');
  for (const filter of ['a/#/b', 'a+/b', '', '$inbox/x']) {
    const reply = await client.request({ kind: FrameKind.SUB, seq: client.nextSeq(), filters: [filter] });
    t.equal(reply.kind === FrameKind.ERROR && reply.code, ErrorCode.INVALID_TOPIC, `filter ${JSON.stringify(filter)}`);
  }
  const reply = await client.request({ kind: FrameKind.PUB, seq: client.nextSeq(), topic: 'a/+', payload: new Uint8Array(1), qos: 1 });
  t.equal(reply.kind === FrameKind.ERROR && reply.code, ErrorCode.INVALID_TOPIC);
  client.close();
});

t.test('text frames are refused', async (t) => {
  const broker = await startTestBroker(t);
  const client = await RawClient.connect(broker.url, 'dev-a');
  client.sendRaw('hello');
  t.equal((await client.next(FrameKind.ERROR)).code, ErrorCode.MALFORMED_FRAME);
  client.close();
});

t.test('an oversize frame gets TOO_LARGE; a huge one closes the socket; others are unaffected', async (t) => {
  const broker = await startTestBroker(t, { maxFrameBytes: 1024 });
  const bystander = await RawClient.connect(broker.url, 'bystander');
  const client = await RawClient.connect(broker.url, 'dev-a');
  client.send({ kind: FrameKind.PUB, seq: 2, topic: 't', payload: new Uint8Array(2000) });
  t.equal((await client.next(FrameKind.ERROR)).code, ErrorCode.TOO_LARGE);
  client.send({ kind: FrameKind.PING, seq: 3 });
  await client.next(FrameKind.PONG);
  client.send({ kind: FrameKind.PUB, seq: 4, topic: 't', payload: new Uint8Array(64 * 1024) });
  const closed = await client.closed();
  t.not(closed.code, 1000, `closed with ${closed.code}`);
  bystander.send({ kind: FrameKind.PING, seq: 5 });
  await bystander.next(FrameKind.PONG);
  bystander.close();
});

t.test('garbage before HELLO closes with a reason', async (t) => {
  const broker = await startTestBroker(t);
  const client = await RawClient.open(broker.url);
  client.sendRaw(Buffer.from('\x00\x01\x02'));
  t.equal((await client.next(FrameKind.ERROR)).code, ErrorCode.MALFORMED_FRAME);
  t.equal((await client.closed()).code, CloseCode.PROTOCOL_VIOLATION);
});

t.test('a second HELLO on a live session is a protocol violation, not a crash', async (t) => {
  const broker = await startTestBroker(t);
  const client = await RawClient.connect(broker.url, 'dev-a');
  client.send({ kind: FrameKind.HELLO, seq: 7, versions: [1], deviceId: 'dev-b' });
  const error = await client.next(FrameKind.ERROR);
  t.equal(error.code, ErrorCode.PROTOCOL_VIOLATION);
  t.equal(broker.device('dev-a')?.state, 'live');
  client.close();
});
