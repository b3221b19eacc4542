/** The fleet bench's tables on stdout and its JSON under bench/results. */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fmtRate } from './progress.js';
import type { CapacityResult, ConnectResult, FleetResult, PhaseResult } from './results.js';

export type Row = (string | number | undefined)[];

export function renderTables(r: FleetResult): string {
  const out: string[] = [];
  const rm = r.relaymesh;
  const phases = [rm.steady, rm.broadcast, rm.soak, rm.reconnect?.phase].filter((p): p is PhaseResult => p !== undefined);
  if (rm.connect || phases.length > 0) {
    out.push(`relaymesh scenarios (${rm.how ?? ''})`);
    const rows: Row[] = [];
    if (rm.connect) rows.push(connectRow('connect', rm.connect));
    for (const p of phases) rows.push(phaseRow(p.scenario, p));
    out.push(table(PHASE_HEADER, rows));
  }
  if (rm.steady) out.push('', 'relaymesh steady, per flow', flowTable(rm.steady));
  const internals = phases.filter((p) => p.brokerInternals).map((p) => `${p.scenario}: ${internalsText(p)}`);
  if (internals.length > 0) out.push('', `relaymesh's own metrics (GET /metrics, fan-out = publish entering a tree to a leaf's socket write):`, ...internals.map((l) => `  ${l}`));
  if (rm.soak) {
    const s = rm.soak;
    out.push(
      '',
      `soak: ${s.seconds.toFixed(0)} s; broker RSS ${s.rssSeries?.map((x) => (x.rssBytes / 2 ** 20).toFixed(0)).join(' -> ')} MB ` +
        `(growth ${s.rssGrowthMbPerMin?.toFixed(2)} MB/min); p99 per window ${s.windowP99Ms?.map((x) => x.toFixed(1)).join(', ')} ms`,
    );
  }
  if (rm.reconnect) {
    const c = rm.reconnect;
    out.push(
      '',
      `reconnect storm: ${c.dropped} of ${c.devices} SDK devices dropped at once; ${c.reconnected} back (${c.notBack} not) in ` +
        `${Number.isFinite(c.secondsUntilAllBack) ? c.secondsUntilAllBack.toFixed(1) + ' s' : 'not all back'}; ${c.attempts} attempts; ` +
        `drop-to-session p50 ${ms(c.reconnectMs.p50)} p99 ${ms(c.reconnectMs.p99)} max ${ms(c.reconnectMs.max)}; peak ${c.peakReconnectsPerSecond.toFixed(0)} reconnects/s; ` +
        `telemetry lost during the storm ${c.phase.telemetry.lost} of ${c.phase.telemetry.sent} (${pct(c.phase.telemetry.lossPct)}%; an offline device skips its publishes); ` +
        `broadcasts missed by offline devices ${c.phase.broadcast.lost} (QoS 0 is not stored); ${c.backoff}`,
    );
  }
  if (phases.length > 0) out.push('', 'KB/conn = (broker RSS - its RSS before any device) / devices: includes fixed costs (JIT, heap growth); Δ KB/conn in the searches is per added device');
  if (rm.capacity) out.push('', capacityTable('capacity search', rm.capacity));
  if (rm.idle) out.push('', capacityTable('idle search', rm.idle));
  if (rm.idleWorkers) out.push('', capacityTable('idle search beyond one process (relaymesh start --workers)', rm.idleWorkers));
  const comparison = peerTable(r);
  if (comparison) out.push('', comparison);
  for (const p of r.peers.filter((x) => x.skipped)) out.push(`${p.broker}: skipped: ${p.skipped}`);
  for (const p of r.peers.filter((x) => x.error)) out.push(`${p.broker}: FAILED under this load: ${p.error}`);
  for (const row of [{ broker: 'relaymesh', steady: rm.steady, broadcast: rm.broadcast }, ...r.peers]) {
    for (const p of [row.steady, row.broadcast]) {
      if (p && p.staleDeliveries > 0 && worstLoss(p) >= 1) {
        out.push(
          `${row.broker} ${p.scenario}: ${pct(worstLoss(p))}% not delivered within the phase and its drain, while ${p.staleDeliveries} messages of the warm-up ` +
            `were still arriving: the broker was working through a backlog it could not keep up with`,
        );
      }
    }
  }
  if (r.notes.length > 0) out.push('', ...r.notes.map((n) => `note: ${n}`));
  if (r.errors.length > 0) out.push('', ...r.errors.map((e) => `error: ${e}`));
  return out.join('\n');
}

const PHASE_HEADER = ['scenario', 'devices', 'held', 'conn/s', 'in msg/s', 'out msg/s', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'loss %', 'broker cores', 'µs/msg', 'RSS MB', 'KB/conn', 'lag p99', 'sim cores', 'slip p99', 'other cores'];

