import { z } from 'zod';
import type { Authenticator } from './auth/index.js';

/**
 * Broker options with their defaults. Validated once, at start-up, with readable errors. The
 * CLI derives its settings (config file keys, RELAYMESH_* variables, flags) from this shape.
 */
export const optionsSchema = z
  .object({
    host: z.string().min(1).default('0.0.0.0'),
    port: z.number().int().min(0).max(65535).default(8080),
    /** WebSocket path devices connect to. */
    path: z.string().startsWith('/').default('/'),
    dataDir: z.string().min(1).default('./data'),
    /**
     * The port is shared on purpose with sibling processes of this deployment (`--workers`):
     * don't refuse it for being served already.
     */
    sharedPort: z.boolean().default(false),
    /** Shard supervisors that own device actors. */
    shards: z.number().int().min(1).max(4096).default(16),
    /** Interval at which clients are told to ping. */
    heartbeatMs: z.number().int().min(100).default(30_000),
    /** A connection silent for longer than this is closed (default 2.5 × heartbeat). */
    idleTimeoutMs: z.number().int().min(200).optional(),
    /** Time a new socket has to send HELLO and finish authenticating. */
    handshakeTimeoutMs: z.number().int().min(100).default(10_000),
    maxFrameBytes: z.number().int().min(256).max(64 * 1024 * 1024).default(256 * 1024),
    /** Unacknowledged QoS 1 deliveries per device. */
    maxInflight: z.number().int().min(1).max(65_535).default(100),
    /** A QoS 1 delivery not acknowledged within this is sent again. */
    ackTimeoutMs: z.number().int().min(50).default(10_000),
    /** How long the broker keeps the session (subscriptions, stored messages) of a device that went away. */
    sessionExpiryMs: z.number().int().min(1000).default(24 * 60 * 60 * 1000),
    /** Retention of every stream: the newest `maxEntries`, none older than `maxAgeMs`. */
    retention: z
      .object({ maxEntries: z.number().int().min(1).default(100_000), maxAgeMs: z.number().int().min(1000).default(7 * 24 * 60 * 60 * 1000) })
      .strict()
      .default({ maxEntries: 100_000, maxAgeMs: 7 * 24 * 60 * 60 * 1000 }),
    /** Stored, unacknowledged messages a device's inbox may hold, and what happens when it is full. */
    maxInboxEntries: z.number().int().min(1).default(10_000),
    inboxFullPolicy: z.enum(['reject', 'drop-oldest']).default('reject'),
    /** Period of the store maintenance (pruning acked entries, retention, session expiry). */
    maintenanceIntervalMs: z.number().int().min(50).default(5_000),
    /** 'flush': QoS 1 accepted only once synced to disk; 'commit': once committed (survives a process crash, not power loss). */
    durability: z.enum(['flush', 'commit']).default('flush'),
    /** Bytes buffered in the kernel and uWS for one socket before it is closed as a slow consumer. */
    maxBackpressureBytes: z.number().int().min(1024).default(4 * 1024 * 1024),
    /** Device actor restarts allowed within `restartWindowMs` before its connection is closed. */
    maxRestarts: z.number().int().min(0).default(5),
    restartWindowMs: z.number().int().min(1).default(10_000),
    /** Shape of each topic filter's fan-out tree (see the README's architecture section). */
    fanout: z
      .object({ branching: z.number().int().min(1).max(1024).default(16), leafSize: z.number().int().min(1).default(256) })
      .strict()
      .default({ branching: 16, leafSize: 256 }),
    /** Buffered bytes above which QoS 0 deliveries to a socket are dropped (and counted). */
    softBackpressureBytes: z.number().int().min(1024).default(512 * 1024),
    /** This broker's name in logs, the admin API and (later) the cluster. */
    nodeId: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, . _ - (at most 64)').default('node-1'),
    /**
     * Operator tools. `benchReportsDir`: where the dashboard finds the HTML reports of
     * `relaymesh bench … --html` (default: ./bench/results when that directory exists).
     */
    ops: z.object({ benchReportsDir: z.string().min(1).optional() }).strict().default({}),
    /** Bearer token for the admin HTTP API (/admin/...); the API is off without one. */
    adminToken: z.string().min(16, 'use an admin token of at least 16 characters').optional(),
    /** Join a cluster of brokers (nodeId names this node in it). */
    cluster: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(9101),
        secret: z.string().min(16, 'use a cluster secret of at least 16 characters'),
        peers: z.array(z.string()).default([]),
        /**
         * A QoS 1 SEND not stored by the destination node within this gets ERROR 501 UNAVAILABLE
         * (retriable); the message stays queued at this node, also across a restart, and is still delivered.
         * Below the SDK's 10 s request timeout, so SDK senders hear the ERROR.
         */
        forwardTimeoutMs: z.number().int().min(1).default(5_000),
        /** Find peers through etcd (alongside any static `peers`): register under a lease, watch the prefix. */
        etcd: z
          .object({
            endpoints: z.array(z.string().regex(/^https?:\/\/[^/\s]+\/?$/, 'expected http://host:port')).min(1, 'give at least one endpoint'),
            prefix: z.string().regex(/^\/[^\s]*$/, 'expected a key prefix starting with /').default('/relaymesh'),
            leaseTtlSeconds: z.number().int().min(1).max(3600).default(5),
          })
          .strict()
          .optional(),
        /** Encrypt cluster links (wss) with these PEM files; each node's certificate must be issued by the CA. */
        tls: z.object({ keyFile: z.string().min(1), certFile: z.string().min(1), caFile: z.string().min(1) }).strict().optional(),
        linkDelays: z.record(z.string(), z.number().min(0)).optional(),
        /** Cluster timing (defaults: the cluster node's): hop ack and device look-up timeout, silent link, silent node. */
        ackTimeoutMs: z.number().int().min(50).optional(),
        linkTimeoutMs: z.number().int().min(20).optional(),
        nodeTimeoutMs: z.number().int().min(50).optional(),
      })
      .strict()
      .optional(),
    /** Accept any device without credentials. Off unless asked for. */
    anonymous: z.boolean().default(false),
    /** JWT device tokens: HS256 secret, or an RS256/ES256 public key file, or a JWKS file. */
    jwt: z
      .object({
        secret: z.string().min(16, 'use a secret of at least 16 characters').optional(),
        publicKeyFile: z.string().optional(),
        jwksFile: z.string().optional(),
        issuer: z.string().optional(),
        audience: z.string().optional(),
      })
      .strict()
      .refine((j) => [j.secret, j.publicKeyFile, j.jwksFile].filter(Boolean).length === 1, 'give exactly one of secret, publicKeyFile, jwksFile')
      .optional(),
    /** Static ACL file (JSON), used for devices whose token carries no scope. */
    aclFile: z.string().optional(),
    /**
     * Device identity from a TLS-terminating proxy: the header carrying the client certificate's
     * subject, trusted only on connections from these addresses.
     */
    trustedProxy: z.object({ header: z.string().min(1), addresses: z.array(z.string()).min(1) }).strict().optional(),
    /** Per-connection limits; exceeding one gets an error frame, repeated abuse closes the connection. */
    limits: z
      .object({
        messagesPerSecond: z.number().positive().default(10_000),
        bytesPerSecond: z.number().positive().default(16 * 1024 * 1024),
        maxSubscriptions: z.number().int().min(1).default(1000),
        maxConnectionsPerAddress: z.number().int().min(1).default(100_000),
        /** Limit violations within 10 s that close the connection. */
        abuseThreshold: z.number().int().min(1).default(50),
      })
      .strict()
      .default({ messagesPerSecond: 10_000, bytesPerSecond: 16 * 1024 * 1024, maxSubscriptions: 1000, maxConnectionsPerAddress: 100_000, abuseThreshold: 50 }),
    /**
     * MQTT 3.1.1/5.0 devices: over WebSocket (subprotocol `mqtt`) on the broker's port at `path`,
     * and over TCP (TLS with `tls`) on `port` when given (0 picks a free one; absent or 'off': none).
     */
    mqtt: z
      .object({ path: z.string().startsWith('/').default('/mqtt'), port: z.union([z.number().int().min(0).max(65535), z.literal('off')]).optional() })
      .strict()
      .default({ path: '/mqtt' }),
    allowUwsFallback: z.boolean().default(false),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    tls: z
      .object({ keyFile: z.string(), certFile: z.string(), caFile: z.string().optional(), passphrase: z.string().optional() })
      .optional(),
  })
  .strict();

