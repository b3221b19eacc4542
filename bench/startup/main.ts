/**
 * Start-up benchmark: `npm run bench:startup [-- --quick] [--runs N]`. Times the compiled CLI
 * (bin/relaymesh.js, so `npm run build` first) from spawn to: exit for `--help`, `--version`
 * and `start --help`; the first 200 from GET /readyz for `start` (fresh data dir, port 0 is not
 * usable here, so a free port is picked). `node -e 0` is the floor: on a loaded machine wall
 * times grow with the run queue, so the table also gives the time above the floor and, for
 * `start`, the CPU the process used until ready. Prints a table and writes
 * bench/results/startup-latest.json.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { takeHtmlFlag, writeHtmlReport } from '../harness/html-report.js';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(REPO, 'bin/relaymesh.js');
const READY_DEADLINE_MS = 60_000;

const USAGE = `usage: npm run bench:startup [-- --quick] [--runs N]
  --quick    3 runs of each case (default 7)
  --html     also write bench/results/startup-latest.html (a self-contained report)
  --runs N   runs of each case`;

interface CaseResult {
  name: string;
  runsMs: number[];
  medianMs: number;
  minMs: number;
  maxMs: number;
  targetMs?: number;
  /** `start` only: CPU seconds (user + system) the broker process used until ready, median. */
  cpuToReadyMs?: number;
}

/** CPU time of a live process (Linux /proc: utime + stime, in clock ticks of 10 ms). */
function cpuMs(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

function parseRuns(args: string[]): number {
  let runs = 7;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--quick') runs = 3;
    else if (args[i] === '--runs' && Number.isInteger(Number(args[i + 1])) && Number(args[i + 1]) > 0) runs = Number(args[++i]);
    else throw new Error(`unknown argument ${args[i]}\n${USAGE}`);
  }
  return runs;
}

/** Milliseconds from spawn to exit. */
function timeToExit(args: string[]): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd: REPO, stdio: 'ignore' });
  return new Promise((resolve, reject) =>
    child.once('exit', (code) => (code === 0 ? resolve(performance.now() - started) : reject(new Error(`${args.join(' ')} exited ${code}`)))),
  );
}

const cpuToReady: number[] = [];

/** Milliseconds from spawn to the first 200 from /readyz, then a clean stop. */
async function timeToReady(): Promise<number> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'relaymesh-startup-'));
  const started = performance.now();
  const child = spawn(process.execPath, [BIN, 'start', '--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir, '--log-level', 'warn'], {
    cwd: REPO,
    stdio: 'ignore',
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    while (!(await isReady(port))) {
      if (child.exitCode !== null || performance.now() - started > READY_DEADLINE_MS) throw new Error('broker did not become ready');
      await new Promise((r) => setTimeout(r, 5));
    }
    const elapsed = performance.now() - started;
    const cpu = cpuMs(child.pid!);
    if (cpu !== undefined) cpuToReady.push(cpu);
    return elapsed;
  } finally {
    child.kill('SIGTERM');
    await exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function isReady(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2000) });
    return response.status === 200;
  } catch {
    return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.once('error', reject);
  });
}

async function measure(name: string, runs: number, once: () => Promise<number>, targetMs?: number): Promise<CaseResult> {
  const runsMs: number[] = [];
  for (let i = 0; i < runs; i++) runsMs.push(await once());
  const sorted = [...runsMs].sort((a, b) => a - b);
  return { name, runsMs, medianMs: sorted[Math.floor(sorted.length / 2)]!, minMs: sorted[0]!, maxMs: sorted.at(-1)!, ...(targetMs !== undefined ? { targetMs } : {}) };
}

function table(results: CaseResult[]): string {
  const floor = results[0]!.medianMs;
  const rows = [
    ['case', 'median ms', 'above floor', 'min ms', 'max ms', 'CPU ms', 'target'],
    ...results.map((r) => [
      r.name,
      r.medianMs.toFixed(0),
      r === results[0] ? '' : (r.medianMs - floor).toFixed(0),
      r.minMs.toFixed(0),
      r.maxMs.toFixed(0),
      r.cpuToReadyMs === undefined ? '' : r.cpuToReadyMs.toFixed(0),
      r.targetMs ? `< ${r.targetMs} ms` : '',
    ]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  return rows.map((row) => row.map((cell, c) => cell.padEnd(widths[c]!)).join('  ')).join('\n');
}

const { html, rest } = takeHtmlFlag(process.argv.slice(2));
const runs = parseRuns(rest);
const results = [
  await measure('node -e 0 (floor)', runs, () => timeToExit(['-e', '0'])),
  await measure('relaymesh --help', runs, () => timeToExit([BIN, '--help']), 500),
  await measure('relaymesh --version', runs, () => timeToExit([BIN, '--version'])),
  await measure('relaymesh start --help', runs, () => timeToExit([BIN, 'start', '--help']), 500),
  await measure('relaymesh start → /readyz 200', runs, timeToReady, 1000),
];
const sortedCpu = [...cpuToReady].sort((a, b) => a - b);
if (sortedCpu.length > 0) results.at(-1)!.cpuToReadyMs = sortedCpu[Math.floor(sortedCpu.length / 2)]!;
process.stdout.write(`start-up, ${runs} runs each (load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores)\n${table(results)}\n`);
const dir = join(REPO, 'bench/results');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'startup-latest.json'), JSON.stringify({ date: new Date().toISOString(), node: process.version, loadAverage: loadavg()[0], runs, results }, null, 2) + '\n');
if (html) process.stdout.write(`wrote ${writeHtmlReport(join(dir, 'startup-latest.json'))}\n`);
