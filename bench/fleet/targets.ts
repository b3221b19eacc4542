/**
 * The brokers under test, each started in a process of its own on 127.0.0.1 and stopped by the
 * bench: relaymesh (hosted by relaymesh-host.ts, or the `relaymesh start` CLI), Mosquitto
 * (the Debian package, with a generated config in a temporary directory) and Aedes (npm).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { forkChild, type ChildLink } from '../fanout/ipc.js';
import type { BrokerHostCommands, HostLag, Protocol } from './messages.js';
import { descendants, fdLimitOf } from './proc-stats.js';

export type BrokerName = 'relaymesh' | 'relaymesh-mqtt' | 'mosquitto' | 'aedes';
/** MQTT brokers driven by the same mqtt.js devices: relaymesh's own MQTT listener is the apples-to-apples row. */
export const PEERS: readonly BrokerName[] = ['relaymesh-mqtt', 'mosquitto', 'aedes'];

export interface LagSample {
  window: HostLag;
  phase: HostLag;
}

export interface BrokerTarget {
  name: BrokerName;
  protocol: Protocol;
  url: string;
  /** MQTT over TCP (`mqtt://host:port`), for the brokers that listen for it. */
  mqttTcpUrl?: string;
  /** The process whose tree is measured (CPU, RSS, open files). */
  pid: number;
  fdLimit: number;
  /** How the broker was run, for the record. */
  how: string;
  /** relaymesh's Prometheus endpoint, when one process answers it (not with --workers: any worker might). */
  metricsUrl?: string;
  /** Event-loop delay, for brokers that are Node processes and report it; undefined otherwise. */
  lag(newPhase: boolean): Promise<LagSample | undefined>;
  stop(): Promise<void>;
}

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HOST = '127.0.0.1';
// Generous: on a shared, loaded machine a Node broker may take most of a minute to load its modules.
const START_TIMEOUT_MS = 60_000;

