/** The dashboard in headless Chromium: when each view first shows data, and how fast it answers. */
import type { Browser, Page } from 'playwright-core';
import { timings, type Timings } from './http-probes.js';

/** Views of the page and the condition that says each shows data; checked on every animation frame. */
const VIEW_CHECKS: Record<string, string> = {
  cluster: `(d) => d.state !== null && (d.cy ? d.cy.nodes().length > 0 : !document.getElementById('cluster-empty').hidden)`,
  'fan-out': `() => document.querySelectorAll('#topics tbody tr').length > 0`,
  traffic: `(d) => d.charts.length > 0 && document.querySelectorAll('#counters tbody tr').length > 0`,
  benchmarks: `() => document.getElementById('reports-status').textContent !== ''`,
};

/** Runs in the page before its own script: records performance.now() when each view first passes its check. */
const WATCH_VIEWS = `(() => {
  const checks = { ${Object.entries(VIEW_CHECKS).map(([k, f]) => `${JSON.stringify(k)}: ${f}`).join(', ')} };
  const seen = (window.__firstShown = {});
  const frame = () => {
    const d = window.relaymeshDashboard;
    for (const [view, check] of Object.entries(checks)) {
      if (view in seen || !d) continue;
      try { if (check(d)) seen[view] = performance.now(); } catch { /* not drawn yet */ }
    }
    if (Object.keys(seen).length < Object.keys(checks).length) requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
})();`;

export interface PageProbe {
  /** Milliseconds from navigation start: the first contentful paint, then each view with data. */
  views: { view: string; firstShownMs: number }[];
  /** Picking the largest subscription until its tree is described. */
  fanoutTree: Timings & { summary: string };
  /** Typing a device id and Enter until its details (or "no session here") show; misses: 404s (the device is on another broker process). */
  deviceSearch: Timings & { found: number; misses: number };
  phoneWidthFits: boolean;
  consoleErrors: string[];
}

const WAIT_MS = 180_000;

/**
 * Opens the dashboard, waits for every view, runs `whileOpen` with the page open (the CPU
 * window), then measures the interactions and closes the page.
 */
export async function probePage(browser: Browser, baseUrl: string, deviceIds: string[], whileOpen: () => Promise<void>): Promise<PageProbe> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const logged: { text: string; url: string }[] = [];
  page.on('console', (m) => void (m.type() === 'error' && logged.push({ text: m.text(), url: m.location().url })));
  page.on('pageerror', (err) => logged.push({ text: err.message, url: '' }));
  const consoleErrors = () => logged.filter((e) => !expectedError(e)).map((e) => e.text);
  const searchMisses = () => logged.filter((e) => e.url.includes('/dashboard/devices/')).length;
  try {
    await page.addInitScript({ content: WATCH_VIEWS });
    await page.goto(`${baseUrl}/dashboard`, { timeout: WAIT_MS });
    await page.waitForFunction((n) => Object.keys((window as never as { __firstShown: object }).__firstShown).length === n, Object.keys(VIEW_CHECKS).length, { timeout: WAIT_MS });
    const shown = await page.evaluate(() => (window as never as { __firstShown: Record<string, number> }).__firstShown);
    const fcp = await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN);
    const views = [{ view: 'first contentful paint', firstShownMs: fcp }, ...Object.entries(shown).map(([view, ms]) => ({ view, firstShownMs: ms }))];
    await whileOpen();
    const fanoutTree = await timeTree(page);
    const deviceSearch = await timeSearches(page, deviceIds);
    await page.setViewportSize({ width: 390, height: 844 });
    const phoneWidthFits = await page.waitForFunction(() => document.documentElement.scrollWidth <= 390, undefined, { timeout: 10_000 }).then(
      () => true,
      () => false,
    );
    return { views, fanoutTree, deviceSearch: { ...deviceSearch, misses: searchMisses() }, phoneWidthFits, consoleErrors: consoleErrors() };
  } finally {
    await page.close();
  }
}

/** Picks the subscription with the most subscribers, three times (a fresh pick each time). */
async function timeTree(page: Page): Promise<Timings & { summary: string }> {
  const key = await page.evaluate(() => {
    const topics = (window as never as { relaymeshDashboard: { state: { topics: { filter: string; qos: number; subscribers: number }[] } } }).relaymeshDashboard.state.topics;
    const biggest = [...topics].sort((a, b) => b.subscribers - a.subscribers)[0];
    return biggest ? `${biggest.qos}:${biggest.filter}` : '';
  });
  if (!key) return { ...timings([]), summary: 'no subscription' };
  const ms: number[] = [];
  for (let i = 0; i < 3; i++) {
    await page.selectOption('#topic', '');
    await page.evaluate(() => (document.getElementById('tree-summary')!.textContent = ''));
    const started = Date.now();
    await page.selectOption('#topic', key);
    await page.waitForFunction(() => /members|no tree|no fan-out/.test(document.getElementById('tree-summary')?.textContent ?? ''), undefined, { timeout: WAIT_MS });
    ms.push(Date.now() - started);
  }
  return { ...timings(ms), summary: (await page.textContent('#tree-summary')) ?? '' };
}

async function timeSearches(page: Page, ids: string[]): Promise<Timings & { found: number }> {
  const ms: number[] = [];
  let found = 0;
  for (const id of ids) {
    await page.evaluate(() => {
      document.getElementById('device-details')!.textContent = '';
      document.getElementById('device-error')!.textContent = '';
    });
    await page.fill('#device-id', id);
    const started = Date.now();
    await page.press('#device-id', 'Enter');
    await page.waitForFunction(
      (wanted) => (document.getElementById('device-details')?.textContent ?? '').includes(`"deviceId": ${JSON.stringify(wanted)}`) || document.getElementById('device-error')?.textContent !== '',
      id,
      { timeout: WAIT_MS },
    );
    ms.push(Date.now() - started);
    if ((await page.textContent('#device-error')) === '') found++;
  }
  return { ...timings(ms), found };
}

/**
 * Console errors that are not the page's fault: Chromium logs every 404 of a device look-up (a
 * device held by another broker process is not known to the one that answered), and Playwright
 * puts the view watcher into every frame, which the sandboxed report frame refuses.
 */
function expectedError(e: { text: string; url: string }): boolean {
  return e.url.includes('/dashboard/devices/') || /^Blocked script execution in 'about:(blank|srcdoc)'/.test(e.text);
}
