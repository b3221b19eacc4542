/**
 * Benchmark reports: `npm run bench:report` (what `relaymesh bench … --html` runs at the end of
 * a run) turns a run's JSON into a self-contained HTML page, and the dashboard lists and opens
 * the reports of its report directory behind the admin token, never a file outside it.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { consoleErrorsOf, launchChromium } from '../kit/chromium.js';
import { startTestBroker } from './helpers/broker.js';

const ADMIN = 'bench-report-admin-token-0123456789';
const WAIT_MS = 60_000;
t.setTimeout(300_000);

/** A report directory holding the fixture run and its report, with a secret file beside it. */
function reportDir(): { dir: string; html: string } {
  const root = mkdtempSync(join(tmpdir(), 'relaymesh-reports-'));
  writeFileSync(join(root, 'secret.html'), 'outside the report directory');
  const dir = join(root, 'results');
  execFileSync('mkdir', [dir]);
  copyFileSync('test/fixtures/bench-run.json', join(dir, 'bench-run.json'));
  execFileSync(process.execPath, ['--import', 'tsx', 'bench/harness/render-report.ts', join(dir, 'bench-run.json')], { stdio: 'pipe', timeout: 120_000 });
  return { dir, html: join(dir, 'bench-run.html') };
}

/** GET without any normalisation of the path (fetch would resolve `..`). */
function rawGet(port: number, path: string, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject).end();
  });
}

t.test('a run JSON becomes a self-contained HTML report that opens without console errors', async (t) => {
  const { html } = reportDir();
  const text = readFileSync(html, 'utf8');
  t.notMatch(text, /<script|<link|https?:\/\//i, 'no script, no stylesheet link, nothing fetched');
  t.notMatch(text, /<script>alert/, 'text from the JSON is escaped');
  const browser = await launchChromium();
  t.teardown(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = consoleErrorsOf(page);
  await page.goto(`file://${html}`);
  t.equal(await page.textContent('h1'), 'relaymesh benchmark: bench-run', 'titled by the file name');
  const captions = await page.locator('caption').allTextContents();
  t.ok(captions.includes('views'), 'a table per list of records');
  t.match(await page.locator('table', { hasText: 'first paint ms' }).textContent(), /cluster\s*412\.5/, 'with its rows');
  t.equal(await page.locator('figure svg polyline').count(), 2, 'records over time are charted (one line per numeric column)');
  t.match(await page.textContent('dl'), /load average › at start\s*3\.1/, 'the environment is listed');
  await page.setViewportSize({ width: 390, height: 844 });
  t.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390), 'nothing wider than a phone screen');
  t.same(errors, [], 'no console errors');
});

t.test('the dashboard lists the reports and opens the newest, behind the admin token', async (t) => {
  const { dir } = reportDir();
  const broker = await startTestBroker(t, { adminToken: ADMIN, ops: { benchReportsDir: dir } });
  const base = `http://127.0.0.1:${broker.port}`;
  t.equal((await fetch(`${base}/dashboard/reports`)).status, 401, 'the list needs the token');
  t.equal((await fetch(`${base}/dashboard/reports/bench-run.html`)).status, 401, 'so does a report');
  const list = (await (await fetch(`${base}/dashboard/reports`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as { dir: string; reports: { name: string }[] };
  t.same(list.reports.map((r) => r.name), ['bench-run.html'], 'only the HTML files of the directory');
  const report = await fetch(`${base}/dashboard/reports/bench-run.html`, { headers: { authorization: `Bearer ${ADMIN}` } });
  t.equal(report.status, 200);
  t.match(report.headers.get('content-type'), /^text\/html/);
  t.match(await report.text(), /relaymesh benchmark: bench-run/);

  for (const path of ['../secret.html', '..%2Fsecret.html', '%2e%2e%2fsecret.html', '%2E%2E%2Fsecret.html', '..%5Csecret.html', '.%2E/secret.html', '%252e%252e%252fsecret.html', '.hidden.html', 'bench-run.json', '%E0%A4%A.html']) {
    const reply = await rawGet(broker.port, `/dashboard/reports/${path}`, ADMIN);
    t.ok([400, 404].includes(reply.status) && !reply.body.includes('outside the report directory'), `${path} is refused (${reply.status})`);
  }

  const browser = await launchChromium();
  t.teardown(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = consoleErrorsOf(page);
  await page.goto(`${base}/dashboard`);
  await page.waitForSelector('#login:not([hidden])', { timeout: WAIT_MS });
  await page.fill('#token', ADMIN);
  await page.press('#token', 'Enter');
  await page.waitForSelector('#main:not([hidden])', { timeout: WAIT_MS });
  // Chromium logs the stream refused before the login (401) as a console error; from here on there must be none.
  errors.length = 0;
  await page.waitForSelector('#reports button[data-report="bench-run.html"]', { timeout: WAIT_MS });
  const frame = page.frameLocator('#report-frame');
  await frame.locator('caption', { hasText: 'views' }).waitFor({ timeout: WAIT_MS });
  t.pass('the newest report opens in the page');
  t.equal(await page.getAttribute('#reports button[data-report="bench-run.html"]', 'aria-current'), 'true', 'and is marked as the one shown');
  t.equal(await page.getAttribute('#report-frame', 'sandbox'), '', 'in a frame without scripts or access to the page');
  await page.locator('#benchmarks').screenshot({ path: join(mkdtempSync(join(tmpdir(), 'relaymesh-bench-report-')), 'dashboard-benchmarks.png') });
  t.same(errors, [], 'no console errors');
});