/** Every process this module spawned without IPC, killed on any exit of the coordinator. */
const spawned = new Set<ChildProcess>();
/** Temporary directories (broker data, configs), removed on exit. */
const tempDirs = new Set<string>();
process.on('exit', () => {
  for (const child of spawned) killTree(child);
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

export interface TargetSettings {
  heartbeatMs: number;
  /** Longest life of a spawned broker: a bound even if the coordinator itself is killed. */
  lifetimeS: number;
  /** relaymesh only: 'host' (in-process broker with event-loop delay) or 'cli' (`relaymesh start`). */
  relaymeshMode: 'host' | 'cli';
  /** relaymesh only: broker processes (`relaymesh start --workers N`), when the CLI has the flag. */
  brokerWorkers: number;
  /** Node flags of a hosted broker's process (e.g. --cpu-prof). */
  execArgv?: string[];
}

/** Why a peer cannot run here, or undefined when it can. */
export async function peerUnavailable(name: BrokerName): Promise<string | undefined> {
  if (name === 'relaymesh') return undefined;
  try {
    await import('mqtt');
  } catch {
    return 'the npm package mqtt (mqtt.js) is not installed: `npm install -D mqtt` would enable the MQTT peers';
  }
  if (name === 'relaymesh-mqtt') return undefined;
  if (name === 'mosquitto') {
    const found = spawnSync('which', ['mosquitto'], { encoding: 'utf8', timeout: 5000 });
    if (found.status !== 0) {
      return 'mosquitto is not installed: `apt-get install -y mosquitto` (Debian package) would enable this peer; the bench does not install system packages itself';
    }
    return undefined;
  }
  try {
    await import('aedes');
  } catch {
    return 'the npm package aedes is not installed: `npm install -D aedes` would enable this peer';
  }
  return undefined;
}

export async function startTarget(name: BrokerName, settings: TargetSettings): Promise<BrokerTarget> {
  switch (name) {
    case 'relaymesh':
      return settings.relaymeshMode === 'cli' || settings.brokerWorkers > 1 ? startRelaymeshCli(settings) : startHosted('relaymesh', settings);
    case 'relaymesh-mqtt': {
      // The same hosted broker, driven over its MQTT-over-WebSocket path by mqtt.js devices.
      const target = await startHosted('relaymesh', settings);
      return { ...target, name: 'relaymesh-mqtt', protocol: 'mqtt', url: `${target.url}mqtt`, how: `${target.how}, MQTT over WebSocket at /mqtt` };
    }
    case 'aedes':
      return startHosted('aedes', settings);
    case 'mosquitto':
      return startMosquitto(settings);
  }
}

let workersFlag: boolean | undefined;

/** Whether `relaymesh start --help` lists a --workers flag (multi-process broker). Asked once. */
export function cliHasWorkers(): boolean {
  if (workersFlag === undefined) {
    const help = spawnSync(process.execPath, ['bin/relaymesh.js', 'start', '--help'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 30_000 });
    workersFlag = /--workers\b/.test(`${help.stdout}${help.stderr}`);
  }
  return workersFlag;
}

async function startHosted(name: 'relaymesh' | 'aedes', settings: TargetSettings): Promise<BrokerTarget> {
  const module = new URL(name === 'relaymesh' ? './relaymesh-host.ts' : './aedes-host.ts', import.meta.url);
  const child: ChildLink<BrokerHostCommands> = forkChild<BrokerHostCommands>(`${name}-broker`, module, settings.execArgv);
  const dataDir = tempDir(`fleet-${name}-`);
  try {
    const { port, mqttTcpPort, pid } = await child.request('start', { host: HOST, dataDir, heartbeatMs: settings.heartbeatMs }, START_TIMEOUT_MS);
    return {
      name,
      protocol: name === 'relaymesh' ? 'relaymesh' : 'mqtt',
      url: `ws://${HOST}:${port}/`,
      mqttTcpUrl: `mqtt://${HOST}:${mqttTcpPort}`,
      pid,
      fdLimit: fdLimitOf(pid),
      ...(name === 'relaymesh' ? { metricsUrl: `http://${HOST}:${port}/metrics` } : {}),
      how: name === 'relaymesh' ? 'createBroker() in its own process (bench/fleet/relaymesh-host.ts)' : 'Aedes + ws WebSocketServer in its own process (bench/fleet/aedes-host.ts)',
      async lag(newPhase) {
        const s = await child.request('sample', { newPhase }, 20_000);
        return { window: s.window, phase: s.phase };
      },
      async stop() {
        await child.request('stop', {}, 5_000).catch(() => undefined);
        await child.waitExit(5_000);
        forgetDir(dataDir);
      },
    };
  } catch (err) {
    child.kill();
    forgetDir(dataDir);
    throw err;
  }
}

async function startRelaymeshCli(settings: TargetSettings): Promise<BrokerTarget> {
  const port = await freePort();
  const dataDir = tempDir('fleet-relaymesh-cli-');
  const args = ['bin/relaymesh.js', 'start', '--host', HOST, '--port', String(port), '--data-dir', dataDir, '--log-level', 'warn', '--mqtt-port', 'off'];
  args.push('--heartbeat-ms', String(settings.heartbeatMs));
  if (settings.brokerWorkers > 1) {
    // Each worker takes cluster port base + i; the default base (9101) may be taken by another broker on the machine.
    args.push('--workers', String(settings.brokerWorkers), '--cluster-port', String(await freePortRange(settings.brokerWorkers)));
  }
  const child = spawnBounded(settings.lifetimeS, process.execPath, args);
  await waitForHttp(port, '/healthz', child);
  const pid = childPidOf(child);
  return {
    name: 'relaymesh',
    protocol: 'relaymesh',
    url: `ws://${HOST}:${port}/`,
    pid,
    fdLimit: fdLimitOf(pid),
    ...(settings.brokerWorkers > 1 ? {} : { metricsUrl: `http://${HOST}:${port}/metrics` }),
    how: `relaymesh start${settings.brokerWorkers > 1 ? ` --workers ${settings.brokerWorkers}` : ''} (CLI process)`,
    lag: async () => undefined,
    async stop() {
      await stopSpawned(child);
      forgetDir(dataDir);
    },
  };
}

async function startMosquitto(settings: TargetSettings): Promise<BrokerTarget> {
  const port = await freePort();
  const tcpPort = await freePort();
  const dir = tempDir('fleet-mosquitto-');
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      'per_listener_settings false',
      'allow_anonymous true',
      'max_connections -1',
      'persistence false',
      'set_tcp_nodelay true',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      // MQTT over TCP (the fan-out bench's --mqtt-transport tcp). Mosquitto 2.0.11 (Debian 12) also
      // exits with "Unable to start any listening sockets" when a websockets listener is its only one.
      `listener ${tcpPort} ${HOST}`,
      `listener ${port} ${HOST}`,
      'protocol websockets',
      // Without it libwebsockets binds a dual-stack socket on every address instead of 127.0.0.1.
      'socket_domain ipv4',
      '',
    ].join('\n'),
  );
  const child = spawnBounded(settings.lifetimeS, 'mosquitto', ['-c', conf]);
  await waitForTcp(port, child);
  const version = spawnSync('mosquitto', ['-h'], { encoding: 'utf8', timeout: 5000 }).stdout.split('\n')[0] ?? 'mosquitto';
  const pid = childPidOf(child);
  return {
    name: 'mosquitto',
    protocol: 'mqtt',
    url: `ws://${HOST}:${port}/`,
    mqttTcpUrl: `mqtt://${HOST}:${tcpPort}`,
    pid,
    fdLimit: fdLimitOf(pid),
    how: `${version.trim()}, websockets and TCP listeners from a generated config`,
    lag: async () => undefined,
    async stop() {
      await stopSpawned(child);
      forgetDir(dir);
    },
  };
}

