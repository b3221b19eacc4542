/**
 * Clean-session MQTT clients that come and go, hostile or well-behaved, leave nothing behind:
 * no open connection, no live device, and no cursor or session of theirs in the durable index
 * and the store (the index mirrors the store's cursors). Counts structures, never memory.
 */
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { hostileCase } from '../kit/fuzz/mqtt-cases.js';
import { play } from '../kit/fuzz/mqtt-probe.js';
import { openLmdbStore } from '../src/store/index.js';
import { startTestBroker } from './helpers/broker.js';
import { mqttClient, until } from './helpers/mqtt.js';

const MAX_PACKET_BYTES = 16 * 1024;
const WAIT_MS = 10_000;
/** Hostile connections per transport and protocol version. */
const HOSTILE_RUNS = 15;
const WELL_BEHAVED = 10;

/** Open MQTT connections, as /metrics counts them. */
async function mqttConnections(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number(/^relaymesh_device_connections\{protocol="mqtt"\} (\S+)$/m.exec(text)?.[1] ?? NaN);
}

t.test('clean-session clients that came and went leave no connection, device, cursor or session behind', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'relaymesh-test-'));
  const broker = await startTestBroker(t, { dataDir, mqtt: { port: 0 }, maxFrameBytes: MAX_PACKET_BYTES, limits: { messagesPerSecond: 1e6, bytesPerSecond: 1e9 } });
  const at = { host: '127.0.0.1', tcpPort: broker.mqttPort!, wsPort: broker.port };
  const ids: string[] = [];

  let seed = 1;
  for (const transport of ['tcp', 'ws'] as const) {
    for (const version of [4, 5] as const) {
      for (const c of fc.sample(hostileCase(version, MAX_PACKET_BYTES), { seed: seed++, numRuns: HOSTILE_RUNS })) {
        const clientId = `gone-hostile-${ids.length}`;
        ids.push(clientId);
        // The reaction is mqtt-fuzz.test.ts's concern; here only what stays behind counts.
        await play(c, { transport, at, clientId, maxPacketBytes: MAX_PACKET_BYTES, timeoutMs: WAIT_MS }).catch(() => undefined);
      }
    }
  }
  for (let i = 0; i < WELL_BEHAVED; i++) {
    const clientId = `gone-subscriber-${i}`;
    ids.push(clientId);
    const url = i % 2 === 0 ? `mqtt://127.0.0.1:${at.tcpPort}` : `ws://127.0.0.1:${at.wsPort}/mqtt`;
    const client = await mqttClient(t, url, { clientId, protocolVersion: i % 4 < 2 ? 4 : 5, clean: true });
    await client.subscribeAsync('memory/topic', { qos: 1 });
    await broker.publish('memory/topic', `message ${i}`, { qos: 1 });
    await until(() => client.received.length === 1, `${clientId} to get its message`);
    await client.endAsync();
  }

  await until(async () => broker.connectedDevices === 0 && (await mqttConnections(broker.port)) === 0, 'every connection to be gone');
  t.equal(broker.connectedDevices, 0, 'no live device');
  t.equal(await mqttConnections(broker.port), 0, 'no open MQTT connection');

  await broker.close();
  const store = await openLmdbStore(dataDir);
  t.teardown(() => store.close());
  const gone = new Set(ids);
  const cursorsLeft = [...store.allCursors()].filter((c) => gone.has(c.subscriberId));
  t.same(cursorsLeft, [], 'no cursor of a client that is gone');
  const sessionsLeft = [...store.sessions()].filter(([deviceId]) => gone.has(deviceId)).map(([deviceId]) => deviceId);
  t.same(sessionsLeft, [], 'no session of a client that is gone');
});
