/**
 * A benchmark report as one self-contained HTML file: inline CSS, charts as inline SVG, no
 * script and nothing fetched, so it opens anywhere (also in a sandboxed frame of the broker's
 * dashboard) and prints. Tables scroll sideways on a phone instead of widening the page.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { jsonReportDoc } from './json-report.js';
import { formatCell, formatNumber, type ReportChart, type ReportDoc, type ReportSection, type ReportTable } from './report-doc.js';

const COLOURS = ['#1f6feb', '#cf222e', '#2da44e', '#bf8700', '#8250df', '#0a7ea4'];

const CSS = `
:root { color-scheme: light; font-family: system-ui, sans-serif; line-height: 1.4; }
body { margin: 0 auto; padding: 0 1rem 2rem; max-width: 1200px; }
header { border-bottom: 1px solid #ddd; margin-bottom: 1rem; }
h1 { font-size: 1.5rem; margin: .8rem 0 .2rem; }
h2 { font-size: 1.15rem; margin-top: 1.6rem; border-bottom: 1px solid #eee; }
.source { color: #555; margin: 0 0 .6rem; }
nav ol { columns: 2 14rem; padding-left: 1.2rem; }
.scroll { overflow-x: auto; max-width: 100%; margin: .6rem 0; }
table { border-collapse: collapse; font-size: .9rem; }
caption { text-align: left; font-weight: 600; padding: .3rem 0; }
/* A caption that repeats its section's heading is kept for screen readers only. */
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
th, td { border-bottom: 1px solid #eee; padding: .2rem .6rem; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
th { background: #f6f8fa; position: sticky; top: 0; }
figure { margin: 1rem 0; }
figcaption { font-weight: 600; margin-bottom: .3rem; }
svg { max-width: 100%; height: auto; }
.legend span { display: inline-block; margin-right: 1rem; }
.legend i { display: inline-block; width: .8rem; height: .8rem; margin-right: .3rem; vertical-align: -1px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; margin: .4rem 0 1rem; }
dt { color: #555; }
dd { margin: 0; overflow-wrap: anywhere; }
@media (max-width: 600px) { dl { grid-template-columns: 1fr; } dd { margin-bottom: .3rem; } }
`;

export function renderHtmlReport(doc: ReportDoc): string {
  const sections = doc.sections.map((s, i) => ({ id: `s${i + 1}`, section: s }));
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(doc.title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>${esc(doc.title)}</h1>
<p class="source">from ${esc(doc.source)}</p>
</header>
<main>
${doc.environment.length > 0 ? `<section aria-labelledby="env"><h2 id="env">Environment</h2><dl>${doc.environment.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl></section>` : ''}
${sections.length > 1 ? `<nav aria-label="Sections"><ol>${sections.map(({ id, section }) => `<li><a href="#${id}">${esc(section.heading)}</a></li>`).join('')}</ol></nav>` : ''}
${doc.figures.map((f) => `<figure><figcaption>${esc(f.caption)}</figcaption><div class="scroll">${f.svg}</div></figure>`).join('\n')}
${sections.map(({ id, section }) => renderSection(id, section)).join('\n')}
</main>
</body>
</html>
`;
}

/**
 * Writes the report of the run in `jsonPath` next to it (same name, `.html`), with the SVG
 * chart the benchmark wrote beside it when there is one; returns the HTML file's path.
 */
export function writeHtmlReport(jsonPath: string, options: { svgPath?: string } = {}): string {
  const doc = jsonReportDoc(titleOf(basename(jsonPath).replace(/\.json$/, '')), JSON.parse(readFileSync(jsonPath, 'utf8')), basename(jsonPath));
  const svgPath = options.svgPath ?? jsonPath.replace(/\.json$/, '.svg');
  if (existsSync(svgPath)) doc.figures.push({ caption: `chart (${basename(svgPath)})`, svg: readFileSync(svgPath, 'utf8').replace(/<\?xml[^>]*>/, '') });
  const htmlPath = jsonPath.replace(/\.json$/, '') + '.html';
  writeFileSync(htmlPath, renderHtmlReport(doc));
  return htmlPath;
}

/** What each benchmark's files are called (`fanout-latest.json`, `fanout-<time>.json`...) → the report's title. */
const TITLES: Record<string, string> = {
  fanout: 'relaymesh fan-out benchmark',
  fleet: 'relaymesh fleet benchmark',
  vehicles: 'relaymesh connected-vehicles benchmark',
  cluster: 'relaymesh cluster benchmark',
  dashboard: 'relaymesh dashboard with a large fleet connected',
  'etcd-directory': 'relaymesh: device directory in etcd or on home nodes',
  startup: 'relaymesh CLI start-up',
  'store-append': 'relaymesh LMDB store appends',
  fuzz: 'relaymesh fuzz campaign',
};

function titleOf(name: string): string {
  const bench = Object.keys(TITLES).find((b) => name === b || name.startsWith(`${b}-`));
  return bench ? `${TITLES[bench]} (${name})` : `relaymesh benchmark: ${name}`;
}

function renderSection(id: string, section: ReportSection): string {
  return [
    `<section aria-labelledby="${id}"><h2 id="${id}">${esc(section.heading)}</h2>`,
    ...section.paragraphs.map((p) => `<p>${esc(p)}</p>`),
    ...section.charts.map(renderChart),
    ...section.tables.map((table) => renderTable(table, table.caption === section.heading)),
    '</section>',
  ].join('\n');
}

function renderTable(table: ReportTable, captionRepeatsHeading: boolean): string {
  const head = `<thead><tr>${table.header.map((h) => `<th scope="col">${esc(h)}</th>`).join('')}</tr></thead>`;
  const body = table.rows.map((row) => `<tr>${row.map((cell) => `<td${typeof cell === 'number' ? ' class="n"' : ''}>${esc(formatCell(cell))}</td>`).join('')}</tr>`).join('\n');
  return `<div class="scroll"><table><caption${captionRepeatsHeading ? ' class="sr"' : ''}>${esc(table.caption)}</caption>${head}<tbody>${body}</tbody></table></div>`;
}

const CHART = { width: 720, height: 260, left: 64, right: 16, top: 12, bottom: 36 };

/** A line chart as SVG with a viewBox, so it shrinks to the screen; values are listed in the tables next to it. */
function renderChart(chart: ReportChart): string {
  const { width, height, left, right, top, bottom } = CHART;
  const values = chart.series.flatMap((s) => s.values).filter((v): v is number => v !== null && Number.isFinite(v));
  if (values.length === 0 || chart.x.length < 2) return '';
  const [x0, x1] = [Math.min(...chart.x), Math.max(...chart.x)];
  const yMax = niceCeil(Math.max(...values, 0));
  const yMin = Math.min(0, ...values);
  const px = (x: number) => left + ((x - x0) / (x1 - x0 || 1)) * (width - left - right);
  const py = (y: number) => top + (1 - (y - yMin) / (yMax - yMin || 1)) * (height - top - bottom);
  const parts: string[] = [];
  for (let i = 0; i <= 4; i++) {
    const y = yMin + ((yMax - yMin) * i) / 4;
    parts.push(`<line x1="${left}" x2="${width - right}" y1="${py(y).toFixed(1)}" y2="${py(y).toFixed(1)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${left - 6}" y="${(py(y) + 4).toFixed(1)}" text-anchor="end">${esc(formatNumber(y))}</text>`);
  }
  for (const x of [x0, (x0 + x1) / 2, x1]) parts.push(`<text x="${px(x).toFixed(1)}" y="${height - bottom + 16}" text-anchor="middle">${esc(formatNumber(x))}</text>`);
  parts.push(`<text x="${(left + width - right) / 2}" y="${height - 4}" text-anchor="middle">${esc(chart.xLabel)}</text>`);
  chart.series.forEach((s, i) => {
    const points = s.values.map((v, j) => (v === null || !Number.isFinite(v) ? null : `${px(chart.x[j]!).toFixed(1)},${py(v).toFixed(1)}`));
    // A gap in the data breaks the line instead of bridging it.
    const runs = points.reduce<string[][]>((acc, p) => (p === null ? (acc.at(-1)!.length > 0 ? [...acc, []] : acc) : (acc.at(-1)!.push(p), acc)), [[]]);
    for (const run of runs.filter((r) => r.length > 0)) {
      parts.push(`<polyline fill="none" stroke="${COLOURS[i % COLOURS.length]}" stroke-width="2" points="${run.join(' ')}"><title>${esc(s.label)}</title></polyline>`);
    }
  });
  const legend = chart.series.map((s, i) => `<span><i style="background:${COLOURS[i % COLOURS.length]}"></i>${esc(s.label)}</span>`).join('');
  return `<figure><figcaption>${esc(chart.title)}</figcaption><svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" font-size="11" role="img" aria-label="${esc(chart.title)}">${parts.join('')}</svg><div class="legend">${legend}</div></figure>`;
}

function niceCeil(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The `--html` flag every benchmark takes (parseArgs form), and its usage line. */
export const HTML_FLAG = { html: { type: 'boolean' } } as const;
export const HTML_USAGE = '  --html                  also write a self-contained HTML report next to the JSON (same name, .html)';

/** For benchmarks that read their arguments by hand: whether `--html` was given, and the others. */
export function takeHtmlFlag(args: string[]): { html: boolean; rest: string[] } {
  return { html: args.includes('--html'), rest: args.filter((a) => a !== '--html') };
}
