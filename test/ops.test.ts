import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrameKind } from '../src/index.js';
import { freePort, startTestBroker } from './helpers/broker.js';
import { startBrokerProcess } from '../kit/broker-process.js';
import { RawClient } from './helpers/raw-client.js';

const ADMIN = 'admin-token-0123456789abcdef';

t.test('/healthz and /readyz answer', async (t) => {
  const broker = await startTestBroker(t);
  const base = `http://127.0.0.1:${broker.port}`;
  t.equal(await (await fetch(`${base}/healthz`)).text(), 'ok');
  const ready = await fetch(`${base}/readyz`);
  t.equal(ready.status, 200);
  t.same(((await ready.json()) as { checks: unknown }).checks, { listening: true, storeOpen: true });
});

t.test('/metrics exposes the listed series', async (t) => {
  const broker = await startTestBroker(t);
  const sub = await RawClient.connect(broker.url, 'sub');
  await sub.request({ kind: FrameKind.SUB, seq: 1, filters: ['m/#'], qos: 1 });
  await broker.publish('m/1', 'x', { qos: 1 });
  const msg = await sub.next(FrameKind.MSG);
  sub.send({ kind: FrameKind.ACK, seq: 2, stream: msg.stream, offset: msg.offset });
  await broker.publish('m/1', 'y');
  await sub.next(FrameKind.MSG);
  // The ACK is handled after the MSG arrives: wait for the broker to have seen it.
  const text = await scrapeUntil(broker.port, (body) => body.includes('relaymesh_delivery_ack_seconds_count 1'));
  for (const series of [
    'relaymesh_connections 1',
    'relaymesh_devices_connected 1',
    'relaymesh_connects_total',
    'relaymesh_disconnects_total',
    'relaymesh_messages_total{kind="publish",qos="1"} 1',
    'relaymesh_frames_in_total',
    'relaymesh_bytes_out_total',
    'relaymesh_acks_pending 0',
    'relaymesh_replayed_total',
    'relaymesh_dropped_total',
    'relaymesh_mqtt_shared_dropped_total 0',
    'relaymesh_fanout_seconds_bucket',
    'relaymesh_delivery_ack_seconds_count 1',
    'relaymesh_process_nodejs_eventloop_lag_seconds',
    'relaymesh_store_bytes',
  ]) {
    t.ok(text.includes(series), series);
  }
  sub.close();
});

