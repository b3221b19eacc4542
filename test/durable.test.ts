import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, FrameKind, type MsgFrame } from '../src/index.js';
import { freePort, startTestBroker, TEST_ADMIN_TOKEN, untilRetainedFrom } from './helpers/broker.js';
import { until } from './helpers/wait.js';
import { RawClient } from './helpers/raw-client.js';

const text = (m: MsgFrame) => Buffer.from(m.payload).toString();

async function messages(client: RawClient, count: number, timeoutMs = 10_000): Promise<MsgFrame[]> {
  const out: MsgFrame[] = [];
  for (let i = 0; i < count; i++) out.push(await client.next(FrameKind.MSG, timeoutMs));
  return out;
}

function ackAll(client: RawClient, msgs: MsgFrame[]): void {
  const last = msgs[msgs.length - 1]!;
  client.send({ kind: FrameKind.ACK, seq: client.nextSeq(), stream: last.stream, offset: last.offset });
}

t.test('a QoS 1 publish is acknowledged with its stored offset', async (t) => {
  const broker = await startTestBroker(t);
  const pub = await RawClient.connect(broker.url, 'pub');
  const first = await pub.request({ kind: FrameKind.PUB, seq: 1, topic: 'orders', payload: Buffer.from('a'), qos: 1 });
  const second = await pub.request({ kind: FrameKind.PUB, seq: 2, topic: 'orders', payload: Buffer.from('b'), qos: 1 });
  t.equal(first.kind === FrameKind.OK && first.offset, 1);
  t.equal(second.kind === FrameKind.OK && second.offset, 2);
  pub.close();
});

t.test('an offline device gets every missed message in order on reconnect, then live ones with no gap or duplicate', async (t) => {
  const broker = await startTestBroker(t);
  const device = await RawClient.connect(broker.url, 'car-1');
  await device.request({ kind: FrameKind.SUB, seq: 1, filters: ['cars/car-1/#'], qos: 1 });
  device.close();
  await device.closed();
  for (let i = 1; i <= 50; i++) await broker.publish('cars/car-1/cmd', `missed-${i}`, { qos: 1 });
  for (let i = 1; i <= 5; i++) await broker.send('car-1', `direct-${i}`, { qos: 1 });

  const back = await RawClient.open(broker.url);
  back.send({ kind: FrameKind.HELLO, seq: 1, versions: [1], deviceId: 'car-1' });
  const welcome = await back.next(FrameKind.WELCOME);
  t.equal(welcome.sessionPresent, true, 'the session survived the disconnect');
  const replayed = await messages(back, 55);
  const topic = replayed.filter((m) => m.stream === 'cars/car-1/cmd');
  const inbox = replayed.filter((m) => m.stream === '$inbox/car-1');
  t.same(topic.map(text), Array.from({ length: 50 }, (_, i) => `missed-${i + 1}`), 'topic backlog in order');
  t.same(inbox.map(text), Array.from({ length: 5 }, (_, i) => `direct-${i + 1}`), 'inbox backlog in order');
  t.ok(replayed.every((m) => m.qos === 1 && m.delivery === 1 && typeof m.epoch === 'string'));
  ackAll(back, topic);
  ackAll(back, inbox);
  // The seam: publish while acks and replay settle; the next offsets follow without a gap.
  for (let i = 51; i <= 60; i++) await broker.publish('cars/car-1/cmd', `live-${i}`, { qos: 1 });
  const live = await messages(back, 10);
  t.same(live.map((m) => m.offset), Array.from({ length: 10 }, (_, i) => 51 + i));
  await new Promise((r) => setTimeout(r, 100));
  t.equal(back.frames.filter((f) => f.kind === FrameKind.MSG).length, 0, 'no duplicates');
  back.close();
});

t.test('the inflight window holds back deliveries until acks free it', async (t) => {
  const broker = await startTestBroker(t, { maxInflight: 5 });
  const device = await RawClient.connect(broker.url, 'slowpoke');
  for (let i = 1; i <= 12; i++) await broker.send('slowpoke', `m${i}`, { qos: 1 });
  const firstFive = await messages(device, 5);
  await new Promise((r) => setTimeout(r, 150));
  t.equal(device.frames.filter((f) => f.kind === FrameKind.MSG).length, 0, 'nothing beyond the window');
  ackAll(device, firstFive.slice(0, 3));
  const nextThree = await messages(device, 3);
  t.same(nextThree.map((m) => m.offset), [6, 7, 8], 'three acks free three slots');
  ackAll(device, nextThree);
  const rest = await messages(device, 4);
  t.same(rest.map((m) => m.offset), [9, 10, 11, 12]);
  device.close();
});

