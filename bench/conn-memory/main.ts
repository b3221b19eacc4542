/**
 * Memory per idle connection: a broker process (run with --expose-gc) holds N idle clients of
 * one kind — relaymesh's own protocol, MQTT over TCP, MQTT over WebSocket — opened by client
 * processes on 127.0.0.x; RSS and V8 heap are read after a full GC before and after they
 * connect. `--heap-snapshot DIR` also writes the broker's heap with the clients connected.
 *
 *   npm run bench:conn-memory -- --connections 2000,10000 --kinds own,mqtt-tcp,mqtt-ws [--subscribe]
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ConnectPlan, MemoryReading } from './roles.js';

const KINDS = ['own', 'mqtt-tcp', 'mqtt-ws'] as const;
/** Connections one client process opens at most (its open-file limit is 20,000). */
const PER_CLIENT_PROCESS = 5000;

const HELP = `npm run bench:conn-memory -- [options]
  --connections <n,n>   idle connections per run (default 2000,10000)
  --kinds <k,k>         own, mqtt-tcp, mqtt-ws (default all)
  --subscribe           each client also subscribes to one topic (as in the fan-out bench)
  --source              run the broker from src/ under tsx (default: dist/, built by npm run build)
  --heap-snapshot <dir> write the broker's heap snapshots before and after the clients connect`;

interface Row {
  kind: string;
  connections: number;
  subscribe: boolean;
  rssPerConnBytes: number;
  heapPerConnBytes: number;
  heapTotalPerConnBytes: number;
  externalPerConnBytes: number;
}

const SELF = fileURLToPath(import.meta.url);

function child(role: 'server' | 'clients', execArgv: string[] = []): ChildProcess {
  return fork(join(SELF, '../roles.ts'), [role], { execArgv: ['--import', 'tsx', ...execArgv], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

function ask<T>(proc: ChildProcess, msg: object, timeoutMs = 600_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no reply to ${JSON.stringify(msg)}`)), timeoutMs);
    proc.once('message', (reply: { error?: string; value: T }) => {
      clearTimeout(timer);
      if (reply.error) reject(new Error(reply.error));
      else resolve(reply.value);
    });
    proc.send(msg);
  });
}

interface RunOptions {
  subscribe: boolean;
  compiled: boolean;
  snapshotDir: string | undefined;
}

async function measure(kind: string, connections: number, { subscribe, compiled, snapshotDir }: RunOptions): Promise<Row> {
  const dataDir = mkdtempSync(join(tmpdir(), 'conn-memory-'));
  const server = child('server', ['--expose-gc']);
  const clients: ChildProcess[] = [];
  try {
    const ports = await ask<{ port: number; mqttPort: number }>(server, { cmd: 'start', dataDir, compiled });
    // Warm-up: a few connections load every module and JIT path the measured ones use.
    const warm = child('clients');
    clients.push(warm);
    await open(warm, kind, ports, 50, 0, subscribe);
    await ask(warm, { cmd: 'close' });
    const before = await ask<MemoryReading>(server, { cmd: 'memory' });
    const snapshotName = `${kind}-${connections}${subscribe ? '-sub' : ''}`;
    if (snapshotDir) await ask(server, { cmd: 'snapshot', file: join(snapshotDir, `${snapshotName}-before.heapsnapshot`) });
    for (let first = 0; first < connections; first += PER_CLIENT_PROCESS) {
      const proc = child('clients');
      clients.push(proc);
      await open(proc, kind, ports, Math.min(PER_CLIENT_PROCESS, connections - first), 1000 + first, subscribe);
    }
    const after = await ask<MemoryReading>(server, { cmd: 'memory' });
    if (after.devices < connections) throw new Error(`${kind}: ${after.devices} of ${connections} connections live`);
    if (snapshotDir) await ask(server, { cmd: 'snapshot', file: join(snapshotDir, `${snapshotName}.heapsnapshot`) });
    return {
      kind,
      connections,
      subscribe,
      rssPerConnBytes: (after.rss - before.rss) / connections,
      heapPerConnBytes: (after.heapUsed - before.heapUsed) / connections,
      heapTotalPerConnBytes: (after.heapTotal - before.heapTotal) / connections,
      externalPerConnBytes: (after.external - before.external) / connections,
    };
  } finally {
    for (const proc of clients) proc.kill('SIGKILL');
    server.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function open(proc: ChildProcess, kind: string, ports: { port: number; mqttPort: number }, count: number, firstId: number, subscribe: boolean): Promise<void> {
  const plan: ConnectPlan = { kind, ...ports, count, firstId, subscribe };
  const { opened, firstError } = await ask<{ opened: number; firstError?: string }>(proc, { cmd: 'open', plan });
  if (opened < count) throw new Error(`${kind}: ${opened} of ${count} connections opened (${firstError})`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { connections: { type: 'string', default: '2000,10000' }, kinds: { type: 'string', default: KINDS.join(',') }, subscribe: { type: 'boolean', default: false }, source: { type: 'boolean', default: false }, 'heap-snapshot': { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help) return void console.log(HELP);
  const counts = values.connections.split(',').map(Number);
  const kinds = values.kinds.split(',');
  for (const kind of kinds) if (!(KINDS as readonly string[]).includes(kind)) throw new Error(`--kinds: unknown kind ${kind} (${KINDS.join(', ')})`);
  if (counts.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--connections: positive integers');
  const rows: Row[] = [];
  for (const connections of counts) {
    for (const kind of kinds) {
      const row = await measure(kind, connections, { subscribe: values.subscribe, compiled: !values.source, snapshotDir: values['heap-snapshot'] });
      rows.push(row);
      console.log(
        `${kind.padEnd(9)} ${String(connections).padStart(6)} conns${row.subscribe ? ' +sub' : ''}: ` +
          `RSS ${(row.rssPerConnBytes / 1024).toFixed(1)} KB/conn, heap used ${(row.heapPerConnBytes / 1024).toFixed(1)}, total ${(row.heapTotalPerConnBytes / 1024).toFixed(1)} KB/conn, external ${(row.externalPerConnBytes / 1024).toFixed(1)} KB/conn`,
      );
    }
  }
  console.log(JSON.stringify(rows));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
