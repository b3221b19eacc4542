import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const BIN = fileURLToPath(new URL('../../bin/relaymesh.js', import.meta.url));
const RESTART_DELAY_MS = 500;

interface WorkerPlan {
  nodeId: string;
  args: string[];
}

/**
 * `relaymesh start --workers N`: N broker processes on one machine, sharing the device port
 * (uWebSockets.js listens with SO_REUSEPORT, so the kernel spreads connections), each with its
 * own data dir and cluster port, clustered with each other. This is how one machine uses every
 * core and passes the 20,000 open files a process may hold. A worker that dies is restarted on
 * its own data dir; SIGTERM/SIGINT stop them all.
 */
export async function runWorkers(args: string[]): Promise<number> {
  const plans = planWorkers(args);
  const secret = process.env.RELAYMESH_CLUSTER_SECRET ?? randomBytes(24).toString('hex');
  const children = new Map<string, ChildProcess>();
  let stopping = false;

  const launch = (plan: WorkerPlan): void => {
    const child = spawn(process.execPath, [BIN, 'start', ...plan.args], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, RELAYMESH_CLUSTER_SECRET: secret },
    });
    children.set(plan.nodeId, child);
    child.once('exit', (code, signal) => {
      children.delete(plan.nodeId);
      if (stopping) return;
      process.stderr.write(`relaymesh: worker ${plan.nodeId} exited (${signal ?? code}); restarting it on its data dir\n`);
      setTimeout(() => !stopping && launch(plan), RESTART_DELAY_MS);
    });
  };
  const stopRequested = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  for (const plan of plans) launch(plan);
  await stopRequested;
  stopping = true;
  // A worker still loading when the signal came dies of it before it can stop cleanly: it held
  // no connections yet, so that counts as a clean stop too.
  const exits = [...children.values()].map(
    (child) => new Promise<boolean>((resolve) => child.once('exit', (code, signal) => resolve(code === 0 || signal === 'SIGTERM'))),
  );
  for (const child of children.values()) child.kill('SIGTERM');
  const clean = await Promise.all(exits);
  return clean.every(Boolean) ? 0 : 1;
}

/** Each worker's `start` arguments: the user's, with its own node id, data dir, cluster port and peers. */
export function planWorkers(args: string[]): WorkerPlan[] {
  const owned = ['workers', 'node-id', 'data-dir', 'cluster-port', 'peers', 'cluster-host', 'mqtt-port'] as const;
  const { values, tokens } = parseArgs({
    args,
    strict: false,
    tokens: true,
    options: Object.fromEntries(owned.map((name) => [name, { type: 'string' as const }])),
  });
  const requested = String(values.workers);
  const count = requested === 'auto' ? availableParallelism() : Number(requested);
  if (!Number.isInteger(count) || count < 1 || count > 64) throw new Error(`--workers must be auto or 1–64, got ${JSON.stringify(requested)}`);
  const basePort = values['cluster-port'] === undefined ? 9101 : Number(values['cluster-port']);
  const host = typeof values['cluster-host'] === 'string' ? values['cluster-host'] : '127.0.0.1';
  const dataDir = typeof values['data-dir'] === 'string' ? values['data-dir'] : './data';
  const passed: string[] = [];
  for (const token of tokens ?? []) {
    if (token.kind === 'option' && !(owned as readonly string[]).includes(token.name)) passed.push(token.rawName, ...(token.value !== undefined ? [token.value] : []));
    if (token.kind === 'positional') passed.push(token.value);
  }
  const nodeIds = Array.from({ length: count }, (_, i) => `w${i + 1}`);
  return nodeIds.map((nodeId, i) => ({
    nodeId,
    args: [
      ...passed,
      '--node-id', nodeId,
      '--data-dir', join(dataDir, nodeId),
      '--cluster-host', host,
      '--cluster-port', String(basePort + i),
      '--peers', nodeIds.filter((other) => other !== nodeId).map((other) => `${other}@${host}:${basePort + nodeIds.indexOf(other)}`).join(','),
      // One process can own a TCP port: MQTT over TCP only where asked for, on worker 1.
      '--mqtt-port', i === 0 && typeof values['mqtt-port'] === 'string' ? values['mqtt-port'] : 'off',
    ],
  }));
}