t.test('an unacked delivery is sent again after the ack timeout with a higher delivery count', async (t) => {
  const broker = await startTestBroker(t, { ackTimeoutMs: 200 });
  const device = await RawClient.connect(broker.url, 'forgetful');
  await broker.send('forgetful', 'please ack', { qos: 1 });
  const first = await device.next(FrameKind.MSG);
  t.equal(first.delivery, 1);
  const again = await device.next(FrameKind.MSG, 5000);
  t.equal(again.offset, first.offset);
  t.equal(again.delivery, 2);
  ackAll(device, [again]);
  await new Promise((r) => setTimeout(r, 400));
  t.equal(device.frames.filter((f) => f.kind === FrameKind.MSG).length, 0, 'acked: no more redelivery');
  device.close();
});

t.test('resume positions in HELLO skip what the client already holds', async (t) => {
  const broker = await startTestBroker(t);
  for (let i = 1; i <= 10; i++) await broker.send('resumer', `m${i}`, { qos: 1 });
  const first = await RawClient.connect(broker.url, 'resumer');
  const got = await messages(first, 10);
  const epoch = got[0]!.epoch!;
  first.close(); // never acked: the server cursor stays at 0
  await first.closed();
  const back = await RawClient.open(broker.url);
  back.send({ kind: FrameKind.HELLO, seq: 1, versions: [1], deviceId: 'resumer', resume: [{ stream: '$inbox/resumer', epoch, offset: 7 }] });
  await back.next(FrameKind.WELCOME);
  const rest = await messages(back, 3);
  t.same(rest.map((m) => m.offset), [8, 9, 10]);
  back.close();
});

t.test('a position under another epoch is answered with RESET, never silently skipped', async (t) => {
  const broker = await startTestBroker(t);
  await broker.send('epochal', 'x', { qos: 1 });
  const back = await RawClient.open(broker.url);
  back.send({ kind: FrameKind.HELLO, seq: 1, versions: [1], deviceId: 'epochal', resume: [{ stream: '$inbox/epochal', epoch: 'old-epoch', offset: 40 }] });
  await back.next(FrameKind.WELCOME);
  const reset = await back.next(FrameKind.RESET);
  t.equal(reset.stream, '$inbox/epochal');
  t.not(reset.epoch, 'old-epoch');
  t.match(reset.reason, /epoch/);
  const msg = await back.next(FrameKind.MSG);
  t.equal(text(msg), 'x', 'then the current history follows');
  back.close();
});

t.test('retention that removed messages after the cursor is reported with RESET', async (t) => {
  const broker = await startTestBroker(t, { retention: { maxEntries: 3, maxAgeMs: 60_000 }, maintenanceIntervalMs: 50, adminToken: TEST_ADMIN_TOKEN });
  for (let i = 1; i <= 10; i++) await broker.send('behind', `m${i}`, { qos: 1 });
  await untilRetainedFrom(broker, '$inbox/behind', 8);
  const device = await RawClient.connect(broker.url, 'behind');
  const reset = await device.next(FrameKind.RESET);
  t.equal(reset.offset, 7, 'history now starts after offset 7');
  const kept = await messages(device, 3);
  t.same(kept.map(text), ['m8', 'm9', 'm10']);
  device.close();
});

t.test('a full inbox rejects the sender with INBOX_FULL (reject policy)', async (t) => {
  const broker = await startTestBroker(t, { maxInboxEntries: 3 });
  const sender = await RawClient.connect(broker.url, 'sender');
  for (let i = 1; i <= 3; i++) {
    const ok = await sender.request({ kind: FrameKind.SEND, seq: sender.nextSeq(), target: 'away', payload: Buffer.from(`m${i}`), qos: 1 });
    t.equal(ok.kind, FrameKind.OK);
  }
  const refused = await sender.request({ kind: FrameKind.SEND, seq: sender.nextSeq(), target: 'away', payload: Buffer.from('m4'), qos: 1 });
  t.equal(refused.kind === FrameKind.ERROR && refused.code, ErrorCode.INBOX_FULL);
  sender.close();
});

