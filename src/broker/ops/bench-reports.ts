import { existsSync } from 'node:fs';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** A report file of `relaymesh bench … --html`. */
export interface BenchReportEntry {
  name: string;
  bytes: number;
  /** ISO time of its last change. */
  modifiedAt: string;
}

/** Plain file names only: no separator, no leading dot, so nothing outside the directory can be named. */
const REPORT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}\.html$/;
/** Reports are a few hundred KB; anything far bigger is not one. */
const MAX_REPORT_BYTES = 32 * 1024 * 1024;

/** The configured directory, or ./bench/results when the broker runs from a checkout that has one. */
export function benchReportsDir(configured: string | undefined): string | undefined {
  if (configured !== undefined) return resolve(configured);
  const fallback = resolve('bench/results');
  return existsSync(fallback) ? fallback : undefined;
}

export function isReportName(name: string): boolean {
  return REPORT_NAME.test(name) && !name.includes('..');
}

/**
 * The benchmark reports the dashboard can open: the HTML files directly in one directory,
 * newest first. Symbolic links and subdirectories are not followed.
 */
export class BenchReports {
  constructor(readonly dir: string | undefined) {}

  async list(): Promise<BenchReportEntry[]> {
    if (!this.dir) return [];
    const entries = await readdir(this.dir, { withFileTypes: true }).catch(() => []);
    const reports = await Promise.all(
      entries
        .filter((e) => e.isFile() && isReportName(e.name))
        .map(async (e) => {
          const stat = await lstat(join(this.dir!, e.name));
          return { name: e.name, bytes: stat.size, modifiedAt: stat.mtime.toISOString() };
        }),
    );
    return reports.sort((a, b) => b.modifiedAt.localeCompare(a.modifiedAt) || a.name.localeCompare(b.name));
  }

  /** The report's HTML, or undefined when `name` is not a report in the directory. */
  async read(name: string): Promise<string | undefined> {
    if (!this.dir || !isReportName(name)) return undefined;
    const path = join(this.dir, name);
    const stat = await lstat(path).catch(() => undefined);
    if (!stat?.isFile() || stat.size > MAX_REPORT_BYTES) return undefined;
    return readFile(path, 'utf8');
  }
}