function phaseRow(name: string, p: PhaseResult): Row {
  const loss = worstLoss(p);
  return [
    name,
    p.devices,
    p.held,
    '',
    fmtRate(p.messagesInPerSecond),
    fmtRate(p.messagesOutPerSecond),
    ms(p.latencyMs.p50),
    ms(p.latencyMs.p95),
    ms(p.latencyMs.p99),
    ms(p.latencyMs.max),
    pct(loss),
    p.brokerUse.cpuCores.toFixed(2),
    usPerMessage(p),
    mb(p.brokerUse.rssBytes),
    (p.brokerUse.rssPerConnectionBytes / 1024).toFixed(1),
    p.brokerUse.lagMs ? ms(p.brokerUse.lagMs.p99Ms) : 'n/a',
    p.simulator.cpuCores.toFixed(2),
    ms(p.simulator.sendSlipP99Ms),
    p.otherCores.toFixed(2),
  ];
}

function connectRow(name: string, c: ConnectResult): Row {
  return [
    name,
    c.devices,
    c.connected,
    c.connectsPerSecond.toFixed(0),
    '',
    '',
    ms(c.handshakeMs.p50),
    ms(c.handshakeMs.p95),
    ms(c.handshakeMs.p99),
    ms(c.handshakeMs.max),
    c.devices > 0 ? pct((100 * c.failed) / c.devices) : '-',
    c.brokerCpuCores.toFixed(2),
    '',
    mb(c.rssAfterBytes),
    (c.rssPerConnectionBytes / 1024).toFixed(1),
    '',
    '',
    '',
    '',
  ];
}

function internalsText(p: PhaseResult): string {
  const i = p.brokerInternals;
  if (!i) return '';
  const bound = (v: number): string => (Number.isFinite(v) ? `<= ${v} ms` : '> 1 s');
  return `fan-out p50 ${bound(i.fanoutP50Ms)}, p99 ${bound(i.fanoutP99Ms)} (${i.fanoutCount} leaf writes); ${i.framesPerWrite.toFixed(2)} frames per socket write; ${i.dropped} QoS 0 dropped`;
}

/** Broker CPU per message handled; meaningless (and shown as '-') when nothing was delivered. */
export function usPerMessage(p: PhaseResult): string {
  return p.messagesOutPerSecond > 0 ? p.brokerUse.cpuUsPerMessage.toFixed(1) : '-';
}

/** Worst loss of the flows that carried anything. */
export function worstLoss(p: PhaseResult): number {
  return Math.max(...[p.telemetry, p.commands, p.broadcast].filter((f) => f.expected > 0).map((f) => f.lossPct), 0);
}