t.test('a full inbox drops its oldest message (drop-oldest policy) and the device is told', async (t) => {
  const broker = await startTestBroker(t, { maxInboxEntries: 3, inboxFullPolicy: 'drop-oldest' });
  for (let i = 1; i <= 5; i++) await broker.send('away', `m${i}`, { qos: 1 });
  const device = await RawClient.connect(broker.url, 'away');
  const reset = await device.next(FrameKind.RESET);
  t.equal(reset.offset, 2);
  t.same((await messages(device, 3)).map(text), ['m3', 'm4', 'm5']);
  device.close();
});

t.test('sessions, subscriptions, cursors and stored messages survive a broker restart', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'relaymesh-restart-'));
  const port = await freePort();
  const first = await startTestBroker(t, { dataDir, port });
  const device = await RawClient.connect(first.url, 'persistent');
  await device.request({ kind: FrameKind.SUB, seq: 1, filters: ['news/#'], qos: 1 });
  await first.publish('news/a', 'one', { qos: 1 });
  const one = await device.next(FrameKind.MSG);
  ackAll(device, [one]);
  await new Promise((r) => setTimeout(r, 100));
  device.close();
  await first.publish('news/a', 'two', { qos: 1 });
  await first.close();

  const second = await startTestBroker(t, { dataDir, port });
  await second.publish('news/b', 'three', { qos: 1 });
  const back = await RawClient.open(second.url);
  back.send({ kind: FrameKind.HELLO, seq: 1, versions: [1], deviceId: 'persistent' });
  t.equal((await back.next(FrameKind.WELCOME)).sessionPresent, true);
  const got = await messages(back, 2);
  t.same(got.map(text).sort(), ['three', 'two'], 'the unacked and the new message, not the acked one');
  t.same(second.device('persistent')?.subscriptions, ['news/#'], 'the subscription was restored');
  back.close();
});

t.test("a resume position cannot open another device's inbox", async (t) => {
  const broker = await startTestBroker(t);
  await broker.send('victim', 'secret', { qos: 1 });
  const thief = await RawClient.open(broker.url);
  thief.send({ kind: FrameKind.HELLO, seq: 1, versions: [1], deviceId: 'thief', resume: [{ stream: '$inbox/victim', epoch: '', offset: 0 }] });
  await thief.next(FrameKind.WELCOME);
  await new Promise((r) => setTimeout(r, 200));
  t.equal(thief.frames.filter((f) => f.kind === FrameKind.MSG || f.kind === FrameKind.RESET).length, 0, 'nothing of the victim leaks');
  thief.close();
});

t.test('a session that is not resumed within its expiry is discarded with its stored messages', async (t) => {
  const broker = await startTestBroker(t, { sessionExpiryMs: 1000, maintenanceIntervalMs: 100, adminToken: TEST_ADMIN_TOKEN });
  const device = await RawClient.connect(broker.url, 'ephemeral');
  await device.request({ kind: FrameKind.SUB, seq: 1, filters: ['alerts'], qos: 1 });
  device.close();
  await device.closed();
  await broker.publish('alerts', 'while away', { qos: 1 });
  // The maintenance discards the session once it is past its expiry: wait for that, not for a margin.
  await until('the session to expire', async () => {
    const reply = await fetch(`http://127.0.0.1:${broker.port}/admin/sessions/ephemeral`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
    return reply.status === 404;
  });
  const back = await RawClient.open(broker.url);
  back.send({ kind: FrameKind.HELLO, seq: 1, versions: [1], deviceId: 'ephemeral' });
  t.equal((await back.next(FrameKind.WELCOME)).sessionPresent, false, 'the session expired');
  await new Promise((r) => setTimeout(r, 200));
  t.equal(back.frames.filter((f) => f.kind === FrameKind.MSG).length, 0, 'nothing replayed');
  t.same(broker.device('ephemeral')?.subscriptions, [], 'subscriptions were not restored');
  back.close();
});
