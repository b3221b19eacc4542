import t from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrameKind } from '../src/index.js';
import { loadStartConfig } from '../src/cli/config.js';
import { planWorkers } from '../src/cli/workers.js';
import { freePort } from './helpers/broker.js';
import { RawClient } from './helpers/raw-client.js';

// Spawns broker processes: a generous bound for a shared, loaded 2-core machine.
t.setTimeout(900_000);

const childrenOf = (pid: number): number[] => {
  try {
    // Only the broker workers (tsx also runs an esbuild helper under the parent).
    return execFileSync('pgrep', ['-P', String(pid), '-f', 'relaymesh.js start']).toString().trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
};

// Generous: on a loaded 2-core machine two workers may take tens of seconds to start and cluster.
async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

t.test('planWorkers gives each worker its node id, data dir, cluster port and the others as peers', async (t) => {
  // `--key=value` and `--key value` are the same flag (issue 10: --workers=2 was ignored).
  const plans = planWorkers(loadStartConfig(['--workers=3', '--port', '8080', '--data-dir', '/tmp/d', '--cluster-port=9200', '--log-level', 'warn'], {}));
  t.same(plans.map((p) => p.nodeId), ['w1', 'w2', 'w3']);
  const second = plans[1]!.args.join(' ');
  t.match(second, /--port 8080/);
  t.match(second, /--log-level warn/);
  t.match(second, /--data-dir \/tmp\/d\/w2/);
  t.match(second, /--cluster-port 9201/);
  t.match(second, /--peers w1@127\.0\.0\.1:9200,w3@127\.0\.0\.1:9202/);
  t.match(second, /--workers 0/);
  t.throws(() => loadStartConfig(['--workers', 'lots'], {}), /workers/);
});

t.test('--workers 2: devices on either worker reach each other; a killed worker is restarted', async (t) => {
  const port = await freePort();
  const clusterPort = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'relaymesh-workers-'));
  const parent = spawn(process.execPath, ['bin/relaymesh.js', 'start', '--workers=2', '--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir, '--cluster-port', String(clusterPort), '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  parent.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  parent.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  t.teardown(() => {
    for (const pid of childrenOf(parent.pid!)) process.kill(pid, 'SIGKILL');
    parent.kill('SIGKILL');
  });
  const url = `ws://127.0.0.1:${port}/`;
  await until('both workers to listen and cluster', async () => {
    const r = await fetch(`http://127.0.0.1:${port}/cluster`).catch(() => undefined);
    return r?.ok === true && ((await r.json()) as { nodes: string[] }).nodes.length === 2;
  });
  // The kernel spreads connections over the workers: connect a few devices and message across.
  const devices = await Promise.all(Array.from({ length: 6 }, (_, i) => RawClient.connect(url, `dev-${i}`)));
  t.teardown(() => devices.forEach((d) => d.close()));
  await until('every device to be reachable from dev-0', async () => {
    for (let i = 1; i < devices.length; i++) devices[0]!.send({ kind: FrameKind.SEND, seq: devices[0]!.nextSeq(), target: `dev-${i}`, payload: Buffer.from('ping') });
    await new Promise((r) => setTimeout(r, 300));
    return devices.slice(1).every((d) => d.frames.some((f) => f.kind === FrameKind.MSG));
  });
  t.pass('SEND crossed between workers');

  const workers = childrenOf(parent.pid!);
  t.equal(workers.length, 2, `two worker processes (${workers.join(', ')})`);
  process.kill(workers[0]!, 'SIGKILL');
  await until('the killed worker to be replaced', () => {
    const now = childrenOf(parent.pid!);
    return now.length === 2 && !now.includes(workers[0]!);
  });
  t.pass('the parent restarted the worker');
  await until('the restarted worker to rejoin', async () => {
    const seen = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const r = await fetch(`http://127.0.0.1:${port}/cluster`).catch(() => undefined);
        return r?.ok ? ((await r.json()) as { nodes: string[] }).nodes.length : 0;
      }),
    );
    return seen.every((n) => n === 2);
  });
  parent.kill('SIGTERM');
  const code = await new Promise<number | null>((resolve) => parent.once('exit', resolve));
  t.equal(code, 0, 'SIGTERM stops every worker and exits 0');
  if (code !== 0) t.comment(output);
});

t.test('--workers: QoS 1 messages stored on a worker killed with SIGKILL reach the device wherever it reconnects', async (t) => {
  const port = await freePort();
  const clusterPort = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'relaymesh-workers-'));
  const parent = spawn(process.execPath, ['bin/relaymesh.js', 'start', '--workers', '2', '--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir, '--cluster-port', String(clusterPort), '--log-level', 'warn'], { stdio: 'ignore' });
  t.teardown(() => {
    for (const pid of childrenOf(parent.pid!)) process.kill(pid, 'SIGKILL');
    parent.kill('SIGKILL');
  });
  const url = `ws://127.0.0.1:${port}/`;
  await until('both workers to cluster', async () => {
    const r = await fetch(`http://127.0.0.1:${port}/cluster`).catch(() => undefined);
    return r?.ok === true && ((await r.json()) as { nodes: string[] }).nodes.length === 2;
  });
  const device = await RawClient.connect(url, 'tunnel-car');
  const publisher = await RawClient.connect(url, 'dispatcher');
  t.teardown(() => publisher.close());
  const sent: string[] = [];
  for (let i = 1; i <= 20; i++) {
    const reply = await publisher.request({ kind: FrameKind.SEND, seq: publisher.nextSeq(), target: 'tunnel-car', payload: Buffer.from(`order-${i}`), qos: 1 });
    if (reply.kind === FrameKind.OK) sent.push(`order-${i}`);
  }
  t.equal(sent.length, 20, 'all 20 stored and acknowledged to the sender');
  // The device never acked; now kill the worker it is connected to.
  const workers = childrenOf(parent.pid!);
  process.kill(workers[0]!, 'SIGKILL');
  const wasItsWorker = await device.closed(1500).then(() => true, () => false);
  if (!wasItsWorker) {
    process.kill(workers[1]!, 'SIGKILL');
    await device.closed(5000);
  }
  // It comes back to any worker; the stored messages follow once the killed worker is back.
  let back: RawClient | undefined;
  await until('the device to reconnect', async () => {
    back = await RawClient.connect(url, 'tunnel-car').catch(() => undefined);
    return back !== undefined;
  });
  t.teardown(() => back?.close());
  const received = new Set<string>();
  await until('every stored message to arrive', () => {
    for (const f of back!.frames.splice(0)) {
      if (f.kind !== FrameKind.MSG) continue;
      received.add(Buffer.from(f.payload).toString());
      back!.send({ kind: FrameKind.ACK, seq: 0, stream: f.stream, offset: f.offset });
    }
    return sent.every((p) => received.has(p));
  }, 45_000);
  t.pass(`received all ${sent.length} stored messages after the crash`);
});
