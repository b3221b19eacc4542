import type { Logger } from '../logger.js';
import { INBOX_PREFIX } from '../protocol/index.js';
import type { MessageStore } from '../store/index.js';
import type { ClusterBridge } from './cluster-bridge.js';
import type { DeviceRegistry } from './device-registry.js';
import type { DurableIndex } from './durable/durable-index.js';

const BATCH = 100;

/**
 * Stored inbox messages for a device that is now connected to another node (it reconnected
 * elsewhere while this node was down, or messages reached this node as its home) are handed to
 * that node, in order, each reliably: this node's cursor advances only once the other node has
 * stored it, so a crash on either side loses nothing (at worst a message is delivered twice).
 */
export function startInboxHandoff(
  bridge: ClusterBridge,
  deps: { store: MessageStore; index: DurableIndex; devices: DeviceRegistry; log: Logger },
  everyMs: number,
): () => void {
  const busy = new Set<string>();
  const handOff = async (stream: string, deviceId: string, to: string): Promise<void> => {
    let cursor = deps.index.cursor(deviceId, stream) ?? 0;
    for (;;) {
      const entries = deps.store.read(stream, cursor, BATCH);
      if (entries.length === 0 || deps.devices.get(deviceId)) return;
      for (const entry of entries) {
        const message = {
          target: deviceId,
          payload: entry.payload,
          qos: 1 as const,
          traceId: entry.traceId,
          ...(entry.from !== undefined ? { from: entry.from } : {}),
          // The path so far: the next node continues it rather than starting over.
          ...(entry.hops !== undefined ? { hops: entry.hops } : {}),
        };
        await bridge.forward(to, message, `${bridge.nodeId}:${stream}:${entry.offset}`);
        deps.index.advance(deviceId, stream, entry.offset);
        cursor = entry.offset;
      }
    }
  };
  const sweep = async (): Promise<void> => {
    for (const stream of deps.store.streamNames()) {
      if (!stream.startsWith(INBOX_PREFIX) || busy.has(stream)) continue;
      const deviceId = stream.slice(INBOX_PREFIX.length);
      if (deps.devices.get(deviceId)) continue;
      if (deps.store.head(stream).lastOffset <= (deps.index.cursor(deviceId, stream) ?? 0)) continue;
      const to = await bridge.whereIs(deviceId);
      if (to === undefined || to === bridge.nodeId) continue;
      busy.add(stream);
      void handOff(stream, deviceId, to)
        .catch((err: unknown) => deps.log.warn({ err, deviceId, to }, 'inbox hand-off interrupted; will retry'))
        .finally(() => busy.delete(stream));
    }
  };
  const timer = setInterval(() => void sweep().catch((err: unknown) => deps.log.warn({ err }, 'inbox hand-off sweep failed')), everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
