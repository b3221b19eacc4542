/** The vehicle bench's tables on the terminal. */
import { fmtRate } from '../fleet/progress.js';
import { capacityTable, mb, ms, pct, table, usPerMessage, worstLoss, type Row } from '../fleet/report.js';
import type { Flow, PhaseResult } from '../fleet/results.js';
import type { CapacityPlan } from './capacity-model.js';
import type { VehiclePhase, VehicleResult } from './results.js';

export function renderVehicleTables(r: VehicleResult): string {
  const out: string[] = [];
  const load = r.loadDuring;
  out.push(
    `${r.startedAt}, ${r.durationS.toFixed(0)} s, ${r.machine.cpus} cores; load average (1 min) at start ${r.machine.loadAverage.atStart.toFixed(2)}, ` +
      (load ? `during the run mean ${load.mean.toFixed(2)}, min ${load.min.toFixed(2)}, max ${load.max.toFixed(2)} (every ${load.everyS} s), ` : '') +
      `at end ${r.machine.loadAverage.atEnd.toFixed(2)}`,
    '',
  );
  const ran = r.phases.filter((p): p is VehiclePhase & { phase: PhaseResult } => p.phase !== undefined);
  if (ran.length > 0) {
    out.push('end to end, per flow (ms; loss counts only what was sent while the receiver was in session)', latencyTable(ran));
    out.push('', 'load, sessions and broker resources', resourceTable(ran));
  }
  for (const p of r.phases.filter((x) => x.skipped)) out.push(`${p.label}: skipped: ${p.skipped}`);
  const direct = ran.find((p) => p.broker === 'relaymesh' && p.client === 'raw' && p.network === 'none');
  const emulated = ran.find((p) => p.broker === 'relaymesh' && p.client === 'raw' && p.network === r.networks.main.name);
  if (direct && emulated) out.push('', networkShare(direct.phase, emulated.phase, r.networks.main.name));
  if (r.capacity) out.push('', capacityTable(`largest fleet (network ${r.networks.main.name})`, r.capacity));
  if (r.model) out.push('', modelText(r.model));
  if (r.notes.length > 0) out.push('', ...r.notes.map((n) => `note: ${n}`));
  if (r.errors.length > 0) out.push('', ...r.errors.map((e) => `error: ${e.split('\n')[0]}`));
  return out.join('\n');
}

const FLOWS = [
  ['telemetry', (p: PhaseResult) => p.telemetry],
  ['command', (p: PhaseResult) => p.commands],
  ['command ack (round trip)', (p: PhaseResult) => p.commandAcks],
  ['broadcast', (p: PhaseResult) => p.broadcast],
] as const;

function latencyTable(phases: { label: string; phase: PhaseResult }[]): string {
  const rows: Row[] = [];
  for (const { label, phase } of phases) {
    for (const [name, pick] of FLOWS) {
      const f: Flow = pick(phase);
      if (f.sent === 0 && f.received === 0) continue;
      rows.push([label, name, f.sent, f.expected, f.received, pct(f.lossPct), ms(f.latencyMs.p50), ms(f.latencyMs.p95), ms(f.latencyMs.p99), ms(f.latencyMs.max)]);
    }
  }
  return table(['phase', 'flow', 'sent', 'expected', 'received', 'loss %', 'p50', 'p95', 'p99', 'max'], rows);
}

