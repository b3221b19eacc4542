/**
 * Device location directory: etcd or home nodes? `npm run bench:etcd-directory [-- --quick]`.
 * A reconnect storm writes one location per device. This measures, against a real etcd on
 * 127.0.0.1 (started here, temp data dir), how fast etcd takes those writes (one at a time,
 * 64 in flight, and 128 per transaction), how long a dead node's lease takes to delete its
 * devices' keys and tell a watcher, and, for comparison, how fast the current home-node
 * directory (`ClusterNode.announceLocation`, two nodes in this process) takes the same storm.
 * Prints a table and writes bench/results/etcd-directory-latest.json.
 */
import { Etcd3 } from 'etcd3';
import { mkdirSync, writeFileSync } from 'node:fs';
import { takeHtmlFlag, writeHtmlReport } from '../harness/html-report.js';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { ClusterNode, LOCAL_TIMING, waitFor } from '../../src/cluster/index.js';
import { EtcdServer } from '../../kit/etcd-server.js';

const USAGE = 'usage: npm run bench:etcd-directory [-- --quick] [--devices N] [--html]';
const PREFIX = '/relaymesh-bench/devices/';
/** etcd's default --max-txn-ops. */
const TXN_OPS = 128;
const IN_FLIGHT = 64;

interface Rate {
  name: string;
  writes: number;
  /** Writes etcd refused or timed out (it answers "request timed out" when its disk or CPU falls behind). */
  failed: number;
  seconds: number;
  perSec: number;
}

interface Results {
  devices: number;
  etcd: Rate[];
  leaseExpiry: { keys: number; secondsToLastDeleteEvent: number };
  homeNode: Rate;
  storms: { name: string; devices: number; windowSeconds: number; writesPerSec: number }[];
}

function parseArgs(args: string[]): { devices: number } {
  let devices = 20_000;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--quick') devices = 2000;
    else if (args[i] === '--devices') {
      devices = Number(args[++i]);
      if (!Number.isInteger(devices) || devices < TXN_OPS) throw new Error(`--devices needs an integer >= ${TXN_OPS}`);
    } else throw new Error(`unknown argument ${args[i]}\n${USAGE}`);
  }
  return { devices };
}

const deviceIds = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `dev-${tag}-${i}`);

/** Runs `run`, which returns how many of its `writes` failed; the rate counts the writes that succeeded. */
async function timed(name: string, writes: number, run: () => Promise<number>): Promise<Rate> {
  const started = performance.now();
  const failed = await run();
  const seconds = (performance.now() - started) / 1000;
  return { name, writes, failed, seconds, perSec: (writes - failed) / seconds };
}

/** Counts a failed write instead of ending the run: a storm that overloads etcd is a result. */
async function attempt(write: Promise<unknown>, writes = 1): Promise<number> {
  return write.then(
    () => 0,
    () => writes,
  );
}

