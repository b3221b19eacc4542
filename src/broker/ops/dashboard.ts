import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { HttpReply, HttpRoute, HttpStreamReply } from '../../transport/index.js';
import type { Qos } from '../../protocol/index.js';
import { json, tokenIfSet } from './access.js';
import { BenchReports, isReportName } from './bench-reports.js';
import { DashboardFeed } from './dashboard-feed.js';
import { liveDeviceView } from './device-view.js';
import type { OpsDeps } from './routes.js';

const here = (file: string) => fileURLToPath(new URL(`./dashboard-assets/${file}`, import.meta.url));
const requireAsset = createRequire(import.meta.url);

/** Files the page loads: its script and style, the graph and chart libraries. */
const ASSETS: Record<string, { path: string; type: string }> = {
  'app.js': { path: here('app.js'), type: 'text/javascript; charset=utf-8' },
  'app.css': { path: here('app.css'), type: 'text/css; charset=utf-8' },
  'cytoscape.min.js': { path: requireAsset.resolve('cytoscape/dist/cytoscape.min.js'), type: 'text/javascript; charset=utf-8' },
  'uPlot.iife.min.js': { path: requireAsset.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  'uPlot.min.css': { path: requireAsset.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

/**
 * `GET /dashboard`: a live view of this node — cluster graph and routes, fan-out trees, traffic,
 * devices. The page and its assets are public; every data route is behind the admin token when
 * one is set (the page asks for it and keeps it in the tab's session storage, never in a URL).
 * Live data is one server-sent event stream per open page, one update a second.
 */
export function dashboardRoutes(deps: OpsDeps): HttpRoute[] {
  // Read on first request, then kept: a broker nobody opens the dashboard of pays no start-up I/O.
  const cache = new Map<string, string>();
  const read = (path: string): string => cache.get(path) ?? cache.set(path, readFileSync(path, 'utf8')).get(path)!;
  const feed = new DashboardFeed({
    nodeId: deps.nodeId,
    registry: deps.metrics.registry,
    topics: () => deps.fanout.stats(),
    ...(deps.cluster ? { cluster: deps.cluster } : {}),
  });
  const reports = new BenchReports(deps.benchReportsDir);
  const guard = <R>(handle: (request: { params: string[] }) => R) => tokenIfSet(deps.adminToken, handle);
  return [
    { method: 'get', path: '/dashboard', handle: () => ({ status: '200 OK', contentType: 'text/html; charset=utf-8', body: read(here('index.html')) }) },
    {
      method: 'get',
      path: '/dashboard/assets/:file',
      handle: ({ params }): HttpReply => {
        const asset = Object.hasOwn(ASSETS, params[0] ?? '') ? ASSETS[params[0]!] : undefined;
        return asset ? { status: '200 OK', contentType: asset.type, body: read(asset.path) } : json({ error: 'no such asset' }, '404 Not Found');
      },
    },
    {
      method: 'get',
      path: '/dashboard/stream',
      handle: guard(
        (): HttpStreamReply => ({
          status: '200 OK',
          contentType: 'text/event-stream',
          start: (write) => feed.subscribe((state) => write(`data: ${JSON.stringify(state)}\n\n`)),
        }),
      ),
    },
    {
      method: 'get',
      path: '/dashboard/trees/:qos/:filter',
      handle: guard(({ params }) => {
        const filter = params[1] ?? '';
        const tree = deps.fanout.treeShape(filter, Number(params[0]) as Qos);
        return tree ? json({ filter, qos: Number(params[0]), tree }) : json({ error: `no fan-out tree for ${filter}` }, '404 Not Found');
      }),
    },
    { method: 'get', path: '/dashboard/reports', handle: guard(async () => json({ dir: reports.dir ?? null, reports: await reports.list() })) },
    {
      method: 'get',
      path: '/dashboard/reports/:name',
      handle: guard(async ({ params }): Promise<HttpReply> => {
        const name = params[0] ?? '';
        if (!isReportName(name)) return json({ error: 'not a report name: a plain file name ending in .html' }, '400 Bad Request');
        const html = await reports.read(name);
        return html === undefined ? json({ error: `no report ${name}` }, '404 Not Found') : { status: '200 OK', contentType: 'text/html; charset=utf-8', body: html };
      }),
    },
    {
      method: 'get',
      path: '/dashboard/devices/:id',
      handle: guard(async ({ params }) => {
        const deviceId = params[0] ?? '';
        const live = deps.devices.get(deviceId);
        const session = deps.store.loadSession(deviceId);
        if (!live && !session) {
          // Each node shows its own devices: say which node holds this one, when the cluster knows.
          const node = await deps.whereIs?.(deviceId);
          const elsewhere = node !== undefined && node !== deps.nodeId;
          return json(
            elsewhere ? { error: `${deviceId} is connected to node ${node}, not ${deps.nodeId}: open that node's dashboard`, node } : { error: `${deviceId} has no session on ${deps.nodeId}` },
            '404 Not Found',
          );
        }
        return json({
          deviceId,
          node: deps.nodeId,
          connected: live !== undefined,
          session: session ?? null,
          cursors: Object.fromEntries(deps.store.cursors(deviceId)),
          live: live ? liveDeviceView(live, deps.nodeId) : null,
        });
      }),
    },
  ];
}
