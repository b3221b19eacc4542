import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrameKind, type MsgFrame } from '../src/index.js';
import { freePort } from './helpers/broker.js';
import { startBrokerProcess } from '../kit/broker-process.js';
import { RawClient } from './helpers/raw-client.js';

const DEVICES = 100;
const PER_DEVICE = 100;
const KILL_AFTER_ACKED = 9_000;
const WINDOW = 256;

t.test('nothing acknowledged to a publisher is lost when the broker is killed with SIGKILL', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'relaymesh-crash-'));
  const port = await freePort();
  // The publisher is a backend pipelining far above a device's rate limit.
  const brokerArgs = ['--rate-limit', '1000000'];
  const broker = await startBrokerProcess(port, dataDir, brokerArgs);
  t.teardown(() => broker.child.kill('SIGKILL'));
  const deviceIds = Array.from({ length: DEVICES }, (_, i) => `dev-${i}`);

  // Before the crash: even devices are online (the first half of them ack everything, the rest
  // receive but never ack: caught mid-ack); odd devices are offline.
  const received = new Map<string, MsgFrame[]>(deviceIds.map((id) => [id, []]));
  const online = await Promise.all(deviceIds.filter((_, i) => i % 2 === 0).map((id) => RawClient.connect(broker.url, id)));
  online.forEach((client, n) => {
    const id = deviceIds[n * 2]!;
    client.ws.on('message', () => {
      for (const f of client.frames.splice(0)) {
        if (f.kind !== FrameKind.MSG) continue;
        received.get(id)!.push(f);
        if (n < online.length / 2) client.send({ kind: FrameKind.ACK, seq: 0, stream: f.stream, offset: f.offset });
      }
    });
  });

  // The publisher pipelines QoS 1 SENDs round-robin and records each one the broker acknowledged.
  const publisher = await RawClient.connect(broker.url, 'publisher');
  const acked = new Map<string, Set<string>>(deviceIds.map((id) => [id, new Set()]));
  let ackedCount = 0;
  let killed = false;
  const pending = new Map<number, { target: string; payload: string }>();
  publisher.ws.on('message', () => {
    for (const f of publisher.frames.splice(0)) {
      if (f.kind !== FrameKind.OK) continue;
      const sent = pending.get(f.ref);
      if (!sent) continue;
      pending.delete(f.ref);
      acked.get(sent.target)!.add(sent.payload);
      ackedCount++;
      if (ackedCount >= KILL_AFTER_ACKED && !killed) {
        killed = true;
        broker.child.kill('SIGKILL');
      }
    }
  });
  let seq = 0;
  const started = Date.now();
  for (let i = 0; i < PER_DEVICE * DEVICES && !killed && Date.now() - started < 60_000; i++) {
    while (pending.size >= WINDOW && !killed && Date.now() - started < 60_000) await new Promise((r) => setTimeout(r, 1));
    if (killed) break;
    const target = deviceIds[i % DEVICES]!;
    const payload = `${target}#${Math.floor(i / DEVICES)}`;
    pending.set(++seq, { target, payload });
    publisher.send({ kind: FrameKind.SEND, seq, target, payload: Buffer.from(payload), qos: 1 });
  }
  // Kill now if the publisher ran out of time before reaching the mark (a slow machine).
  if (!killed) {
    killed = true;
    broker.child.kill('SIGKILL');
  }
  const exit = await broker.exited;
  t.equal(exit.signal, 'SIGKILL', 'the broker was killed mid-stream');
  t.ok(ackedCount > 0, `${ackedCount} messages acknowledged to the publisher before the kill`);

  // A new broker on the same data dir; every device comes back and drains its inbox.
  const restarted = await startBrokerProcess(port, dataDir, brokerArgs);
  t.teardown(() => restarted.child.kill('SIGKILL'));
  const clients = await Promise.all(deviceIds.map((id) => RawClient.connect(restarted.url, id)));
  t.teardown(() => clients.forEach((c) => c.close()));
  let lost = 0;
  let duplicates = 0;
  let outOfOrder = 0;
  await Promise.all(
    clients.map(async (client, n) => {
      const id = deviceIds[n]!;
      const before = received.get(id)!;
      const seen = new Set(before.map((m) => m.offset));
      const all = [...before];
      const want = acked.get(id)!;
      const deadline = Date.now() + 30_000;
      const has = () => want.size === 0 || [...want].every((p) => all.some((m) => Buffer.from(m.payload).toString() === p));
      // Read until every acknowledged message is here, then a moment longer to count redeliveries.
      let settleUntil = Infinity;
      while (Date.now() < Math.min(deadline, settleUntil)) {
        if (settleUntil === Infinity && has()) settleUntil = Date.now() + 500;
        const msg = await client.next(FrameKind.MSG, Math.max(1, Math.min(deadline, settleUntil) - Date.now())).catch(() => undefined);
        if (!msg) break;
        if (seen.has(msg.offset)) duplicates++;
        else seen.add(msg.offset);
        all.push(msg);
        client.send({ kind: FrameKind.ACK, seq: 0, stream: msg.stream, offset: msg.offset });
      }
      const payloads = new Set(all.map((m) => Buffer.from(m.payload).toString()));
      for (const p of want) if (!payloads.has(p)) lost++;
      // In order per stream: first arrivals of each offset increase, and so do the message numbers.
      const firsts: MsgFrame[] = [];
      const firstSeen = new Set<number>();
      for (const m of all) if (!firstSeen.has(m.offset)) (firstSeen.add(m.offset), firsts.push(m));
      for (let i = 1; i < firsts.length; i++) {
        const number = (m: MsgFrame) => Number(Buffer.from(m.payload).toString().split('#')[1]);
        if (firsts[i]!.offset <= firsts[i - 1]!.offset || number(firsts[i]!) <= number(firsts[i - 1]!)) outOfOrder++;
      }
    }),
  );
  t.comment(`acked to publisher: ${ackedCount}, lost: ${lost}, duplicates: ${duplicates}, out of order: ${outOfOrder}`);
  t.equal(lost, 0, 'no acknowledged message lost');
  t.equal(outOfOrder, 0, 'every stream in order');
});
