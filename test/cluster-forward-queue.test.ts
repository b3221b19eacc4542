import t from 'tap';
import { ClusterError } from '../src/cluster/index.js';
import { ForwardQueue, type QueuedPayload, type TransferResult } from '../src/cluster/forward-queue.js';
import { AckStatus } from '../src/cluster/wire.js';
import { until } from './helpers/until.js';

/** A queue whose transfers wait until the test answers them. */
function harness(options: { maxQueued?: number; maxInflightPerDest?: number } = {}) {
  const attempts: { item: QueuedPayload; answer(r: TransferResult): void }[] = [];
  const forwarded: string[] = [];
  const routes = new Set<string>(['d']);
  const queue = new ForwardQueue({
    transfer: (item) => new Promise((answer) => attempts.push({ item, answer })),
    hasRoute: (dest) => routes.has(dest),
    forwarded: (item) => forwarded.push(item.id),
    maxQueued: options.maxQueued ?? 100,
    maxInflightPerDest: options.maxInflightPerDest ?? 2,
    retryDelay: () => 5,
  });
  const payload = new Uint8Array([1]);
  const push = (id: string, dest = 'd') => queue.push(dest, id, 0, payload);
  const pushGivingUp = (id: string, dest = 'd') => queue.push(dest, id, 0, payload, true);
  const tick = () => new Promise((r) => setTimeout(r, 20));
  return { queue, attempts, forwarded, routes, push, pushGivingUp, tick };
}
const OK = { status: AckStatus.OK, reason: '' };
const RETRY = { status: AckStatus.RETRY, reason: 'link lost' };

t.test('at most maxInflightPerDest transfers per destination run at once', async (t) => {
  const h = harness({ maxInflightPerDest: 2 });
  const sends = ['m1', 'm2', 'm3'].map((id) => h.push(id));
  t.same(h.attempts.map((a) => a.item.id), ['m1', 'm2']);
  t.equal(h.queue.size('d'), 3);
  h.attempts[0]!.answer(OK);
  await sends[0];
  t.same(h.attempts.map((a) => a.item.id), ['m1', 'm2', 'm3'], 'an ack frees a slot');
  t.same(h.forwarded, ['m1'], 'forwarded is reported with the caller id');
});

t.test('without a route payloads wait, and go when the route returns', async (t) => {
  const h = harness();
  h.routes.clear();
  const sent = h.push('m1');
  await h.tick();
  t.equal(h.attempts.length, 0);
  t.equal(h.queue.size(), 1);
  h.routes.add('d');
  h.queue.routesChanged();
  t.equal(h.attempts.length, 1);
  h.attempts[0]!.answer(OK);
  await sent;
  t.equal(h.queue.size(), 0);
});

t.test('a failed transfer goes back to its place and is retried in the original order', async (t) => {
  const h = harness({ maxInflightPerDest: 2 });
  const sends = ['m1', 'm2', 'm3'].map((id) => h.push(id));
  h.attempts[1]!.answer(RETRY);
  h.attempts[0]!.answer(RETRY);
  await h.tick();
  t.same(h.attempts.slice(2).map((a) => a.item.id), ['m1', 'm2'], 'm1 and m2 again, before m3');
  for (let i = 0; i < 10 && h.forwarded.length < 3; i++) {
    for (const a of h.attempts.splice(2)) a.answer(OK);
    await h.tick();
  }
  await Promise.all(sends);
  t.same(h.forwarded, ['m1', 'm2', 'm3']);
});

t.test('a rejection by the destination is final', async (t) => {
  const h = harness();
  const sent = h.push('m1');
  h.attempts[0]!.answer({ status: AckStatus.REJECTED, reason: 'inbox full' });
  await t.rejects(sent, { code: 'REJECTED', message: /inbox full/ });
  t.equal(h.queue.size(), 0);
  t.same(h.forwarded, []);
});