function resourceTable(phases: { label: string; phase: PhaseResult }[]): string {
  const rows: Row[] = phases.map(({ label, phase: p }) => {
    const handled = p.messagesInPerSecond + p.messagesOutPerSecond;
    return [
      label,
      p.devices,
      p.held,
      fmtRate(p.messagesInPerSecond),
      fmtRate(p.messagesOutPerSecond),
      pct(worstLoss(p)),
      p.reconnects.count,
      p.reconnects.drives,
      p.reconnects.outages,
      p.excusedDeliveries,
      p.brokerUse.cpuCores.toFixed(2),
      usPerMessage(p),
      p.brokerUse.cpuCores > 0 ? fmtRate(handled / p.brokerUse.cpuCores) : '-',
      (p.brokerUse.rssPerConnectionBytes / 1024).toFixed(1),
      mb(p.brokerUse.rssBytes),
      p.brokerUse.lagMs ? ms(p.brokerUse.lagMs.p99Ms) : 'n/a',
      p.simulator.cpuCores.toFixed(2),
      ms(p.simulator.sendSlipP99Ms),
      p.otherCores.toFixed(2),
    ];
  });
  return table(
    ['phase', 'vehicles', 'held', 'in msg/s', 'out msg/s', 'loss %', 'reconn', 'drives', 'outages', 'excused', 'broker cores', 'µs/msg', 'msg/s/core', 'KB/vehicle', 'RSS MB', 'lag p99', 'sim cores', 'slip p99', 'other cores'],
    rows,
  );
}

/** The broker's share: the same fleet without and with the emulated network. */
function networkShare(direct: PhaseResult, emulated: PhaseResult, network: string): string {
  const line = (name: string, a: Flow, b: Flow): string =>
    `  ${name.padEnd(10)} p50 ${ms(a.latencyMs.p50)} -> ${ms(b.latencyMs.p50)} ms, p99 ${ms(a.latencyMs.p99)} -> ${ms(b.latencyMs.p99)} ms`;
  return [
    `latency without -> with the emulated network (${network}); the first figure is the broker and the clients alone:`,
    line('telemetry', direct.telemetry, emulated.telemetry),
    line('command', direct.commands, emulated.commands),
    line('broadcast', direct.broadcast, emulated.broadcast),
  ].join('\n');
}

function modelText(m: CapacityPlan): string {
  const f = m.fit;
  const plan = table(
    ['vehicles', 'records/s each', 'msgs/s handled', 'broker cores', 'procs (CPU)', 'procs (files)', 'processes', 'vehicles/proc', `nodes (${m.nodeCores} cores)`, 'RSS GiB', 'forwards/s', '+cores if telemetry crosses'],
    m.rows.map((r) => [
      r.vehicles.toLocaleString('en-US'),
      r.ratePerVehicle,
      fmtRate(r.messagesPerSecond),
      r.brokerCores.toFixed(1),
      r.processesByCpu,
      r.processesByFiles,
      r.processes,
      r.vehiclesPerProcess,
      r.nodes,
      r.memoryGiB.toFixed(1),
      fmtRate(r.forwardsPerSecond),
      r.extraCoresIfTelemetryCrosses.toFixed(1),
    ]),
  );
  const check = table(
    ['fleet measured', 'vehicles', 'criteria', 'msgs/s handled', 'measured cores', 'fitted (all sizes)', 'predicted (held out)', 'error %'],
    m.checks.map((c) => [
      c.label,
      c.vehicles,
      c.pass ? 'pass' : 'FAIL',
      fmtRate(c.messagesPerSecond),
      c.measuredCores.toFixed(3),
      c.fittedCores.toFixed(3),
      Number.isFinite(c.predictedCores) ? c.predictedCores.toFixed(3) : '-',
      Number.isFinite(c.errorPct) ? c.errorPct.toFixed(0) : '-',
    ]),
  );
  return [
    `capacity model: broker cores = ${f.fixedCores.toFixed(3)} + vehicles × ${f.usPerVehicleSecond.toFixed(2)} µs/s + msgs/s × ${f.usPerMessage.toFixed(2)} µs ` +
      `(fitted at ${f.sizes.length} fleet sizes); RSS = ${(f.baseRssBytes / 2 ** 20).toFixed(0)} MB + ${(f.rssPerVehicleBytes / 1024).toFixed(1)} KB per vehicle`,
    plan,
    '',
    'model check, predicted vs measured broker cores: sizes in the fit predicted by a fit without that size; the fixed phases (own broker, drives) by the full fit',
    check,
    '',
    'assumptions:',
    ...m.assumptions.map((a) => `  - ${a}`),
  ].join('\n');
}
