import t from 'tap';
import { CloseCode, FrameKind } from '../src/index.js';
import { startTestBroker } from './helpers/broker.js';
import { RawClient } from './helpers/raw-client.js';

t.test('a crashed device actor is restarted by its shard with its session and socket intact', async (t) => {
  const broker = await startTestBroker(t, { shards: 2 });
  const clients = await Promise.all(Array.from({ length: 20 }, (_, i) => RawClient.connect(broker.url, `dev-${i}`)));
  for (const c of clients) await c.request({ kind: FrameKind.SUB, seq: 1, filters: ['all'] });
  t.equal(broker.chaos.crashDeviceActor('dev-3'), true);
  // The crashed device keeps working: its next request is served, its subscription holds.
  const victim = clients[3]!;
  victim.send({ kind: FrameKind.PING, seq: 2, ts: 1 });
  await victim.next(FrameKind.PONG);
  t.equal(broker.device('dev-3')?.counters.restarts, 1);
  t.same(broker.device('dev-3')?.subscriptions, ['all']);
  // Nobody else on the shard noticed.
  t.equal(await broker.publish('all', 'still here'), 20);
  for (const c of clients) t.equal(Buffer.from((await c.next(FrameKind.MSG)).payload).toString(), 'still here');
  for (const c of clients) t.equal(c.closeEvent, undefined);
  for (const c of clients) c.close();
});

t.test('a device actor that keeps crashing is stopped and its connection closed; others stay', async (t) => {
  const broker = await startTestBroker(t, { maxRestarts: 2, restartWindowMs: 60_000 });
  const victim = await RawClient.connect(broker.url, 'flaky');
  const bystander = await RawClient.connect(broker.url, 'steady');
  for (let i = 0; i < 3; i++) {
    broker.chaos.crashDeviceActor('flaky');
    await new Promise((r) => setTimeout(r, 20));
  }
  t.equal((await victim.closed()).code, CloseCode.INTERNAL_ERROR);
  bystander.send({ kind: FrameKind.PING, seq: 1 });
  await bystander.next(FrameKind.PONG);
  bystander.close();
});
