import t from 'tap';
import { FrameKind } from '../src/index.js';
import { startTestBroker } from './helpers/broker.js';
import { RawClient } from './helpers/raw-client.js';

t.test('SEND reaches the target device on its inbox stream', async (t) => {
  const broker = await startTestBroker(t);
  const alice = await RawClient.connect(broker.url, 'alice');
  const bob = await RawClient.connect(broker.url, 'bob');
  alice.send({ kind: FrameKind.SEND, seq: 1, target: 'bob', payload: Buffer.from('hi bob'), traceId: 'tr-9' });
  const msg = await bob.next(FrameKind.MSG);
  t.equal(msg.stream, '$inbox/bob');
  t.equal(msg.from, 'alice');
  t.equal(msg.traceId, 'tr-9');
  t.equal(Buffer.from(msg.payload).toString(), 'hi bob');
  t.equal(alice.frames.filter((f) => f.kind === FrameKind.MSG).length, 0);
  alice.close();
  bob.close();
});

t.test('broker.send delivers from the server side; an offline device is reported', async (t) => {
  const broker = await startTestBroker(t);
  const bob = await RawClient.connect(broker.url, 'bob');
  t.equal(await broker.send('bob', 'command: reboot'), true);
  const msg = await bob.next(FrameKind.MSG);
  t.equal(Buffer.from(msg.payload).toString(), 'command: reboot');
  t.equal(msg.from, undefined, 'server messages have no sender device');
  t.ok(msg.traceId.length > 0, 'a trace id is generated');
  t.equal(await broker.send('nobody', 'x'), false);
  await t.rejects(broker.send('', 'x'), /device id/);
  bob.close();
});

t.test('broker.publish refuses an invalid topic', async (t) => {
  const broker = await startTestBroker(t);
  await t.rejects(broker.publish('a/#', 'x'), /wildcards/);
});
