import { timingSafeEqual } from 'node:crypto';
import type { HttpReply, HttpRequestInfo, HttpRoute } from '../../transport/index.js';
import type { MessageStore } from '../../store/index.js';
import type { DeviceRegistry } from '../device-registry.js';
import type { TopicFanout } from '../topic-fanout.js';
import type { LiveDevice } from '../device-registry.js';
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
  cluster?: () => unknown;
  adminToken?: string;
}

const json = (body: unknown, status = '200 OK'): HttpReply => ({ status, contentType: 'application/json', body: JSON.stringify(body) });

/** HTTP endpoints for operators: health, readiness, Prometheus metrics, and the admin API. */
export function opsRoutes(deps: OpsDeps): HttpRoute[] {
  const admin = (handle: (request: HttpRequestInfo) => HttpReply): HttpRoute['handle'] => (request) => {
    if (!deps.adminToken) return json({ error: 'the admin API is disabled: set adminToken' }, '404 Not Found');
    return guarded(handle, request);
  };
  /** Open when no admin token is set (local use); behind the token otherwise. */
  const tokenIfSet = (handle: (request: HttpRequestInfo) => HttpReply): HttpRoute['handle'] => (request) =>
    deps.adminToken ? guarded(handle, request) : handle(request);
  const guarded = (handle: (request: HttpRequestInfo) => HttpReply, request: HttpRequestInfo): HttpReply =>
    tokenMatches(request.headers.authorization, deps.adminToken!) ? handle(request) : json({ error: 'admin token required: Authorization: Bearer <token>' }, '401 Unauthorized');
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
    { method: 'get', path: '/cluster', handle: tokenIfSet(() => (deps.cluster ? json(deps.cluster()) : json({ error: 'not clustered' }, '404 Not Found'))) },
    { method: 'get', path: '/metrics', handle: async () => ({ status: '200 OK', contentType: 'text/plain; version=0.0.4', body: await deps.metrics.render() }) },
    {
      method: 'get',
      path: '/admin/connections',
      handle: admin(() =>
        json(
          [...deps.devices.values()].map((d) => ({
            deviceId: d.session.deviceId,
            node: deps.nodeId,
            sessionId: d.session.sessionId,
            state: d.session.state,
            remoteAddress: d.conn.remoteAddress,
            subscriptions: [...d.session.subscriptions.keys()],
            inflight: d.outbox.inflightCount,
            counters: { ...d.session.counters, dropped: d.conn.framesDropped },
          })),
        ),
      ),
    },
    {
      method: 'post',
      path: '/admin/devices/:id/kick',
      handle: admin(({ params }) => {
        const deviceId = decodeURIComponent(params[0]!);
        return deps.kick(deviceId, 'kicked by an operator') ? json({ kicked: deviceId }) : json({ error: `${deviceId} is not connected here` }, '404 Not Found');
      }),
    },
    { method: 'get', path: '/admin/topics', handle: admin(() => json(topicStats(deps))) },
    {
      method: 'get',
      path: '/admin/sessions/:id',
      handle: admin(({ params }) => {
        const deviceId = decodeURIComponent(params[0]!);
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

/** Only the documented form, `Authorization: Bearer <token>`, is accepted. */
function tokenMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer (.+)$/.exec(header ?? '');
  if (!match) return false;
  const given = Buffer.from(match[1]!);
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}
