/**
 * Any benchmark run's JSON as a report document, with no per-benchmark code: the run's when and
 * where become the environment, plain values a summary, lists of records tables (nested records
 * flattened into dotted columns, nested lists into tables of their own), lists of text
 * paragraphs, and records over time (a `t`-like column) or long lists of numbers line charts.
 */
import type { ReportCell, ReportChart, ReportDoc, ReportSection, ReportTable } from './report-doc.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/** Keys that say when, on what and under which load a run was made. */
const ENVIRONMENT_KEYS = new Set(['startedAt', 'at', 'date', 'durationS', 'machine', 'source', 'node', 'cores', 'cpus', 'loadavg', 'loadAverage']);
/** Columns that make a list of records a series over time (when they increase from record to record). */
const TIME_KEYS = ['t', 'tS', 'atS', 'timeS', 'second', 'seconds', 'elapsedS'];
/** Columns that name a record (used to label nested tables). */
const LABEL_KEYS = ['name', 'label', 'scenario', 'topology', 'view', 'broker', 'phase', 'pattern'];
const MAX_ROWS = 500;
const MAX_LIST = 12;
const FLATTEN_DEPTH = 3;

export function jsonReportDoc(title: string, run: unknown, source: string): ReportDoc {
  const root = (isObject(run as Json) ? run : { result: run }) as JsonObject;
  const environment: [string, string][] = [];
  const summary: [string, ReportCell][] = [];
  const sections: ReportSection[] = [];
  for (const [key, value] of Object.entries(root)) {
    if (ENVIRONMENT_KEYS.has(key)) {
      for (const [k, v] of flatten(value, key)) environment.push([humanize(k), cellText(v)]);
    } else {
      collect(key, value, summary, sections);
    }
  }
  if (summary.length > 0) sections.unshift(section('summary', { tables: [keyValueTable('summary', summary)] }));
  return { title, source, environment, sections, figures: [] };
}

/** Places `value` (found at `path`): plain values in `summary`, everything else in sections of its own. */
function collect(path: string, value: Json, summary: [string, ReportCell][], sections: ReportSection[]): void {
  const heading = humanize(path);
  if (!isObject(value) && !Array.isArray(value)) {
    summary.push([heading, value]);
    return;
  }
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v === 'string') && value.length > 0) {
      sections.push(section(heading, { paragraphs: value as string[] }));
    } else if (value.length > 0 && value.every(isObject)) {
      sections.push(section(heading, recordsContent(heading, value as JsonObject[])));
    } else if (value.length > 0 && value.every((v) => typeof v === 'number') && value.length >= MAX_LIST) {
      sections.push(section(heading, { charts: [{ title: heading, xLabel: 'index', x: value.map((_, i) => i), series: [{ label: heading, values: value as number[] }] }] }));
    } else {
      summary.push([heading, listText(value)]);
    }
    return;
  }
  const plain = Object.entries(value).filter(([, v]) => !hasRecords(v));
  const nested = Object.entries(value).filter(([, v]) => hasRecords(v));
  if (plain.length > 0) {
    const rows = plain.flatMap(([k, v]) => flatten(v, k).map(([name, cell]) => [humanize(name), cell] as [string, ReportCell]));
    sections.push(section(heading, { tables: [keyValueTable(heading, rows)] }));
  }
  for (const [k, v] of nested) collect(`${path}.${k}`, v, summary, sections);
}

