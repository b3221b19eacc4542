import { join } from 'node:path';
import t from 'tap';
import { DurableIndex } from '../src/broker/durable/durable-index.js';
import { SessionKeeper } from '../src/broker/durable/session-keeper.js';
import { openLmdbStore, StoreClosedError } from '../src/store/index.js';
import { startTestBroker } from './helpers/broker.js';

/**
 * Writes the broker issues without waiting (sessions, cursors) must report a failure, never
 * leave an unhandled rejection. A closed store refuses every write: the real failure of a
 * shutdown racing with traffic.
 */
t.test('store writes nobody waits for report their failure instead of an unhandled rejection', async (t) => {
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => unhandled.push(err);
  process.on('unhandledRejection', onUnhandled);
  t.teardown(() => void process.off('unhandledRejection', onUnhandled));

  const store = await openLmdbStore(join(t.testdir(), 'store'));
  const failures: { operation: string; err: unknown }[] = [];
  const failed = (operation: string, err: unknown) => failures.push({ operation, err });
  const index = new DurableIndex(store, failed);
  const sessions = new SessionKeeper(store, 60_000, failed);
  index.subscribe('dev', 'fleet/#', 1);
  index.advance('dev', 'fleet/1', 3);
  await store.flush();
  await store.close();

  sessions.saveConnected('dev', { filters: new Map([['fleet/#', 1]]), shared: [] });
  sessions.saveDisconnected('dev', { filters: new Map([['fleet/#', 1]]), shared: [] });
  index.advance('dev', 'fleet/1', 4);
  index.unsubscribe('dev', 'fleet/#');
  // The failures settle on later turns, in no promised order.
  for (let turn = 0; turn < 100 && failures.length < 4; turn++) await new Promise((r) => setImmediate(r));

  t.same(failures.map((f) => f.operation).sort(), ['removeCursor', 'saveSession', 'saveSession', 'setCursor']);
  t.ok(failures.every((f) => f.err instanceof StoreClosedError), 'each with the store error');
  t.same(unhandled, [], 'no unhandled rejection');
  t.equal(index.cursor('dev', 'fleet/1'), undefined, 'memory still follows the calls');
});

t.test('the broker counts failed background store writes in /metrics', async (t) => {
  const broker = await startTestBroker(t);
  const metrics = await (await fetch(`http://127.0.0.1:${broker.port}/metrics`)).text();
  t.match(metrics, /# TYPE relaymesh_store_write_failures_total counter/);
});
