/**
 * Membership through etcd: `npm run bench:etcd-membership`. Starts a real etcd (temp data dir),
 * three cluster nodes in this process that find each other only through it, and one broker
 * process (`relaymesh start --discovery etcd`). Measures how long each node takes to join every
 * graph, then how a failure is detected: the process frozen (SIGSTOP: its sockets stay open, so
 * only the link timeout or the lease can tell) and killed (SIGKILL: the kernel closes its
 * sockets). Default timing: heartbeat 1 s, link timeout 3 s, lease TTL 5 s. Prints a table and
 * writes bench/results/etcd-membership-latest.json (and with `--html` its report).
 */
import { Etcd3 } from 'etcd3';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { writeHtmlReport } from '../harness/html-report.js';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { ClusterNode, waitFor } from '../../src/cluster/index.js';
import { ETCD_DEFAULTS, EtcdDiscovery } from '../../src/cluster/etcd-discovery.js';
import { EtcdServer } from '../../kit/etcd-server.js';

const SECRET = 'bench-membership-secret-0123';
const PREFIX = '/relaymesh-bench-membership';
const TTL_SECONDS = 5;
const T = 120_000;

interface Detection {
  failure: string;
  /** Until every survivor's graph dropped the node. */
  graphMs: number;
  /** Until etcd deleted the node's key (lease lapse). */
  etcdKeyMs: number;
}

const log = pino({ level: 'silent' });

async function startNode(nodeId: string, endpoint: string): Promise<ClusterNode> {
  const discovery = new EtcdDiscovery({ ...ETCD_DEFAULTS, endpoints: [endpoint], prefix: PREFIX, ttlSeconds: TTL_SECONDS, log });
  return ClusterNode.start({ nodeId, port: 0, secret: SECRET, discovery, log });
}

/** A broker process in the cluster; its cluster port is free when started (picked by a throwaway node). */
function startBrokerProcess(nodeId: string, endpoint: string, dataDir: string): ChildProcess {
  return spawn(
    process.execPath,
    ['bin/relaymesh.js', 'start', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir, '--log-level', 'warn', '--node-id', nodeId,
      '--cluster-port', '0', '--cluster-secret', SECRET, '--discovery', 'etcd', '--etcd-endpoints', endpoint, '--etcd-prefix', PREFIX, '--etcd-lease-ttl', String(TTL_SECONDS)],
    { stdio: 'ignore' },
  );
}

async function keyGone(client: Etcd3, nodeId: string): Promise<void> {
  const deadline = Date.now() + T;
  while ((await client.get(`${PREFIX}/nodes/${nodeId}`).string()) !== null) {
    if (Date.now() > deadline) throw new Error(`${nodeId} still registered`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Fails the process as `signal` says; measures from then until the graphs and etcd dropped it. */
async function detect(failure: string, child: ChildProcess, signal: NodeJS.Signals, survivors: ClusterNode[], client: Etcd3, nodeId: string): Promise<Detection> {
  const started = performance.now();
  child.kill(signal);
  const graph = waitFor(() => survivors.every((n) => !n.liveNodes().includes(nodeId)), T, `${nodeId} to leave every graph`).then(() => performance.now() - started);
  const key = keyGone(client, nodeId).then(() => performance.now() - started);
  const [graphMs, etcdKeyMs] = await Promise.all([graph, key]);
  return { failure, graphMs, etcdKeyMs };
}

async function main(): Promise<void> {
  const etcd = await EtcdServer.start();
  const client = new Etcd3({ hosts: etcd.endpoint });
  const nodes: ClusterNode[] = [];
  const dataDirs: string[] = [];
  const children: ChildProcess[] = [];
  try {
    const joins: { nodeId: string; joinMs: number }[] = [];
    for (const nodeId of ['a', 'b', 'c']) {
      const started = performance.now();
      nodes.push(await startNode(nodeId, etcd.endpoint));
      await waitFor(() => nodes.every((n) => n.liveNodes().length === nodes.length), T, `${nodeId} to join every graph`);
      joins.push({ nodeId, joinMs: performance.now() - started });
    }
    const detections: Detection[] = [];
    for (const [failure, signal] of [['frozen (SIGSTOP)', 'SIGSTOP'], ['killed (SIGKILL)', 'SIGKILL']] as const) {
      const nodeId = signal === 'SIGSTOP' ? 'p1' : 'p2';
      const dir = mkdtempSync(join(tmpdir(), 'relaymesh-bench-membership-'));
      dataDirs.push(dir);
      const started = performance.now();
      const child = startBrokerProcess(nodeId, etcd.endpoint, dir);
      children.push(child);
      await waitFor(() => nodes.every((n) => n.liveNodes().includes(nodeId)), T, `${nodeId} to join`);
      joins.push({ nodeId: `${nodeId} (broker process, from spawn)`, joinMs: performance.now() - started });
      detections.push(await detect(failure, child, signal, nodes, client, nodeId));
      child.kill('SIGKILL');
    }
    const rows = [
      ['join', 'ms until in every graph'],
      ...joins.map((j) => [j.nodeId, j.joinMs.toFixed(0)]),
      ['', ''],
      ['failure', 'ms until out of every graph', 'ms until etcd key gone'],
      ...detections.map((d) => [d.failure, d.graphMs.toFixed(0), d.etcdKeyMs.toFixed(0)]),
    ];
    const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
    console.log(rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ')).join('\n'));
    console.log(`\nheartbeat 1 s, link timeout 3 s, lease TTL ${TTL_SECONDS} s; load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores`);
    const dir = fileURLToPath(new URL('../results/', import.meta.url));
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}etcd-membership-latest.json`, JSON.stringify({ at: new Date().toISOString(), ttlSeconds: TTL_SECONDS, joins, detections, loadavg: loadavg()[0], cores: cpus().length }, null, 2));
    if (process.argv.includes('--html')) console.log(`wrote ${writeHtmlReport(`${dir}etcd-membership-latest.json`)}`);
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await Promise.all(nodes.map((n) => n.close()));
    client.close();
    await etcd.destroy();
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
