/**
 * `npm run bench:report -- <run.json>...`: writes the HTML report of runs already on disk, next
 * to each JSON file (same name, `.html`), as `--html` does at the end of a run.
 */
import { existsSync } from 'node:fs';
import { writeHtmlReport } from './html-report.js';

const files = process.argv.slice(2);
if (files.length === 0 || files.some((f) => f === '--help' || f === '-h')) {
  process.stdout.write('usage: npm run bench:report -- <run.json>...   (writes <run>.html next to each)\n');
  process.exitCode = files.length === 0 ? 2 : 0;
} else {
  for (const file of files) {
    if (!file.endsWith('.json') || !existsSync(file)) {
      process.stderr.write(`bench report: ${file}: not a .json file that exists\n`);
      process.exitCode = 1;
      continue;
    }
    try {
      process.stdout.write(`wrote ${writeHtmlReport(file)}\n`);
    } catch (err) {
      process.stderr.write(`bench report: ${file}: ${(err as Error).message}\n`);
      process.exitCode = 1;
    }
  }
}