t.test('/metrics declares every *_total series a counter, and the transport totals only grow', async (t) => {
  const broker = await startTestBroker(t);
  const transportTotals = ['connects', 'disconnects', 'frames_in', 'bytes_in', 'frames_out', 'bytes_out', 'socket_writes', 'dropped'].map((n) => `relaymesh_${n}_total`);
  const before = await scrape(broker.port);
  const device = await RawClient.connect(broker.url, 'counting');
  await device.request({ kind: FrameKind.SUB, seq: 1, filters: ['c/#'] });
  await broker.publish('c/1', 'x');
  await device.next(FrameKind.MSG);
  device.close();
  await device.closed();
  const after = await scrapeUntil(broker.port, (body) => sampleOf(body, 'relaymesh_disconnects_total') === 1);
  const types = [...after.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(([, name, type]) => ({ name, type }));
  const totals = types.filter(({ name }) => name!.endsWith('_total'));
  t.ok(totals.length >= transportTotals.length + 3, `${totals.length} *_total series`);
  t.same(totals.filter(({ type }) => type !== 'counter'), [], 'no *_total series is a gauge');
  for (const name of transportTotals) {
    t.ok(totals.some((s) => s.name === name), `${name} is exposed`);
    t.ok(sampleOf(after, name)! >= sampleOf(before, name)!, `${name} did not go down`);
  }
  t.equal(sampleOf(after, 'relaymesh_connects_total'), 1);
  t.ok(sampleOf(after, 'relaymesh_frames_out_total')! > sampleOf(before, 'relaymesh_frames_out_total')!, 'frames out counted');
});

t.test('the admin API needs the admin token; lists connections, kicks, shows topics and sessions', async (t) => {
  const broker = await startTestBroker(t, { adminToken: ADMIN, nodeId: 'node-a' });
  const base = `http://127.0.0.1:${broker.port}`;
  const auth = { authorization: `Bearer ${ADMIN}` };
  const device = await RawClient.connect(broker.url, 'truck/7');
  await device.request({ kind: FrameKind.SUB, seq: 1, filters: ['fleet/#'], qos: 1 });
  t.equal((await fetch(`${base}/admin/connections`)).status, 401, 'no token');
  t.equal((await fetch(`${base}/admin/connections`, { headers: { authorization: 'Bearer wrong' } })).status, 401, 'wrong token');
  t.equal((await fetch(`${base}/admin/connections`, { headers: { authorization: ADMIN } })).status, 401, 'the token without "Bearer "');
  t.equal((await fetch(`${base}/admin/connections`, { headers: { authorization: `bearer  ${ADMIN}` } })).status, 401, 'not the documented form');
  const connections = (await (await fetch(`${base}/admin/connections`, { headers: auth })).json()) as { deviceId: string; node: string; subscriptions: string[] }[];
  t.same(connections.map((c) => [c.deviceId, c.node, c.subscriptions]), [['truck/7', 'node-a', ['fleet/#']]]);
  const topics = (await (await fetch(`${base}/admin/topics`, { headers: auth })).json()) as { subscriptions: { filter: string; subscribers: number }[] };
  t.same(topics.subscriptions.map((s) => [s.filter, s.subscribers]), [['fleet/#', 1]]);
  const session = (await (await fetch(`${base}/admin/sessions/${encodeURIComponent('truck/7')}`, { headers: auth })).json()) as { connected: boolean };
  t.equal(session.connected, true);
  const kicked = await fetch(`${base}/admin/devices/${encodeURIComponent('truck/7')}/kick`, { method: 'POST', headers: auth });
  t.equal(kicked.status, 200);
  t.equal((await device.closed()).code, 4005);
  t.equal((await fetch(`${base}/admin/devices/nobody/kick`, { method: 'POST', headers: auth })).status, 404);
});

t.test('GET /cluster is behind the admin token when one is set', async (t) => {
  const cluster = { host: '127.0.0.1', port: 0, secret: 'cluster-secret-0123456789', peers: [] };
  const guarded = await startTestBroker(t, { adminToken: ADMIN, nodeId: 'node-a', cluster });
  const url = `http://127.0.0.1:${guarded.port}/cluster`;
  t.equal((await fetch(url)).status, 401, 'no token');
  const view = await fetch(url, { headers: { authorization: `Bearer ${ADMIN}` } });
  t.equal(view.status, 200);
  t.match(await view.json(), { nodes: [{ nodeId: 'node-a' }] });
  const open = await startTestBroker(t, { nodeId: 'node-b', cluster });
  t.equal((await fetch(`http://127.0.0.1:${open.port}/cluster`)).status, 200, 'open without an admin token (local use)');
});

t.test('SIGTERM with clients connected: clients told to reconnect, exit 0, no stored message lost', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'relaymesh-sigterm-'));
  const port = await freePort();
  const broker = await startBrokerProcess(port, dataDir);
  t.teardown(() => broker.child.kill('SIGKILL'));
  const online = await RawClient.connect(broker.url, 'online');
  const publisher = await RawClient.connect(broker.url, 'publisher');
  for (let i = 1; i <= 50; i++) {
    const reply = await publisher.request({ kind: FrameKind.SEND, seq: i, target: 'offline', payload: Buffer.from(`m${i}`), qos: 1 });
    t.equal(reply.kind, FrameKind.OK);
  }
  broker.child.kill('SIGTERM');
  t.equal((await online.closed()).code, 4000, 'told: shutting down, reconnect elsewhere');
  const exit = await broker.exited;
  t.equal(exit.code, 0, 'exit code 0: stopped within the shutdown deadline (past it the exit code is 1)');

  const again = await startBrokerProcess(port, dataDir);
  t.teardown(() => again.child.kill('SIGKILL'));
  const device = await RawClient.connect(again.url, 'offline');
  const got: string[] = [];
  for (let i = 0; i < 50; i++) got.push(Buffer.from((await device.next(FrameKind.MSG)).payload).toString());
  t.same(got, Array.from({ length: 50 }, (_, i) => `m${i + 1}`));
  device.close();
});

async function scrape(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

/** Scrapes until `ready` holds (bounded): the broker applies what it received on its own schedule. */
async function scrapeUntil(port: number, ready: (body: string) => boolean, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const body = await scrape(port);
    if (ready(body) || Date.now() > deadline) return body;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The value of an unlabelled sample, or undefined when absent. */
function sampleOf(body: string, name: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}
