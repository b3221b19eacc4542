/**
 * The vehicle run as an SVG: p50 and p99 end to end per phase and flow against the 100 ms goal,
 * and the capacity model's predicted broker cores beside the measured ones. Hand-written SVG.
 */
import type { PhaseResult } from '../fleet/results.js';
import type { VehicleResult } from './results.js';

const W = 900;
const ROW_H = 16;
const LABEL_W = 330;
const COLORS = { p50: '#9ecae1', p99: '#3182bd', goal: '#d62728', measured: '#3182bd', predicted: '#f28e2b' };

export function renderChart(r: VehicleResult): string {
  const goalMs = Number(r.options['p99Ms'] ?? 100);
  const bars: { label: string; p50: number; p99: number }[] = [];
  for (const p of r.phases) {
    if (!p.phase) continue;
    for (const [name, f] of flows(p.phase)) {
      if (f.latencyMs.count === 0) continue;
      bars.push({ label: `${p.label} · ${name}`, p50: f.latencyMs.p50, p99: f.latencyMs.p99 });
    }
  }
  const checks = r.model?.checks ?? [];
  const latencyH = 50 + bars.length * ROW_H;
  const coresH = checks.length > 0 ? 60 + checks.length * 2 * ROW_H : 0;
  const height = 40 + latencyH + coresH;
  const maxMs = Math.max(goalMs * 1.5, ...bars.map((b) => b.p99).filter(Number.isFinite));
  const plotW = W - LABEL_W - 60;
  const x = (v: number): number => LABEL_W + (Math.min(v, maxMs) / maxMs) * plotW;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="sans-serif" font-size="11">`,
    '<rect width="100%" height="100%" fill="white"/>',
    `<text x="10" y="20" font-size="14" font-weight="bold">relaymesh connected vehicles — ${esc(r.startedAt)} (${r.machine.cpus} cores, load average ${(r.loadDuring?.mean ?? r.machine.loadAverage.atStart).toFixed(1)})</text>`,
    `<text x="10" y="40" font-weight="bold">end to end latency, ms: p50 (light) and p99 (dark); red line: the ${goalMs} ms goal</text>`,
  ];
  bars.forEach((b, i) => {
    const y = 50 + i * ROW_H;
    parts.push(
      `<text x="${LABEL_W - 6}" y="${y + 11}" text-anchor="end">${esc(b.label)}</text>`,
      `<rect x="${LABEL_W}" y="${y + 2}" width="${(x(b.p99) - LABEL_W).toFixed(1)}" height="${ROW_H - 4}" fill="${COLORS.p99}"><title>p99 ${b.p99.toFixed(1)} ms</title></rect>`,
      `<rect x="${LABEL_W}" y="${y + 2}" width="${(x(b.p50) - LABEL_W).toFixed(1)}" height="${ROW_H - 4}" fill="${COLORS.p50}"><title>p50 ${b.p50.toFixed(1)} ms</title></rect>`,
      `<text x="${(x(b.p99) + 4).toFixed(1)}" y="${y + 11}">${b.p99 > maxMs ? '> ' : ''}${b.p99.toFixed(0)}</text>`,
    );
  });
  parts.push(`<line x1="${x(goalMs)}" y1="46" x2="${x(goalMs)}" y2="${latencyH}" stroke="${COLORS.goal}" stroke-width="1.5"/>`);
  if (checks.length > 0) {
    const top = 40 + latencyH;
    const maxCores = Math.max(0.01, ...checks.flatMap((c) => [c.measuredCores, c.predictedCores]).filter(Number.isFinite));
    parts.push(`<text x="10" y="${top + 10}" font-weight="bold">capacity model check: broker cores measured (blue) and predicted (orange; sizes in the fit predicted by a fit without them)</text>`);
    checks.forEach((c, i) => {
      const y = top + 20 + i * 2 * ROW_H;
      const w = (v: number): string => ((v / maxCores) * plotW).toFixed(1);
      parts.push(
        `<text x="${LABEL_W - 6}" y="${y + 18}" text-anchor="end">${esc(c.label)}: ${c.vehicles} vehicles</text>`,
        `<rect x="${LABEL_W}" y="${y + 2}" width="${w(c.measuredCores)}" height="${ROW_H - 3}" fill="${COLORS.measured}"/>`,
        `<text x="${LABEL_W + Number(w(c.measuredCores)) + 4}" y="${y + 12}">${c.measuredCores.toFixed(3)}</text>`,
      );
      // A size whose removal leaves too few sizes for a fit has no held-out prediction.
      if (Number.isFinite(c.predictedCores)) {
        parts.push(
          `<rect x="${LABEL_W}" y="${y + ROW_H + 1}" width="${w(c.predictedCores)}" height="${ROW_H - 3}" fill="${COLORS.predicted}"/>`,
          `<text x="${LABEL_W + Number(w(c.predictedCores)) + 4}" y="${y + ROW_H + 11}">${c.predictedCores.toFixed(3)}</text>`,
        );
      }
    });
  }
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

function flows(p: PhaseResult) {
  return [
    ['telemetry', p.telemetry],
    ['command', p.commands],
    ['command ack', p.commandAcks],
    ['broadcast', p.broadcast],
  ] as const;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
