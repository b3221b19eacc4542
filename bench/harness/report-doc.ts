/**
 * A benchmark run as a document: what `--html` reports are made of. `json-report.ts` builds one
 * from any run's JSON, `html-report.ts` turns it into a self-contained page.
 */

export type ReportCell = string | number | boolean | null;

export interface ReportTable {
  caption: string;
  header: string[];
  rows: ReportCell[][];
}

/** A line chart: y values against a shared x (time, index), one line per series. */
export interface ReportChart {
  title: string;
  xLabel: string;
  x: number[];
  series: { label: string; values: (number | null)[] }[];
}

export interface ReportSection {
  heading: string;
  /** Free text: notes, errors, descriptions. */
  paragraphs: string[];
  tables: ReportTable[];
  charts: ReportChart[];
}

export interface ReportDoc {
  title: string;
  /** Where the figures come from (the JSON file's name). */
  source: string;
  /** When, on what, under which load: label → value. */
  environment: [string, string][];
  sections: ReportSection[];
  /** SVG charts the benchmark rendered itself, inlined as they are. */
  figures: { caption: string; svg: string }[];
}

/** A number as people read it in a table: grouped integers, four significant digits otherwise. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  return String(Number(value.toPrecision(4)));
}

export function formatCell(cell: ReportCell): string {
  if (cell === null) return '';
  return typeof cell === 'number' ? formatNumber(cell) : String(cell);
}

/** A table as aligned text for the terminal: text columns left, numbers right. */
export function formatTextTable(table: ReportTable): string {
  const cells = [table.header, ...table.rows.map((row) => row.map(formatCell))];
  const widths = table.header.map((_, i) => Math.max(...cells.map((row) => [...(row[i] ?? '')].length)));
  const numeric = table.header.map((_, i) => table.rows.length > 0 && table.rows.every((row) => typeof row[i] === 'number' || row[i] === null));
  const line = (row: string[]) => row.map((cell, i) => (numeric[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd();
  return [table.caption, line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}
