import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { StartConfig } from './config.js';
import { WORKER_OF_ENV } from './settings.js';

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
 * its own data dir; `stopRequested` (SIGTERM/SIGINT) stops them all.
 */
export async function runWorkers(config: StartConfig, stopRequested: Promise<unknown>): Promise<number> {
  const plans = planWorkers(config);
  const secret = config.options.cluster!.secret;
  const children = new Map<string, ChildProcess>();
  let stopping = false;

  const launch = (plan: WorkerPlan): void => {
    // Workers run the very entry this process was started with (bin/relaymesh.js, or a source run).
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, 'start', ...plan.args], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, RELAYMESH_CLUSTER_SECRET: secret, [WORKER_OF_ENV]: String(process.pid) },
    });
    children.set(plan.nodeId, child);
    child.once('exit', (code, signal) => {
      children.delete(plan.nodeId);
      if (stopping) return;
      process.stderr.write(`relaymesh: worker ${plan.nodeId} exited (${signal ?? code}); restarting it on its data dir\n`);
      setTimeout(() => !stopping && launch(plan), RESTART_DELAY_MS);
    });
  };
  for (const plan of plans) launch(plan);
  await stopRequested;
  stopping = true;
  // A worker signalled before node ran its first line dies of the signal: it held no
  // connections yet, so that counts as a clean stop too.
  const exits = [...children.values()].map(
    (child) => new Promise<boolean>((resolve) => child.once('exit', (code, signal) => resolve(code === 0 || signal === 'SIGTERM'))),
  );
  for (const child of children.values()) child.kill('SIGTERM');
  const clean = await Promise.all(exits);
  return clean.every(Boolean) ? 0 : 1;
}

/** Whether this process is a worker that `relaymesh start --workers` started (and still runs). */
export function isWorkerProcess(): boolean {
  return process.env[WORKER_OF_ENV] === String(process.ppid);
}

/** Settings each worker gets its own of; the user's flags for them are not passed on. */
const PLANNED = ['workers', 'nodeId', 'dataDir', 'cluster.port', 'cluster.peers', 'cluster.host', 'mqtt.port'];

/**
 * Each worker's `start` arguments: the user's flags (the config file and RELAYMESH_* variables
 * reach it unchanged), with its own node id, data dir, cluster port and peers, and `--workers 0`
 * so it runs its broker in its own process.
 */
export function planWorkers(config: StartConfig): WorkerPlan[] {
  const count = config.workers === 'auto' ? availableParallelism() : config.workers;
  const cluster = config.options.cluster!;
  const passed = config.flagTokens.filter((token) => !PLANNED.includes(token.key)).flatMap((token) => token.raw);
  const mqttPort = config.sources.has('mqtt.port') ? config.options.mqtt.port : undefined;
  const nodeIds = Array.from({ length: count }, (_, i) => `w${i + 1}`);
  const address = (i: number): string => `${nodeIds[i]}@${cluster.host}:${cluster.port + i}`;
  return nodeIds.map((nodeId, i) => ({
    nodeId,
    args: [
      ...passed,
      '--workers', '0',
      '--node-id', nodeId,
      '--data-dir', join(config.options.dataDir, nodeId),
      '--cluster-host', cluster.host,
      '--cluster-port', String(cluster.port + i),
      '--peers', nodeIds.map((_, j) => j).filter((j) => j !== i).map(address).join(','),
      // One process can own a TCP port: MQTT over TCP only where asked for, on worker 1.
      '--mqtt-port', i === 0 && mqttPort !== undefined ? String(mqttPort) : 'off',
    ],
  }));
}
