import t from 'tap';
import { FrameKind, type MsgFrame } from '../src/index.js';
import { startTestBroker } from './helpers/broker.js';
import { RawClient } from './helpers/raw-client.js';

async function messages(client: RawClient, count: number): Promise<MsgFrame[]> {
  const out: MsgFrame[] = [];
  for (let i = 0; i < count; i++) out.push(await client.next(FrameKind.MSG, 10_000));
  return out;
}

/** Frames are handled in order: once the PONG is back, every frame sent before it was handled. */
async function handled(client: RawClient): Promise<void> {
  const seq = client.nextSeq();
  client.send({ kind: FrameKind.PING, seq, ts: 0 });
  await client.waitFor((f) => f.kind === FrameKind.PONG && f.seq === seq, 10_000);
}

t.test('ACKs still queued when the socket closes all reach the stored cursor', async (t) => {
  const broker = await startTestBroker(t);
  const device = await RawClient.connect(broker.url, 'quick-exit');
  await Promise.all(Array.from({ length: 50 }, (_, i) => broker.send('quick-exit', `m${i + 1}`, { qos: 1 })));
  const got = await messages(device, 50);
  // One ACK per message, then straight away the close: they reach the broker together.
  for (const m of got) device.send({ kind: FrameKind.ACK, seq: device.nextSeq(), stream: m.stream, offset: m.offset });
  device.close();
  await device.closed();

  await broker.send('quick-exit', 'after', { qos: 1 });
  const back = await RawClient.connect(broker.url, 'quick-exit');
  const first = await back.next(FrameKind.MSG, 10_000);
  t.equal(first.offset, 51, 'the next session starts after everything acknowledged');
  t.equal(Buffer.from(first.payload).toString(), 'after');
  back.close();
});

t.test('the ack clock starts when the delivery is written: a stalled loop does not trigger a redelivery', async (t) => {
  const broker = await startTestBroker(t, { ackTimeoutMs: 5000 });
  const device = await RawClient.connect(broker.url, 'patient');
  await broker.send('patient', 'x', { qos: 1 });
  // The delivery is queued for writing; the broker's loop then stalls for longer than the ack timeout.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 6000);
  const msg = await device.next(FrameKind.MSG, 10_000);
  t.equal(msg.delivery, 1);
  device.send({ kind: FrameKind.ACK, seq: device.nextSeq(), stream: msg.stream, offset: msg.offset });
  await handled(device);
  t.same(device.frames.filter((f) => f.kind === FrameKind.MSG), [], 'no redelivery of a message acked on receipt');
  device.close();
});