/** Location puts under a node's lease, as an etcd directory would write them on connect. */
async function measureEtcd(client: Etcd3, devices: number): Promise<Rate[]> {
  const lease = client.lease(60);
  await lease.grant();
  const sequentialCount = Math.min(devices, 1000);
  const one = await timed('etcd put, 1 in flight', sequentialCount, async () => {
    let failed = 0;
    for (const id of deviceIds(sequentialCount, 'seq')) failed += await attempt(lease.put(PREFIX + id).value('node-a').exec());
    return failed;
  });
  const parallel = await timed(`etcd put, ${IN_FLIGHT} in flight`, devices, async () => {
    const ids = deviceIds(devices, 'par');
    let next = 0;
    let failed = 0;
    const worker = async () => {
      while (next < ids.length) failed += await attempt(lease.put(PREFIX + ids[next++]!).value('node-a').exec());
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    return failed;
  });
  const leaseId = await lease.grant();
  const batched = await timed(`etcd txn, ${TXN_OPS} puts each, 8 in flight`, devices, async () => {
    const ids = deviceIds(devices, 'txn');
    const batches: string[][] = [];
    for (let i = 0; i < ids.length; i += TXN_OPS) batches.push(ids.slice(i, i + TXN_OPS));
    let next = 0;
    let failed = 0;
    const worker = async () => {
      while (next < batches.length) {
        const batch = batches[next++]!;
        failed += await attempt(putInOneTxn(client, batch, leaseId, 'node-a'), batch.length);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    return failed;
  });
  await lease.revoke();
  return [one, parallel, batched];
}

/** Location puts of several devices, under one lease, in one etcd transaction (one raft entry). */
async function putInOneTxn(client: Etcd3, ids: string[], leaseId: string, nodeId: string): Promise<void> {
  const ops = ids.map((id) => ({ request_put: { key: Buffer.from(PREFIX + id), value: Buffer.from(nodeId), lease: leaseId } }));
  await client.kv.txn({ compare: [], success: ops, failure: [] });
}

/** A dead node's lease lapses: etcd deletes all its device keys; a watcher (every other node) hears each. */
async function measureLeaseExpiry(client: Etcd3, devices: number): Promise<Results['leaseExpiry']> {
  const lease = client.lease(60);
  const leaseId = await lease.grant();
  const ids = deviceIds(devices, 'exp');
  let stored = 0;
  for (let i = 0; i < ids.length; i += TXN_OPS) {
    const batch = ids.slice(i, i + TXN_OPS);
    stored += batch.length - (await attempt(putInOneTxn(client, batch, leaseId, 'node-b'), batch.length));
  }
  const watcher = await client.watch().prefix(PREFIX).create();
  let deleted = 0;
  const allDeleted = new Promise<void>((resolve) =>
    watcher.on('delete', () => {
      if (++deleted === stored) resolve();
    }),
  );
  const started = performance.now();
  await lease.revoke(); // the same deletion path as a lapse, without waiting out a TTL
  await allDeleted;
  const seconds = (performance.now() - started) / 1000;
  await watcher.cancel();
  return { keys: stored, secondsToLastDeleteEvent: seconds };
}

/** The current directory: a node announces its devices to their home node over a cluster link. */
async function measureHomeNode(devices: number): Promise<Rate> {
  const log = pino({ level: 'silent' });
  const secret = 'bench-directory-secret-0123';
  const home = await ClusterNode.start({ ...LOCAL_TIMING, nodeId: 'home', port: 0, secret, log });
  const edge = await ClusterNode.start({ ...LOCAL_TIMING, nodeId: 'edge', port: 0, secret, log, seeds: [{ nodeId: 'home', host: '127.0.0.1', port: home.port }] });
  try {
    await waitFor(() => edge.liveNodes().length === 2 && home.liveNodes().length === 2, 10_000, 'the two nodes to link');
    const ids: string[] = [];
    for (let i = 0; ids.length < devices; i++) if (edge.homeOf(`dev-home-${i}`) === 'home') ids.push(`dev-home-${i}`);
    return await timed('home-node directory (cluster link)', devices, async () => {
      for (const id of ids) edge.announceLocation(id);
      await waitFor(() => home.locationHere(ids.at(-1)!) === 'edge' && ids.every((id) => home.locationHere(id) === 'edge'), 60_000, 'every location at its home');
      return 0;
    });
  } finally {
    await Promise.all([edge.close(), home.close()]);
  }
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ')).join('\n');
}

const count = (n: number) => Math.round(n).toLocaleString('en-US');

function render(r: Results): string {
  const rates = [['writer', 'writes', 'failed', 'seconds', 'writes/s'], ...[...r.etcd, r.homeNode].map((x) => [x.name, count(x.writes), count(x.failed), x.seconds.toFixed(2), count(x.perSec)])];
  const storms = [['reconnect storm', 'devices', 'window s', 'location writes/s needed'], ...r.storms.map((s) => [s.name, count(s.devices), String(s.windowSeconds), count(s.writesPerSec)])];
  return [
    `\n== location writes (${count(r.devices)} devices, etcd on 127.0.0.1, one member, WAL on this machine's disk) ==`,
    table(rates),
    `\nlease lapse of a node holding ${count(r.leaseExpiry.keys)} device keys: last delete event at a watcher after ${r.leaseExpiry.secondsToLastDeleteEvent.toFixed(2)} s`,
    `\n== what a storm asks for (one put per reconnecting device; with etcd also one delete per device of a dead node) ==`,
    table(storms),
    `\nload average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores: figures from a shared machine vary between runs.`,
  ].join('\n');
}

async function main(): Promise<void> {
  const { html, rest } = takeHtmlFlag(process.argv.slice(2));
  const { devices } = parseArgs(rest);
  const etcd = await EtcdServer.start();
  const client = new Etcd3({ hosts: etcd.endpoint });
  try {
    const results: Results = {
      devices,
      etcd: await measureEtcd(client, devices),
      leaseExpiry: await measureLeaseExpiry(client, devices),
      homeNode: await measureHomeNode(devices),
      storms: [
        { name: 'one node of 20k devices fails, they reconnect within 10 s', devices: 20_000, windowSeconds: 10 },
        { name: '1M-device fleet, all nodes restart, reconnect within 60 s', devices: 1_000_000, windowSeconds: 60 },
        { name: '1M devices, network blip, reconnect within 10 s', devices: 1_000_000, windowSeconds: 10 },
      ].map((s) => ({ ...s, writesPerSec: s.devices / s.windowSeconds })),
    };
    console.log(render(results));
    const dir = fileURLToPath(new URL('../results/', import.meta.url));
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}etcd-directory-latest.json`, JSON.stringify({ ...results, at: new Date().toISOString(), loadavg: loadavg()[0], cores: cpus().length }, null, 2));
    if (html) console.log(`wrote ${writeHtmlReport(`${dir}etcd-directory-latest.json`)}`);
  } finally {
    client.close();
    await etcd.destroy();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