/**
 * Spawns `command` under coreutils `timeout`, so that it dies after `lifetimeS` even if this
 * process is killed before it can clean up.
 */
function spawnBounded(lifetimeS: number, command: string, args: string[]): ChildProcess {
  const child = spawn('timeout', ['--kill-after=5', String(Math.ceil(lifetimeS)), command, ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  spawned.add(child);
  child.once('exit', () => spawned.delete(child));
  return child;
}

/** The broker's pid: the one child of the `timeout` wrapper. */
function childPidOf(wrapper: ChildProcess): number {
  const pid = wrapper.pid!;
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    if (children[0] !== undefined) return children[0];
  } catch {
    // Fall through: measure the wrapper's tree, which holds the broker.
  }
  return pid;
}

async function stopSpawned(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  // `timeout` passes SIGTERM on to the broker.
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 5_000)))]);
  clearTimeout(timer);
  if (child.exitCode === null && child.signalCode === null) killTree(child);
}

/** SIGKILLs the wrapper and everything under it (a multi-process broker's workers too). */
function killTree(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  for (const pid of [child.pid, ...descendants(child.pid)]) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/** The first of `n` consecutive ports that are free now on 127.0.0.1. */
async function freePortRange(n: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 10_000);
    const free = await Promise.all(Array.from({ length: n }, (_, i) => portIsFree(base + i)));
    if (free.every(Boolean)) return base;
  }
  throw new Error(`no ${n} consecutive free ports found for the cluster links`);
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitForTcp(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`broker exited with code ${child.exitCode} before listening on ${port}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, HOST);
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listening on ${HOST}:${port} after ${START_TIMEOUT_MS} ms`);
}

async function waitForHttp(port: number, path: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`broker exited with code ${child.exitCode} before answering ${path}`);
    const ok = await fetch(`http://${HOST}:${port}${path}`, { signal: AbortSignal.timeout(1000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`broker did not answer ${path} on port ${port} within ${START_TIMEOUT_MS} ms`);
}

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

function forgetDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}
