/**
 * The dashboard with a large fleet connected: `npm run bench:dashboard` / `relaymesh bench dashboard`.
 * Starts `relaymesh start` (several processes when the fleet is larger than one process's open
 * files allow), connects the fleet from device worker processes over 127.0.0.x source
 * addresses, opens the dashboard in headless Chromium and measures when each view shows data,
 * the event stream's rate and size, device search and tree latency, and the broker CPU spent
 * for an open dashboard against none.
 */
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { launchChromium } from '../../kit/chromium.js';
import { killAllChildren, killChildrenOnExit } from '../fanout/ipc.js';
import { describeMachine, sourceState } from '../fleet/index.js';
import { deviceId } from '../fleet/messages.js';
import { coresBetween, sampleTree } from '../fleet/proc-stats.js';
import { ProgressLine } from '../fleet/progress.js';
import { writeLatest } from '../fleet/report.js';
import { Simulator } from '../fleet/simulator.js';
import { startTarget, type BrokerTarget } from '../fleet/targets.js';
import { HTML_FLAG, HTML_USAGE, writeHtmlReport } from '../harness/html-report.js';
import { numberFlag } from '../harness/flags.js';
import { formatTextTable, type ReportTable } from '../harness/report-doc.js';
import { probeDeviceLookups, probeStream, type StreamProbe, type Timings } from './http-probes.js';
import { probePage, type PageProbe } from './page-probe.js';

const USAGE = `relaymesh bench dashboard [options]

The dashboard with a large fleet connected: time until each view shows data, event-stream
updates and bytes per second, fan-out tree and device search latency, broker CPU with the page
open against none. Writes bench/results/dashboard-latest.json.

  --devices <n>          devices connected (default 20000; --quick 2000)
  --broker-workers <n>   broker processes (relaymesh start --workers; default: one per 10,000 devices,
                         since one process may hold 20,000 open files here)
  --workers <n>          device worker processes (default 4; --quick 2)
  --window <s>           seconds of each CPU and stream window (default 20; --quick 8)
  --searches <n>         device searches in the page and over HTTP (default 20; --quick 5)
  --out <dir>            results directory (default bench/results)
${HTML_USAGE}
  --quick                2,000 devices, short windows (a couple of minutes)`;

interface Options {
  devices: number;
  brokerWorkers: number;
  workers: number;
  windowS: number;
  searches: number;
  outDir: string;
  html: boolean;
  quick: boolean;
}

function parseOptions(args: string[]): Options {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      devices: { type: 'string' },
      'broker-workers': { type: 'string' },
      workers: { type: 'string' },
      window: { type: 'string' },
      searches: { type: 'string' },
      out: { type: 'string' },
      quick: { type: 'boolean' },
      ...HTML_FLAG,
    },
  });
  const quick = values.quick ?? false;
  const int = numberFlag;
  const devices = int('devices', values.devices, quick ? 2000 : 20_000, 1, 200_000);
  return {
    devices,
    brokerWorkers: int('broker-workers', values['broker-workers'], Math.ceil(devices / 10_000), 1, 64),
    workers: int('workers', values.workers, quick ? 2 : 4, 1, 64),
    windowS: int('window', values.window, quick ? 8 : 20, 2, 600),
    searches: int('searches', values.searches, quick ? 5 : 20, 1, 1000),
    outDir: values.out ?? 'bench/results',
    html: values.html ?? false,
    quick,
  };
}

