import { parseArgs } from 'node:util';
import { createBroker } from '../broker/broker.js';
import type { BrokerOptions } from '../broker/options.js';
import { runWorkers } from './workers.js';

/** Parses `start` flags into broker options. Throws with a usage hint on bad flags. */
export function parseStartArgs(args: string[]): { options: BrokerOptions; shutdownTimeoutMs: number } {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'data-dir': { type: 'string' },
      shards: { type: 'string' },
      'heartbeat-ms': { type: 'string' },
      'idle-timeout-ms': { type: 'string' },
      'max-frame-bytes': { type: 'string' },
      'log-level': { type: 'string' },
      'allow-uws-fallback': { type: 'boolean' },
      'node-id': { type: 'string' },
      durability: { type: 'string' },
      'jwt-secret': { type: 'string' },
      'jwt-public-key': { type: 'string' },
      'jwks-file': { type: 'string' },
      'acl-file': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-ca': { type: 'string' },
      'admin-token': { type: 'string' },
      'shutdown-timeout-ms': { type: 'string' },
      'rate-limit': { type: 'string' },
      'cluster-port': { type: 'string' },
      'cluster-host': { type: 'string' },
      peers: { type: 'string' },
      'cluster-secret': { type: 'string' },
      workers: { type: 'string' },
    },
  });
  const num = (flag: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n)) throw new Error(`--${flag} must be an integer, got ${JSON.stringify(v)}`);
    return n;
  };
  const jwt = dropUndefined({ secret: values['jwt-secret'], publicKeyFile: values['jwt-public-key'], jwksFile: values['jwks-file'] });
  const tls = dropUndefined({ keyFile: values['tls-key'], certFile: values['tls-cert'], caFile: values['tls-ca'] });
  const clusterPort = num('cluster-port', values['cluster-port']);
  const secret = values['cluster-secret'] ?? process.env.RELAYMESH_CLUSTER_SECRET;
  const cluster =
    clusterPort === undefined
      ? undefined
      : dropUndefined({
          port: clusterPort,
          host: values['cluster-host'],
          secret,
          peers: values.peers ? values.peers.split(',').filter(Boolean) : [],
        });
  const options: Record<string, unknown> = {
    cluster,
    anonymous: Object.keys(jwt).length === 0,
    jwt: Object.keys(jwt).length > 0 ? jwt : undefined,
    tls: Object.keys(tls).length > 0 ? tls : undefined,
    nodeId: values['node-id'],
    durability: values.durability,
    aclFile: values['acl-file'],
    adminToken: values['admin-token'],
    limits: values['rate-limit'] === undefined ? undefined : { messagesPerSecond: num('rate-limit', values['rate-limit']) },
    host: values.host,
    port: num('port', values.port),
    dataDir: values['data-dir'],
    shards: num('shards', values.shards),
    heartbeatMs: num('heartbeat-ms', values['heartbeat-ms']),
    idleTimeoutMs: num('idle-timeout-ms', values['idle-timeout-ms']),
    maxFrameBytes: num('max-frame-bytes', values['max-frame-bytes']),
    logLevel: values['log-level'],
    allowUwsFallback: values['allow-uws-fallback'],
  };
  return { options: dropUndefined(options) as BrokerOptions, shutdownTimeoutMs: num('shutdown-timeout-ms', values['shutdown-timeout-ms']) ?? 10_000 };
}

function dropUndefined(values: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined));
}

/**
 * Runs a broker until SIGINT/SIGTERM, then shuts it down gracefully: stop accepting, tell
 * clients to reconnect elsewhere, flush the store. Past the deadline it gives up (exit 1).
 */
export async function runStart(args: string[]): Promise<number> {
  if (args.includes('--workers')) return runWorkers(args);
  const { options, shutdownTimeoutMs } = parseStartArgs(args);
  // Listen for signals before starting, so a stop during start-up is still a clean one.
  const stopRequested = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  const broker = await createBroker(options);
  await stopRequested;
  const deadline = new Promise<number>((resolve) => setTimeout(() => resolve(1), shutdownTimeoutMs).unref());
  return Promise.race([broker.close().then(() => 0), deadline]);
}
