import type { ClusterSnapshot } from '../../cluster/index.js';
import type { HttpRequestInfo, HttpRoute } from '../../transport/index.js';
import type { MessageStore } from '../../store/index.js';
import type { DeviceRegistry } from '../device-registry.js';
import type { TopicFanout } from '../topic-fanout.js';
import type { LiveDevice } from '../device-registry.js';
import { adminOnly, json, tokenIfSet } from './access.js';
import { dashboardRoutes } from './dashboard.js';
import { liveDeviceView } from './device-view.js';
import type { BrokerMetrics } from './metrics.js';

export interface OpsDeps {
  metrics: BrokerMetrics;
  devices: DeviceRegistry;
  fanout: TopicFanout<LiveDevice>;
  store: MessageStore;
  nodeId: string;
  /** Whether the broker accepts connections: listening, store open, cluster joined. */
  ready: () => { ready: boolean; checks: Record<string, boolean> };
  kick: (deviceId: string, reason: string) => boolean;
  /** The cluster view (nodes, links with costs, routes, spanning tree), when clustered. */
  cluster?: () => ClusterSnapshot;
  /** The node a device is connected to, as its home node knows it (clustered brokers). */
  whereIs?: (deviceId: string) => Promise<string | undefined>;
  adminToken?: string;
  /** Directory of benchmark HTML reports the dashboard lists (resolved; none: no reports). */
  benchReportsDir?: string;
}

/** HTTP endpoints for operators: health, readiness, Prometheus metrics, and the admin API. */
export function opsRoutes(deps: OpsDeps): HttpRoute[] {
  const admin = <R>(handle: (request: HttpRequestInfo) => R) => adminOnly(deps.adminToken, handle);
  return [
    { method: 'get', path: '/healthz', handle: () => ({ status: '200 OK', contentType: 'text/plain', body: 'ok' }) },
    {
      method: 'get',
      path: '/readyz',
      handle: () => {
        const state = deps.ready();
        return json(state, state.ready ? '200 OK' : '503 Service Unavailable');
      },
    },
    { method: 'get', path: '/cluster', handle: tokenIfSet(deps.adminToken, () => (deps.cluster ? json(deps.cluster()) : json({ error: 'not clustered' }, '404 Not Found'))) },
    { method: 'get', path: '/metrics', handle: async () => ({ status: '200 OK', contentType: 'text/plain; version=0.0.4', body: await deps.metrics.render() }) },
    {
      method: 'get',
      path: '/admin/connections',
      handle: admin(() => json([...deps.devices.values()].map((d) => liveDeviceView(d, deps.nodeId)))),
    },
    {
      method: 'post',
      path: '/admin/devices/:id/kick',
      handle: admin(({ params }) => {
        const deviceId = params[0]!;
        return deps.kick(deviceId, 'kicked by an operator') ? json({ kicked: deviceId }) : json({ error: `${deviceId} is not connected here` }, '404 Not Found');
      }),
    },
    ...dashboardRoutes(deps),
    { method: 'get', path: '/admin/topics', handle: admin(() => json(topicStats(deps))) },
    {
      method: 'get',
      path: '/admin/sessions/:id',
      handle: admin(({ params }) => {
        const deviceId = params[0]!;
        const record = deps.store.loadSession(deviceId);
        if (!record) return json({ error: `no session for ${deviceId}` }, '404 Not Found');
        return json({ deviceId, connected: deps.devices.get(deviceId) !== undefined, ...record, cursors: Object.fromEntries(deps.store.cursors(deviceId)) });
      }),
    },
  ];
}

function topicStats(deps: OpsDeps): unknown {
  return {
    subscriptions: deps.fanout.stats(),
    streams: deps.store.streamNames().map((stream) => ({ stream, ...deps.store.head(stream) })),
  };
}