interface CpuWindow {
  window: string;
  seconds: number;
  brokerCores: number;
  loadAverage: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function cpuWindow(target: BrokerTarget, window: string, seconds: number): Promise<CpuWindow> {
  const before = sampleTree(target.pid);
  await sleep(seconds * 1000);
  return { window, seconds, brokerCores: coresBetween(before, sampleTree(target.pid)), loadAverage: loadavg()[0]! };
}

async function run(o: Options): Promise<number> {
  const log = new ProgressLine();
  const startedAt = new Date();
  const machine = describeMachine(loadavg()[0]!);
  log.line(`dashboard bench: ${o.devices.toLocaleString('en-US')} devices on ${o.brokerWorkers} broker process(es), ${o.workers} device workers, ${o.windowS} s windows`);
  if (machine.loadAverage.atStart > cpus().length * 0.5) log.line(`warning: load average ${machine.loadAverage.atStart.toFixed(1)} on ${cpus().length} cores: other work will skew the figures`);
  // The device workers load while the broker starts (on a loaded machine both take a while).
  const sim = Simulator.start({ workload: 'fleet', workers: o.workers, partitions: 1, payloadBytes: 64, qos: 0, heartbeatMs: 30_000, connectConcurrency: 64, connectTimeoutMs: 30_000 }, log);
  const target = await startTarget('relaymesh', { heartbeatMs: 30_000, lifetimeS: 3600, relaymeshMode: 'cli', brokerWorkers: o.brokerWorkers }).catch(async (err: Error) => {
    await sim.stop();
    throw err;
  });
  const baseUrl = target.url.replace(/^ws/, 'http').replace(/\/$/, '');
  const browser = await launchChromium();
  try {
    await sim.attach(target, 'raw');
    log.line(`connecting ${o.devices.toLocaleString('en-US')} devices`);
    const connect = await sim.grow(o.devices);
    log.line(`${connect.connected.toLocaleString('en-US')} connected (${connect.failed} failed) in ${connect.seconds.toFixed(1)} s`);
    const ids = Array.from({ length: o.searches }, (_, i) => deviceId(Math.floor(((i + 0.5) * o.devices) / o.searches)));

    log.line('broker CPU with no dashboard open');
    const cpu: CpuWindow[] = [await cpuWindow(target, 'no dashboard open', o.windowS)];
    log.line('opening the dashboard');
    const page: PageProbe = await probePage(browser, baseUrl, ids, async () => {
      log.line('broker CPU with the dashboard open');
      cpu.push(await cpuWindow(target, 'dashboard open (one page)', o.windowS));
    });
    log.line('the event stream alone, read by this process');
    const streamCpuBefore = sampleTree(target.pid);
    const stream: StreamProbe = await probeStream(baseUrl, o.windowS);
    cpu.push({ window: 'one event stream, no browser', seconds: o.windowS, brokerCores: coresBetween(streamCpuBefore, sampleTree(target.pid)), loadAverage: loadavg()[0]! });
    const lookups = await probeDeviceLookups(baseUrl, ids);

    machine.loadAverage.atEnd = loadavg()[0]!;
    const result = {
      startedAt: startedAt.toISOString(),
      durationS: (Date.now() - startedAt.getTime()) / 1000,
      machine,
      source: sourceState(),
      options: o,
      fleet: { devices: o.devices, connected: connect.connected, failed: connect.failed, connectSeconds: connect.seconds, brokerProcesses: o.brokerWorkers, broker: target.how },
      views: page.views,
      interactions: [
        { action: 'fan-out tree of the largest subscription (page)', ...withoutSummary(page.fanoutTree) },
        { action: 'device search (page: Enter to details)', ...page.deviceSearch },
        { action: 'device look-up (GET /dashboard/devices/:id)', ...lookups },
      ],
      stream: { windowS: stream.windowS, firstUpdateBytes: stream.firstUpdateBytes, updatesPerSecond: stream.updatesPerSecond, bytesPerSecond: stream.bytesPerSecond, meanUpdateBytes: stream.meanUpdateBytes },
      streamUpdates: stream.updates,
      brokerCpu: cpu,
      page: { fanoutTree: page.fanoutTree.summary, phoneWidthFits: page.phoneWidthFits, consoleErrors: page.consoleErrors.length, firstConsoleError: page.consoleErrors[0] ?? '' },
      notes: notes(o),
    };
    process.stdout.write('\n' + tables(result).map(formatTextTable).join('\n\n') + '\n\n');
    const file = writeLatest(o.outDir, 'dashboard-latest.json', result);
    const html = o.html ? [writeHtmlReport(file)] : [];
    log.line(`done in ${result.durationS.toFixed(0)} s; wrote ${[file, ...html].join(', ')}`);
    return page.consoleErrors.length > 0 ? 1 : 0;
  } finally {
    await browser.close();
    await sim.detach().catch(() => undefined);
    await target.stop();
    await sim.stop();
  }
}

function withoutSummary(t: Timings & { summary: string }): Timings {
  const { summary: _summary, ...rest } = t;
  return rest;
}

function notes(o: Options): string[] {
  return [
    `devices are raw-protocol WebSocket clients subscribed to one broadcast topic, idle apart from heartbeats (30 s); they connect to ${o.brokerWorkers} broker process(es) sharing the port (SO_REUSEPORT), so the page and every request land on one of them, which shows its own devices and topics and the cluster of all`,
    'view times: from navigation start until the view first shows data (checked on every animation frame); the page draws every view from the first stream update',
    'broker CPU: the broker processes (all workers) over each window; the dashboard feed samples only while a stream is open, so the difference is its cost',
  ];
}

function tables(r: { views: PageProbe['views']; interactions: ({ action: string } & Timings)[]; stream: Omit<StreamProbe, 'updates'>; brokerCpu: CpuWindow[] }): ReportTable[] {
  return [
    { caption: 'views: ms from navigation until they show data', header: ['view', 'ms'], rows: r.views.map((v) => [v.view, Number(v.firstShownMs.toFixed(1))]) },
    { caption: 'interactions (ms)', header: ['action', 'samples', 'p50', 'p99', 'max'], rows: r.interactions.map((i) => [i.action, i.samples, Number(i.p50Ms.toFixed(1)), Number(i.p99Ms.toFixed(1)), Number(i.maxMs.toFixed(1))]) },
    {
      caption: 'event stream',
      header: ['first update bytes', 'updates/s', 'bytes/s', 'bytes per update'],
      rows: [[r.stream.firstUpdateBytes, Number(r.stream.updatesPerSecond.toFixed(2)), Math.round(r.stream.bytesPerSecond), Math.round(r.stream.meanUpdateBytes)]],
    },
    { caption: 'broker CPU', header: ['window', 'seconds', 'broker cores', 'load average'], rows: r.brokerCpu.map((c) => [c.window, c.seconds, Number(c.brokerCores.toFixed(3)), Number(c.loadAverage.toFixed(1))]) },
  ];
}

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(USAGE + '\n');
} else {
  const uninstall = killChildrenOnExit();
  try {
    process.exitCode = await run(parseOptions(args));
  } catch (err) {
    process.stderr.write(`bench dashboard: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  } finally {
    killAllChildren();
    uninstall();
  }
}
