import type { BenchResult, Measurement } from './results.js';

/**
 * The run as an SVG: a row per pattern, three panels per row (deliveries/s, server CPU per
 * delivery, p99 latency), each grouping bars by fleet size with a bar per topology.
 * Hand-written SVG text: no dependency, opens in any browser.
 */
const PANEL_W = 420;
const PANEL_H = 260;
const MARGIN = { left: 64, right: 12, top: 34, bottom: 40 };
const COLORS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac', '#1f77b4', '#17becf'];

interface Panel {
  title: string;
  value: (m: Measurement) => number;
  log: boolean;
  format: (v: number) => string;
}

const PANELS: Panel[] = [
  { title: 'deliveries/s (higher is better)', value: (m) => m.deliveriesPerSec, log: false, format: compact },
  { title: 'server CPU µs per delivery (log, lower is better)', value: (m) => m.serverCpuUsPerDelivery, log: true, format: (v) => `${trim(v)} µs` },
  { title: 'p99 publish→receive latency (log, lower is better)', value: (m) => m.latencyUs.p99, log: true, format: (v) => (v >= 1e6 ? `${trim(v / 1e6)} s` : v >= 1000 ? `${trim(v / 1000)} ms` : `${trim(v)} µs`) },
];

export function renderChart(result: BenchResult): string {
  const topologies = [...new Set(result.cells.map((c) => c.topology))];
  const sizes = [...new Set(result.cells.map((c) => c.fleetSize))];
  const measurements = result.cells.flatMap((c) => c.measurements);
  const patterns = [...new Set(measurements.map((m) => m.pattern))];
  const legendH = 24 + Math.ceil(topologies.length / 5) * 18;
  const width = PANEL_W * PANELS.length;
  const height = 40 + legendH + PANEL_H * patterns.length;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="12" y="22" font-size="15" font-weight="bold">relaymesh fan-out topologies — ${esc(result.startedAt)} (${result.machine.cpus} cores, Node ${esc(result.machine.node)})</text>`,
  ];
  topologies.forEach((t, i) => {
    const x = 12 + (i % 5) * 160;
    const y = 40 + Math.floor(i / 5) * 18;
    parts.push(`<rect x="${x}" y="${y}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/><text x="${x + 16}" y="${y + 10}">${esc(t)}</text>`);
  });
  patterns.forEach((pattern, row) => {
    PANELS.forEach((panel, col) => {
      const ms = measurements.filter((m) => m.pattern === pattern);
      parts.push(renderPanel(panel, `${pattern}: ${panel.title}`, ms, sizes, topologies, col * PANEL_W, 40 + legendH + row * PANEL_H));
    });
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

function renderPanel(panel: Panel, title: string, ms: Measurement[], sizes: number[], topologies: string[], x0: number, y0: number): string {
  const plotW = PANEL_W - MARGIN.left - MARGIN.right;
  const plotH = PANEL_H - MARGIN.top - MARGIN.bottom;
  const left = x0 + MARGIN.left;
  const bottom = y0 + MARGIN.top + plotH;
  const values = ms.map(panel.value).filter((v) => Number.isFinite(v) && v > 0);
  const out: string[] = [`<text x="${x0 + 8}" y="${y0 + 18}" font-weight="bold">${esc(title)}</text>`];
  if (values.length === 0) return out.join('\n');
  const max = Math.max(...values);
  const min = Math.min(...values);
  const lo = panel.log ? 10 ** Math.floor(Math.log10(min)) : 0;
  const hi = panel.log ? 10 ** Math.ceil(Math.log10(max)) : niceCeil(max);
  const scale = (v: number): number =>
    panel.log ? ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo) || 1)) * plotH : (v / hi) * plotH;
  const ticks = panel.log
    ? Array.from({ length: Math.round(Math.log10(hi / lo)) + 1 }, (_, i) => lo * 10 ** i)
    : Array.from({ length: 5 }, (_, i) => (hi / 4) * i);
  for (const t of ticks) {
    const y = bottom - scale(t);
    out.push(`<line x1="${left}" y1="${y}" x2="${left + plotW}" y2="${y}" stroke="#ddd"/><text x="${left - 4}" y="${y + 4}" text-anchor="end">${esc(panel.format(t))}</text>`);
  }
  out.push(`<line x1="${left}" y1="${bottom}" x2="${left + plotW}" y2="${bottom}" stroke="#333"/>`);
  const groupW = plotW / sizes.length;
  const barW = Math.max(2, (groupW * 0.85) / topologies.length);
  sizes.forEach((size, g) => {
    const gx = left + g * groupW + groupW * 0.075;
    out.push(`<text x="${left + g * groupW + groupW / 2}" y="${bottom + 16}" text-anchor="middle">${size.toLocaleString('en-US')} subscribers</text>`);
    topologies.forEach((topology, i) => {
      const m = ms.find((x) => x.fleetSize === size && x.topology === topology);
      const v = m ? panel.value(m) : NaN;
      if (!Number.isFinite(v) || v <= 0) return;
      const h = Math.max(1, scale(v));
      const x = gx + i * barW;
      const note = m && !m.complete ? ` (${m.dropped} dropped)` : '';
      out.push(
        `<rect x="${x.toFixed(1)}" y="${(bottom - h).toFixed(1)}" width="${(barW - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[i % COLORS.length]}"` +
          `${m && !m.complete ? ' fill-opacity="0.5" stroke="#900"' : ''}><title>${esc(`${topology} @ ${size}: ${panel.format(v)}${note}`)}</title></rect>`,
      );
    });
  });
  return out.join('\n');
}

function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function compact(v: number): string {
  if (v >= 1e6) return `${trim(v / 1e6)}M`;
  if (v >= 1e3) return `${trim(v / 1e3)}k`;
  return trim(v);
}

function trim(v: number): string {
  return Number(v.toPrecision(3)).toString();
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
