import t from 'tap';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createBroker, type Broker } from '../src/index.js';
import { freePort } from './helpers/broker.js';

/**
 * The browser builds of @relaymesh/client in a real headless Chromium (Debian's `chromium`;
 * .ci/run installs it), served over HTTP from 127.0.0.1, against a real broker.
 */
const DIST = 'packages/client/dist';
const GLOBAL_BUNDLE = join(DIST, 'relaymesh-client.min.js');
const ESM_BUNDLE = join(DIST, 'relaymesh-client.browser.js');
const CHROMIUM = '/usr/bin/chromium';
const WAIT_MS = 60_000;

t.setTimeout(300_000);

t.test('the browser bundles: at most 25 KB gzip, no Node-only import', async (t) => {
  t.ok(existsSync(GLOBAL_BUNDLE), `${GLOBAL_BUNDLE} exists (npm run build)`);
  for (const file of [GLOBAL_BUNDLE, ESM_BUNDLE]) {
    const code = readFileSync(file);
    t.ok(gzipSync(code).length <= 25 * 1024, `${file}: ${(gzipSync(code).length / 1024).toFixed(1)} KB gzip`);
    t.notMatch(code.toString(), /["']node:|require\(["']ws["']\)|import\(["']ws["']\)|from\s*["']ws["']/, `${file}: no Node-only import`);
  }
});

t.test('a page connects, subscribes, receives a broadcast from Node, and reconnects after a broker restart', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} missing (apt-get install chromium)` }, async (t) => {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'relaymesh-browser-'));
  const start = (): Promise<Broker> => createBroker({ host: '127.0.0.1', port, dataDir, anonymous: true, logLevel: 'silent' });
  let broker = await start();
  t.teardown(() => broker.close());
  const site = await serveBundles();
  t.teardown(() => new Promise((resolve) => site.server.close(resolve)));

  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  t.teardown(() => browser.close());
  const page: Page = await browser.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(site.url);

  await page.addScriptTag({ type: 'module', content: "import { RelaymeshClient } from '/relaymesh-client.browser.js'; window.esmClient = typeof RelaymeshClient;" });
  const esmClient = await page.waitForFunction(() => (window as unknown as { esmClient?: string }).esmClient, undefined, { timeout: WAIT_MS });
  t.equal(await esmClient.jsonValue(), 'function', 'the ESM bundle imports in the page');

  await page.evaluate(async (url) => {
    const { RelaymeshClient } = (window as unknown as { Relaymesh: typeof import('../packages/client/src/index.js') }).Relaymesh;
    const state = { received: [] as string[], connects: 0 };
    (window as unknown as { state: typeof state }).state = state;
    const client = new RelaymeshClient({ url, deviceId: 'browser-1', reconnect: { initialDelayMs: 200, maxDelayMs: 1000 } });
    client.on('connected', () => void state.connects++);
    client.on('message', (m) => void state.received.push(new TextDecoder().decode(m.payload)));
    await client.connect();
    await client.subscribe(['news/#']);
  }, `ws://127.0.0.1:${port}/`);

  // A broadcast published from Node reaches the page; published until seen, in case the
  // subscription is still being wired when the first one goes out.
  await untilPage(page, 'news/1', async () => void (await broker.publish('news/today', 'news/1')));
  t.pass('the page received a broadcast published from Node');

  await broker.close();
  broker = await start();
  await page.waitForFunction(() => (window as unknown as { state: { connects: number } }).state.connects >= 2, undefined, { timeout: WAIT_MS });
  await untilPage(page, 'news/2', async () => void (await broker.publish('news/today', 'news/2')));
  t.pass('after the broker restarted, the page reconnected, resubscribed and received again');
  t.same(pageErrors, [], 'no uncaught error in the page');
});

/** Publishes every 200 ms until the page has received `text`, for at most WAIT_MS. */
async function untilPage(page: Page, text: string, publish: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    await publish();
    const seen = await page.evaluate((expected) => (window as unknown as { state: { received: string[] } }).state.received.includes(expected), text);
    if (seen) return;
    if (Date.now() > deadline) throw new Error(`the page did not receive ${text}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** An HTTP server on 127.0.0.1 with a page that loads the global bundle, and the bundles. */
async function serveBundles(): Promise<{ server: Server; url: string }> {
  const files: Record<string, { type: string; body: Buffer | string }> = {
    '/': { type: 'text/html', body: '<!doctype html><meta charset="utf-8"><title>relaymesh</title><script src="/relaymesh-client.min.js"></script>' },
    '/relaymesh-client.min.js': { type: 'text/javascript', body: readFileSync(GLOBAL_BUNDLE) },
    '/relaymesh-client.browser.js': { type: 'text/javascript', body: readFileSync(ESM_BUNDLE) },
  };
  const server = createServer((req, res) => {
    const file = files[req.url ?? ''];
    res.writeHead(file ? 200 : 404, { 'content-type': file?.type ?? 'text/plain' }).end(file?.body ?? 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/` };
}