t.test('a full queue refuses new payloads with QUEUE_FULL', async (t) => {
  const h = harness({ maxQueued: 2 });
  h.routes.clear();
  const held = [h.push('m1'), h.push('m2')];
  await t.rejects(h.push('m3'), { code: 'QUEUE_FULL' });
  h.queue.close();
  await Promise.allSettled(held);
});

t.test('closing rejects everything held with CLOSED', async (t) => {
  const h = harness({ maxInflightPerDest: 1 });
  const inflight = h.push('m1');
  const waiting = h.push('m2');
  h.queue.close();
  await t.rejects(inflight, ClusterError);
  await t.rejects(waiting, { code: 'CLOSED' });
  await t.rejects(h.push('m3'), { code: 'CLOSED' });
});

t.test('a payload that gives up on an unreachable destination is rejected at once when pushed for one', async (t) => {
  const h = harness();
  h.routes.clear();
  await t.rejects(h.pushGivingUp('m1'), { code: 'UNREACHABLE' });
  t.equal(h.queue.size(), 0);
});

t.test('when its destination becomes unreachable, a waiting payload that gives up is withdrawn; the others keep waiting', async (t) => {
  const h = harness({ maxInflightPerDest: 1 });
  const inflight = h.push('m1');
  const givingUp = h.pushGivingUp('m2');
  const waiting = h.push('m3');
  h.routes.clear();
  h.queue.routesChanged();
  await t.rejects(givingUp, { code: 'UNREACHABLE', message: /d left the graph/ });
  t.equal(h.queue.size('d'), 2, 'm1 (in flight) and m3 (waiting) stay');
  h.routes.add('d');
  h.attempts[0]!.answer(OK);
  await inflight;
  h.attempts[1]!.answer(OK);
  await waiting;
  t.same(h.forwarded, ['m1', 'm3']);
});

t.test('a payload that gives up, in flight when its destination became unreachable, is withdrawn when the transfer fails', async (t) => {
  const h = harness();
  const sent = h.pushGivingUp('m1');
  h.routes.clear();
  h.queue.routesChanged();
  t.equal(h.queue.size('d'), 1, 'in flight: its outcome is not known yet');
  h.attempts[0]!.answer(RETRY);
  await t.rejects(sent, { code: 'UNREACHABLE' });
  t.equal(h.queue.size(), 0);
  t.equal(h.attempts.length, 1, 'not retried');
});

t.test('a payload that gives up is still retried while its destination stays reachable', async (t) => {
  const h = harness();
  const sent = h.pushGivingUp('m1');
  h.attempts[0]!.answer(RETRY);
  for (let i = 0; i < 50 && h.attempts.length < 2; i++) await h.tick();
  h.attempts[1]!.answer(OK);
  await sent;
  t.same(h.forwarded, ['m1']);
});

t.test('backlog: per destination, payloads held and the age of the oldest, in flight or retried; 0 once delivered', async (t) => {
  const h = harness({ maxInflightPerDest: 1 });
  t.same(h.queue.backlog(), [], 'nothing queued yet');
  const first = h.push('m1');
  const second = h.push('m2');
  await until('the oldest payload to have an age', () => h.queue.backlog()[0]!.oldestMs > 0, 60_000);
  const inFlight = h.queue.backlog()[0]!;
  t.match(inFlight, { dest: 'd', held: 2 }, 'm1 in flight, m2 waiting');
  h.attempts[0]!.answer(RETRY);
  await until('the retry', () => h.attempts.length === 2, 60_000);
  t.equal(h.attempts[1]!.item.id, 'm1', 'the retry goes first');
  t.ok(h.queue.backlog()[0]!.oldestMs >= inFlight.oldestMs, 'a retried payload keeps its age');
  h.attempts[1]!.answer(OK);
  await first;
  await until('m2 to go', () => h.attempts.length === 3, 60_000);
  h.attempts[2]!.answer(OK);
  await second;
  t.same(h.queue.backlog(), [{ dest: 'd', held: 0, oldestMs: 0 }], 'the destination stays listed, with nothing held');
});

