/**
 * The dashboard in a real headless Chromium (Debian's `chromium`, driven by playwright-core)
 * against a real 3-node cluster of brokers on 127.0.0.1. Screenshots go to a temp dir.
 */
import t, { type Test } from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { FrameKind, type Broker } from '../src/index.js';
import { consoleErrorsOf, launchChromium } from '../kit/chromium.js';
import { freePort, startTestBroker } from './helpers/broker.js';
import { RawClient } from './helpers/raw-client.js';

const ADMIN = 'dashboard-admin-token-0123456789';
const SECRET = 'dashboard-cluster-secret-0123456789';
const SUBSCRIBERS = 2000;
/** Longest wait for the page to show something: the stream updates once a second. */
const WAIT_MS = 60_000;
// Three brokers, 2,000 sockets and a browser in one process: slow on a loaded machine, and no step's speed is asserted.
t.setTimeout(600_000);

type TestBroker = Broker & { url: string };

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const api = async (b: TestBroker, path: string) =>
  (await (await fetch(`http://127.0.0.1:${b.port}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as never;

/** Brokers a, b, c, every pair linked, each with the admin token. */
async function startCluster(t: Test): Promise<Record<'a' | 'b' | 'c', TestBroker>> {
  const names = ['a', 'b', 'c'] as const;
  const ports = { a: await freePort(), b: await freePort(), c: await freePort() };
  const brokers = {} as Record<'a' | 'b' | 'c', TestBroker>;
  for (const name of names) {
    const peers = names.filter((p) => p !== name).map((p) => `${p}@127.0.0.1:${ports[p]}`);
    brokers[name] = await startTestBroker(t, { nodeId: name, adminToken: ADMIN, cluster: { host: '127.0.0.1', port: ports[name], secret: SECRET, peers } });
  }
  await until('every node to see every other', async () => {
    const views = await Promise.all(names.map((n) => api(brokers[n], '/cluster') as Promise<{ nodes: { live: boolean }[]; links: unknown[] }>));
    return views.every((v) => v.nodes.filter((n) => n.live).length === 3 && v.links.length === 6);
  });
  return brokers;
}

const inPage = <R>(page: Page, fn: () => R) => page.evaluate(fn);

t.test('the dashboard shows the cluster, routes, fan-out trees and traffic, and follows a node going down', async (t) => {
  const { a, b, c } = await startCluster(t);
  const browser = await launchChromium();
  t.teardown(() => browser.close());
  const shots = mkdtempSync(join(tmpdir(), 'relaymesh-dashboard-'));
  t.comment(`screenshots in ${shots}`);
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const consoleErrors = consoleErrorsOf(page);

  await page.goto(`http://127.0.0.1:${a.port}/dashboard`);
  await page.waitForSelector('#login:not([hidden])', { timeout: WAIT_MS });
  t.ok(await page.isHidden('#main'), 'without the token: a login form, no data');
  await page.fill('#token', 'not-the-token');
  await page.press('#token', 'Enter');
  await page.waitForFunction(() => document.getElementById('login-error')?.textContent !== '', undefined, { timeout: WAIT_MS });
  t.match(await page.textContent('#login-error'), /refused/, 'a wrong token is refused');
  await page.fill('#token', ADMIN);
  await page.press('#token', 'Enter');
  await page.waitForSelector('#main:not([hidden])', { timeout: WAIT_MS });
  t.notOk(page.url().includes(ADMIN), 'the token is not in the URL');
  // Chromium logs the two refused requests above (401) as console errors; from here on there must be none.
  consoleErrors.length = 0;

  // Cluster view: three nodes, three links.
  await page.waitForFunction(() => (window as never as { relaymeshDashboard: { cy?: { nodes(): unknown[]; edges(): unknown[] } } }).relaymeshDashboard.cy?.edges().length === 3, undefined, { timeout: WAIT_MS });
  const drawn = await inPage(page, () => {
    const cy = (window as never as { relaymeshDashboard: { cy: { nodes(): { map(f: (n: { id(): string }) => string): string[] } } } }).relaymeshDashboard.cy;
    return cy.nodes().map((n) => n.id()).sort();
  });
  t.same(drawn, ['a', 'b', 'c'], 'three nodes drawn');

  // Route highlight against the routing table of GET /cluster.
  const routes = ((await api(a, '/cluster')) as { routes: Record<string, string> }).routes;
  await page.selectOption('#route-to', 'c');
  const pathText = await page.textContent('#route-path');
  const path = pathText!.replace(/^Path to c: /, '').split(' → ');
  t.equal(path[0], 'a', 'the path starts here');
  t.equal(path.at(-1), 'c');
  t.equal(path[1], routes.c, 'its first hop is the routing table next hop');
  const highlighted = await inPage(page, () => (window as never as { relaymeshDashboard: { cy: { edges(s: string): unknown[] } } }).relaymeshDashboard.cy.edges('.on-path').length);
  t.equal(highlighted, path.length - 1, 'the path edges are highlighted');

  // Fan-out view: a topic with 2,000 subscribers.
  const subscribers: RawClient[] = [];
  t.teardown(() => subscribers.forEach((s) => s.close()));
  for (let batch = 0; batch < SUBSCRIBERS / 100; batch++) {
    subscribers.push(
      ...(await Promise.all(
        Array.from({ length: 100 }, async (_, i) => {
          const client = await RawClient.connect(a.url, `sub-${batch * 100 + i}`);
          await client.request({ kind: FrameKind.SUB, seq: 1, filters: ['fleet/#'], qos: 0 });
          return client;
        }),
      )),
    );
  }
  await page.waitForSelector('#topic option[value="0:fleet/#"]', { state: 'attached', timeout: WAIT_MS });
  await page.selectOption('#topic', '0:fleet/#');
  await page.waitForFunction(() => /members/.test(document.getElementById('tree-summary')?.textContent ?? ''), undefined, { timeout: WAIT_MS });
  await page.selectOption('#route-to', 'c');
  await page.locator('#cluster').screenshot({ path: join(shots, 'dashboard-cluster.png') });
  await page.locator('#fanout').screenshot({ path: join(shots, 'dashboard-fanout.png') });
  t.match(await page.textContent('#tree-summary'), new RegExp(`^fleet/# \\(QoS 0\\): ${SUBSCRIBERS} members in 8 leaves`), 'the tree with every member (leaves of 256)');

  // Traffic: counters move when messages flow.
  const framesIn = async () => Number(await page.locator('#counters tr', { hasText: 'frames in (total)' }).locator('td').nth(1).textContent());
  await until('the counters table', async () => !Number.isNaN(await framesIn()));
  const before = await framesIn();
  const publisher = await RawClient.connect(a.url, 'publisher');
  t.teardown(() => publisher.close());
  for (let i = 1; i <= 20; i++) publisher.send({ kind: FrameKind.PUB, seq: i, topic: 'fleet/x/speed', payload: Buffer.from('88'), qos: 0 });
  await until('frames in to grow on the page', async () => (await framesIn()) >= before + 20);
  t.pass('frames in grew on the page');
  await page.screenshot({ path: join(shots, 'dashboard-1280.png'), fullPage: true });

  // A node going down leaves the graph and is logged.
  await c.close();
  await page.waitForFunction(() => (window as never as { relaymeshDashboard: { cy: { nodes(): unknown[] } } }).relaymeshDashboard.cy.nodes().length === 2, undefined, { timeout: WAIT_MS });
  t.match(await page.textContent('#events'), /c down/, 'the node event is listed');

  // Device look-up.
  await page.fill('#device-id', 'sub-7');
  await page.press('#device-id', 'Enter');
  await page.waitForSelector('#device-details:not([hidden])', { timeout: WAIT_MS });
  t.match(JSON.parse((await page.textContent('#device-details'))!), { deviceId: 'sub-7', connected: true, live: { subscriptions: ['fleet/#'] } });

  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForFunction(() => document.documentElement.scrollWidth <= 390, undefined, { timeout: WAIT_MS });
  t.pass('nothing wider than a phone screen');
  await page.screenshot({ path: join(shots, 'dashboard-phone.png'), fullPage: true });
  t.same(consoleErrors, [], 'no console errors');

  // A device on another node: the page says which node holds it.
  const elsewhere = await RawClient.connect(b.url, 'on-b');
  t.teardown(() => elsewhere.close());
  await until('node a to know where on-b is', async () => JSON.stringify(await api(a, '/dashboard/devices/on-b')).includes('node b'));
  await page.fill('#device-id', 'on-b');
  await page.press('#device-id', 'Enter');
  await page.waitForFunction(() => /connected to node b/.test(document.getElementById('device-error')?.textContent ?? ''), undefined, { timeout: WAIT_MS });
  t.pass('a device connected elsewhere is reported with its node');
  t.ok(consoleErrors.every((e) => /status of 404/.test(e)), 'the only console error is the 404 Chromium logs for it');
});
