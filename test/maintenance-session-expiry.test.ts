import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeviceRegistry } from '../src/broker/device-registry.js';
import { DurableIndex } from '../src/broker/durable/durable-index.js';
import { startMaintenance } from '../src/broker/durable/maintenance.js';
import { createLogger } from '../src/logger.js';
import { openLmdbStore } from '../src/store/index.js';
import { until } from './helpers/until.js';

t.test('the store sweep deletes an expired session and tells who keeps memory of it (the MQTT sent history)', async (t) => {
  const store = await openLmdbStore(mkdtempSync(join(tmpdir(), 'relaymesh-maint-')));
  t.teardown(() => store.close());
  const record = (expiresAt: number) => ({ subscriptions: [['room/+', 1] as [string, 0 | 1]], expiresAt, updatedAt: 1 });
  await store.saveSession('gone', record(Date.now() - 1));
  await store.saveSession('staying', record(Date.now() + 3_600_000));
  const expired: string[] = [];
  const stop = startMaintenance({
    store,
    index: new DurableIndex(store, () => undefined),
    devices: new DeviceRegistry(),
    log: createLogger('silent'),
    options: { ackTimeoutMs: 1000, maintenanceIntervalMs: 20, retention: { maxEntries: 1000, maxAgeMs: 3_600_000 } },
    sessionExpired: (deviceId) => expired.push(deviceId),
  });
  t.teardown(stop);
  await until('the expired session to be reported', () => expired.length > 0);
  t.same(expired, ['gone'], 'only the expired session');
  t.equal(store.loadSession('gone'), undefined, 'deleted from the store');
  t.not(store.loadSession('staying'), undefined, 'the other one kept');
});