/** A list of records: one table, a table per nested list of records, and a chart when it runs over time. */
function recordsContent(heading: string, records: JsonObject[]): Partial<ReportSection> {
  const tables: ReportTable[] = [];
  const rows = records.slice(0, MAX_ROWS).map((record, i) => ({ label: labelOf(record, i), cells: new Map(flatten(record, '')) }));
  const columns = [...new Set(rows.flatMap((r) => [...r.cells.keys()]))];
  tables.push({
    caption: heading + (records.length > MAX_ROWS ? ` (first ${MAX_ROWS} of ${records.length})` : ''),
    header: columns.map(humanize),
    rows: rows.map((r) => columns.map((c) => r.cells.get(c) ?? null)),
  });
  const childKeys = [...new Set(records.flatMap((r) => Object.entries(r).filter(([, v]) => Array.isArray(v) && v.length > 0 && v.every(isObject)).map(([k]) => k)))];
  for (const key of childKeys) {
    const children = records.flatMap((r, i) => ((r[key] as JsonObject[] | undefined) ?? []).map((child) => ({ parent: labelOf(r, i), cells: new Map(flatten(child, '')) })));
    const childColumns = [...new Set(children.flatMap((c) => [...c.cells.keys()]))];
    tables.push({
      caption: `${heading}: ${humanize(key)}`,
      header: [humanize(LABEL_KEYS.find((k) => records.some((r) => typeof r[k] === 'string')) ?? '#'), ...childColumns.map(humanize)],
      rows: children.slice(0, MAX_ROWS).map((c) => [c.parent, ...childColumns.map((k) => c.cells.get(k) ?? null)]),
    });
  }
  const chart = timeChart(heading, records);
  return { tables, charts: chart ? [chart] : [] };
}

/** Records with a time column and at least three points: every other numeric column against it. */
function timeChart(heading: string, records: JsonObject[]): ReportChart | undefined {
  const timeKey = TIME_KEYS.find((k) => records.every((r, i) => typeof r[k] === 'number' && (i === 0 || (r[k] as number) > (records[i - 1]![k] as number))));
  if (!timeKey || records.length < 3) return undefined;
  const numeric = Object.keys(records[0]!).filter((k) => k !== timeKey && records.every((r) => typeof r[k] === 'number' || r[k] === null));
  if (numeric.length === 0) return undefined;
  return {
    title: heading,
    xLabel: humanize(timeKey),
    x: records.map((r) => r[timeKey] as number),
    series: numeric.map((k) => ({ label: humanize(k), values: records.map((r) => r[k] as number | null) })),
  };
}

/** Plain values under `value` as (dotted path, cell) pairs; records nest up to FLATTEN_DEPTH, lists of records are left out. */
function flatten(value: Json, path: string, depth = 0): [string, ReportCell][] {
  if (isObject(value) && depth < FLATTEN_DEPTH) {
    return Object.entries(value).flatMap(([k, v]) => flatten(v, path ? `${path}.${k}` : k, depth + 1));
  }
  if (Array.isArray(value)) {
    if (value.length > 0 && value.every(isObject)) return [];
    return [[path, listText(value)]];
  }
  if (isObject(value)) return [[path, JSON.stringify(value)]];
  return [[path, value]];
}

function hasRecords(value: Json): boolean {
  if (Array.isArray(value)) return value.length > 0 && (value.every(isObject) || (value.every((v) => typeof v === 'string') && value.some((v) => (v as string).length > 60)));
  return isObject(value) && Object.values(value).some((v) => isObject(v) || hasRecords(v));
}

function labelOf(record: JsonObject, index: number): string {
  const key = LABEL_KEYS.find((k) => typeof record[k] === 'string');
  return key ? (record[key] as string) : String(index + 1);
}

function listText(list: Json[]): string {
  const shown = list.slice(0, MAX_LIST).map((v) => (typeof v === 'number' ? String(Number(v.toPrecision(4))) : typeof v === 'string' ? v : JSON.stringify(v)));
  return list.length > MAX_LIST ? `${shown.join(', ')}, … (${list.length})` : shown.join(', ');
}

function keyValueTable(caption: string, rows: [string, ReportCell][]): ReportTable {
  return { caption, header: ['', 'value'], rows };
}

function section(heading: string, content: Partial<ReportSection>): ReportSection {
  return { heading, paragraphs: [], tables: [], charts: [], ...content };
}

function cellText(cell: ReportCell): string {
  return cell === null ? '' : typeof cell === 'number' ? String(Number(cell.toPrecision(6))) : String(cell);
}

/** `loadAverage.atStart` → `load average at start`. */
function humanize(path: string): string {
  return path
    .split('.')
    .map((part) => part.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2').toLowerCase())
    .join(' › ');
}

function isObject(value: Json): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