export type BrokerOptions = z.input<typeof optionsSchema> & {
  /** Verifies a device's credentials. Required unless `anonymous` is true. */
  authenticate?: Authenticator;
};

export type ResolvedOptions = z.output<typeof optionsSchema> & {
  idleTimeoutMs: number;
  authenticate?: Authenticator;
};

export class OptionsError extends Error {
  override name = 'OptionsError';
}

/** One thing wrong with the options: the key's dotted path (empty for the whole) and what is wrong. */
export interface OptionsProblem {
  path: string;
  message: string;
}

export function resolveOptions(input: BrokerOptions = {}): ResolvedOptions {
  const result = checkOptions(input);
  if ('problems' in result) {
    throw new OptionsError(`invalid broker options:\n  ${result.problems.map((p) => `${p.path || '(options)'}: ${p.message}`).join('\n  ')}`);
  }
  return result.options;
}

/** Validates options and applies defaults; the problems name the offending key. */
export function checkOptions(input: BrokerOptions): { options: ResolvedOptions } | { problems: OptionsProblem[] } {
  const { authenticate, ...rest } = input;
  const parsed = optionsSchema.safeParse(rest);
  if (!parsed.success) {
    return {
      problems: parsed.error.issues.flatMap((issue) =>
        issue.code === 'unrecognized_keys'
          ? issue.keys.map((key) => ({ path: [...issue.path, key].join('.'), message: 'unknown option' }))
          : [{ path: issue.path.join('.'), message: issue.message }],
      ),
    };
  }
  const options = parsed.data;
  const problem = (path: string, message: string) => ({ problems: [{ path, message }] });
  if (authenticate !== undefined && typeof authenticate !== 'function') return problem('authenticate', 'must be a function');
  if (!authenticate && !options.jwt && !options.trustedProxy && !options.anonymous) {
    return problem('anonymous', 'give `jwt` or `authenticate` to check device credentials, or set `anonymous: true` to accept any device');
  }
  if (options.softBackpressureBytes > options.maxBackpressureBytes) {
    return problem('softBackpressureBytes', `${options.softBackpressureBytes} must not exceed maxBackpressureBytes (${options.maxBackpressureBytes})`);
  }
  if (options.mqtt.path === options.path) {
    throw new OptionsError(`invalid broker options:\n  mqtt.path: must differ from path (${options.path})`);
  }
  const idleTimeoutMs = options.idleTimeoutMs ?? Math.round(options.heartbeatMs * 2.5);
  if (idleTimeoutMs <= options.heartbeatMs) return problem('idleTimeoutMs', `${idleTimeoutMs} must exceed heartbeatMs (${options.heartbeatMs})`);
  return { options: { ...options, idleTimeoutMs, ...(authenticate ? { authenticate } : {}) } };
}
