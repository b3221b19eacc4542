import { parseArgs } from 'node:util';
import { createBroker } from '../broker/broker.js';
import type { BrokerOptions } from '../broker/options.js';
import { runWorkers } from './workers.js';

export const START_USAGE = `relaymesh start [options]

  --host <addr>            address to listen on (default 0.0.0.0)
  --port <n>               WebSocket port (default 8080; 0 picks a free one)
  --data-dir <dir>         LMDB data directory (default ./data)
  --shards <n>             shard supervisors (default 16)
  --heartbeat-ms <n>       client ping interval (default 30000)
  --idle-timeout-ms <n>    close silent connections after this (default 2.5 x heartbeat)
  --max-frame-bytes <n>    largest accepted frame (default 262144)
  --log-level <level>      fatal|error|warn|info|debug|trace|silent (default info)
  --node-id <name>         this broker's name (default node-1)
  --durability <mode>      flush (QoS 1 acked once on disk, default) | commit (once committed)
  --jwt-secret <secret>    verify HS256 device tokens with this secret
  --jwt-public-key <file>  verify RS256/ES256 device tokens with this PEM public key
  --jwks-file <file>       verify device tokens with the keys of this JWKS file
  --acl-file <file>        static topic ACL (JSON) for tokens without a scope
  --tls-key <file> --tls-cert <file> [--tls-ca <file>]   serve wss:// (client certificates checked against the CA)
  --admin-token <token>    enable the admin HTTP API (/admin/...) behind this bearer token
  --cluster-port <n>       join a cluster: this node's cluster port (with --peers and a secret)
  --cluster-host <addr>    address of the cluster port (default 127.0.0.1)
  --peers <list>           seed peers, nodeId@host:port,... (e.g. b@127.0.0.2:9101)
  --cluster-secret <s>     shared cluster secret (or RELAYMESH_CLUSTER_SECRET)
  --workers <n|auto>       run n broker processes on this machine sharing the device port
                           (auto: one per core), clustered, each with its own data dir
                           (<data-dir>/w<i>) and cluster port (--cluster-port + i); a worker
                           that dies is restarted on its data dir
  --mqtt-port <n|off>      MQTT 3.1.1/5.0 over TCP (TLS with --tls-*) on this port (default 1883;
                           off: none). MQTT over WebSocket is always on the WebSocket port at /mqtt.
                           With --workers, MQTT over TCP is off unless given, then served by worker 1
  --rate-limit <n>         frames per second a connection may send (default 10000)
  --shutdown-timeout-ms <n>  on SIGTERM, exit after at most this (default 10000)
  --allow-uws-fallback     run even if uWebSockets.js fell back to pure JS (slow)

Without --jwt-* options, start accepts any device (anonymous mode) and logs so.`;

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
      'mqtt-port': { type: 'string' },
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
    mqtt: values['mqtt-port'] === 'off' ? {} : { port: num('mqtt-port', values['mqtt-port']) ?? 1883 },
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
