import type { Logger } from '../../logger.js';
import { RETAINED_PREFIX } from '../../protocol/index.js';
import type { MessageStore, RetentionLimits } from '../../store/index.js';
import type { DeviceRegistry } from '../device-registry.js';
import type { DurableIndex } from './durable-index.js';

export interface MaintenanceDeps {
  store: MessageStore;
  index: DurableIndex;
  devices: DeviceRegistry;
  log: Logger;
  options: { ackTimeoutMs: number; maintenanceIntervalMs: number; retention: RetentionLimits };
  /** A stored session expired and was deleted: what is kept in memory for its device can go. */
  sessionExpired?: (deviceId: string) => void;
}

/**
 * Background upkeep of durable delivery: redelivery of unacked messages (at a quarter of the
 * ack timeout), and on a slower beat the store sweep: prune what every cursor has passed,
 * apply retention, expire abandoned sessions. Returns a stop function.
 */
export function startMaintenance({ store, index, devices, log, options, sessionExpired }: MaintenanceDeps): () => void {
  const redeliver = setInterval(() => {
    const now = Date.now();
    for (const device of devices.values()) if (device.outbox.inflightCount > 0) device.outbox.redeliverExpired(now);
  }, Math.max(10, Math.floor(options.ackTimeoutMs / 4)));
  redeliver.unref();

  let sweeping = false;
  const sweep = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    sweepStore(store, index, devices, options.retention, sessionExpired)
      .catch((err: unknown) => log.error({ err }, 'store maintenance failed'))
      .finally(() => (sweeping = false));
  }, options.maintenanceIntervalMs);
  sweep.unref();

  return () => {
    clearInterval(redeliver);
    clearInterval(sweep);
  };
}

async function sweepStore(
  store: MessageStore,
  index: DurableIndex,
  devices: DeviceRegistry,
  retention: RetentionLimits,
  sessionExpired: ((deviceId: string) => void) | undefined,
): Promise<void> {
  const now = Date.now();
  for (const stream of store.streamNames()) {
    // A retained message stays until replaced or cleared (the retained store prunes its own stream).
    if (stream.startsWith(RETAINED_PREFIX)) continue;
    const head = store.head(stream);
    const through = index.prunableThrough(stream);
    if (through >= head.firstOffset) await store.pruneThrough(stream, through);
    await store.enforceRetention(stream, retention, now);
  }
  for (const deviceId of store.expiredSessions(now, 1000)) {
    if (devices.get(deviceId)) continue;
    index.forgetDevice(deviceId);
    await store.deleteSession(deviceId);
    sessionExpired?.(deviceId);
  }
}