function flowTable(p: PhaseResult): string {
  const rows: Row[] = (
    [
      ['telemetry (device -> backend)', p.telemetry],
      ['commands (backend -> device)', p.commands],
      ['broadcast (backend -> all)', p.broadcast],
    ] as const
  ).map(([name, f]) => [name, f.sent, f.expected, f.received, f.lost, pct(f.lossPct), f.duplicates, fmtRate(f.perSecond), ms(f.latencyMs.p50), ms(f.latencyMs.p95), ms(f.latencyMs.p99), ms(f.latencyMs.max)]);
  rows.push(['heartbeat round trip', '', '', p.heartbeatRttMs.count, '', '', '', '', ms(p.heartbeatRttMs.p50), ms(p.heartbeatRttMs.p95), ms(p.heartbeatRttMs.p99), ms(p.heartbeatRttMs.max)]);
  return table(['flow', 'sent', 'expected', 'received', 'lost', 'loss %', 'dups', 'recv/s', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms'], rows);
}

export function capacityTable(title: string, c: CapacityResult): string {
  const rows: Row[] = c.probes.map((p, i) => {
    const ph = p.phase;
    const prev = c.probes[i - 1];
    // Memory added per device between consecutive idle sizes: free of the broker's fixed costs (under load, buffers and GC blur it).
    const marginal =
      c.ratePerDevice === 0 && ph && prev?.phase && p.devices > prev.devices ? ((ph.brokerUse.rssBytes - prev.phase.brokerUse.rssBytes) / (p.devices - prev.devices) / 1024).toFixed(1) : '';
    return [
      p.devices,
      p.pass ? 'pass' : 'FAIL',
      ph ? fmtRate(ph.messagesInPerSecond) : '',
      ph ? fmtRate(ph.messagesOutPerSecond) : '',
      ph ? ms(ph.latencyMs.p99) : '',
      ph ? ms(ph.heartbeatRttMs.p99) : '',
      ph ? pct(worstLoss(ph)) : '',
      ph ? ph.brokerUse.cpuCores.toFixed(2) : '',
      ph ? mb(ph.brokerUse.rssBytes) : '',
      ph ? (ph.brokerUse.rssPerConnectionBytes / 1024).toFixed(1) : '',
      marginal,
      ph?.brokerUse.lagMs ? ms(ph.brokerUse.lagMs.p99Ms) : 'n/a',
      ph?.brokerInternals && Number.isFinite(ph.brokerInternals.fanoutP99Ms) ? `<=${ph.brokerInternals.fanoutP99Ms}` : '',
      ph ? ph.simulator.cpuCores.toFixed(2) : '',
      ph ? ms(ph.simulator.sendSlipP99Ms) : '',
      ph ? ph.otherCores.toFixed(2) : '',
      p.reasons.join('; '),
    ];
  });
  return [
    `${title}: ${c.criterion}`,
    table(['devices', 'result', 'in msg/s', 'out msg/s', 'p99 ms', 'hb p99', 'loss %', 'broker cores', 'RSS MB', 'KB/conn', 'Δ KB/conn', 'lag p99', 'fan-out p99', 'sim cores', 'slip p99', 'other cores', 'why'], rows),
    `largest passing: ${c.largestPassing}${c.smallestFailing !== undefined ? `; smallest failing: ${c.smallestFailing}` : ''}; ceiling ${c.ceiling}`,
    `limited by: ${c.limitedBy}`,
  ].join('\n');
}

/** One row per broker and scenario, with ratios to relaymesh's row of the same scenario (peer / relaymesh). */
function peerTable(r: FleetResult): string | undefined {
  const rows: Row[] = [];
  const rm = r.relaymesh;
  const brokers = [{ broker: 'relaymesh', connect: rm.connect, steady: rm.steady, broadcast: rm.broadcast }, ...r.peers.filter((p) => p.available && !p.skipped)];
  if (brokers.length < 2) return undefined;
  for (const scenario of ['steady', 'broadcast'] as const) {
    const base = rm[scenario];
    for (const b of brokers) {
      const p = b[scenario];
      if (!p) continue;
      const ratio = (a: number, z: number | undefined): string => (z !== undefined && z > 0 && Number.isFinite(a) ? (a / z).toFixed(2) : '-');
      rows.push([
        scenario,
        b.broker,
        p.held,
        b.connect ? b.connect.connectsPerSecond.toFixed(0) : '',
        fmtRate(p.messagesInPerSecond),
        fmtRate(p.messagesOutPerSecond),
        ms(p.latencyMs.p50),
        ms(p.latencyMs.p99),
        ms(p.latencyMs.max),
        pct(worstLoss(p)),
        p.brokerUse.cpuCores.toFixed(2),
        usPerMessage(p),
        mb(p.brokerUse.rssBytes),
        b.connect ? (b.connect.rssPerConnectionBytes / 1024).toFixed(1) : '',
        p.brokerUse.lagMs ? ms(p.brokerUse.lagMs.p99Ms) : 'n/a',
        p.simulator.cpuCores.toFixed(2),
        ms(p.simulator.sendSlipP99Ms),
        p.otherCores.toFixed(2),
        ratio(p.messagesOutPerSecond, base?.messagesOutPerSecond),
        ratio(p.latencyMs.p99, base?.latencyMs.p99),
        ratio(p.brokerUse.cpuUsPerMessage, base?.brokerUse.cpuUsPerMessage),
        ratio(b.connect?.rssPerConnectionBytes ?? NaN, rm.connect?.rssPerConnectionBytes),
      ]);
    }
  }
  return [
    'peer comparison (same fleet, rate and duration; KB/conn = broker memory added per connected device before traffic; ' +
      'ratios = broker / relaymesh: out msg/s higher is better, the others lower is better)',
    table(
      ['scenario', 'broker', 'held', 'conn/s', 'in msg/s', 'out msg/s', 'p50 ms', 'p99 ms', 'max ms', 'loss %', 'broker cores', 'µs/msg', 'RSS MB', 'KB/conn', 'lag p99', 'sim cores', 'slip p99', 'other cores', 'out x', 'p99 x', 'µs/msg x', 'KB/conn x'],
      rows,
    ),
  ].join('\n');
}

export function table(header: string[], rows: Row[]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (c === undefined ? '' : String(c))))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

export function ms(v: number): string {
  if (!Number.isFinite(v)) return '-';
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

export function pct(v: number): string {
  return Number.isFinite(v) ? (v === 0 ? '0' : v < 0.01 ? v.toFixed(4) : v.toFixed(2)) : '-';
}

export function mb(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(0);
}

/** Writes the result to fleet-latest.json; returns its path. */
export function writeResults(outDir: string, result: FleetResult): string {
  return writeLatest(outDir, 'fleet-latest.json', result);
}

/** Writes `result` as JSON to outDir/name (atomically: a reader never sees half a file); returns its path. */
export function writeLatest(outDir: string, name: string, result: unknown): string {
  mkdirSync(outDir, { recursive: true });
  // NaN (an empty histogram) has no JSON form: it is written as null.
  const text = typeof result === 'string' ? result : JSON.stringify(result, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n';
  const latest = join(outDir, name);
  const tmp = `${latest}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, latest);
  return latest;
}
