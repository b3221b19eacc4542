import { z } from 'zod';
import { optionsSchema } from '../broker/options.js';

/**
 * Settings of `relaymesh start`: every broker option plus the few that only the command has.
 * One naming rule for all of them: the config file key is the option's path (`retention.maxEntries`,
 * nested in YAML/JSON), the flag is that path in kebab case (`--retention-max-entries`), the
 * environment variable is RELAYMESH_ and the path in upper snake case (`RELAYMESH_RETENTION_MAX_ENTRIES`).
 */
export const startSchema = z
  .object({
    /** Broker processes to run sharing the device port (`auto`: one per core); 0 runs the broker in this process. */
    workers: z.union([z.literal('auto'), z.number().int().min(0).max(64)]).default(0),
    /** On SIGTERM, exit after at most this. */
    shutdownTimeoutMs: z.number().int().min(0).default(10_000),
    /** `etcd`: find peers in etcd too (cluster.etcd, endpoints default http://127.0.0.1:2379); `static`: cluster.peers only. */
    discovery: z.enum(['static', 'etcd']).optional(),
  })
  .strict();

/** How a string from a flag or a variable becomes a value; `map` is for the config file only. */
export type SettingKind = 'string' | 'number' | 'boolean' | 'list' | 'count-or-auto' | 'map';

export interface Setting {
  /** Dotted path, as in the config file and BrokerOptions. */
  key: string;
  kind: SettingKind;
  flag: string;
  env: string;
  /** Masked by --print-config; also read from the file a `<key>File` setting names. */
  secret: boolean;
  /** For `<key>File` settings: the secret whose value the named file holds. */
  fileFor?: string;
}

const SECRETS = ['jwt.secret', 'adminToken', 'cluster.secret', 'tls.passphrase'];

/** Flag names from before the naming rule, still accepted. */
export const FLAG_ALIASES: Record<string, string> = {
  'jwt-public-key': 'jwt.publicKeyFile',
  'jwks-file': 'jwt.jwksFile',
  'tls-key': 'tls.keyFile',
  'tls-cert': 'tls.certFile',
  'tls-ca': 'tls.caFile',
  'rate-limit': 'limits.messagesPerSecond',
  peers: 'cluster.peers',
  'etcd-endpoints': 'cluster.etcd.endpoints',
  'etcd-prefix': 'cluster.etcd.prefix',
  'etcd-lease-ttl': 'cluster.etcd.leaseTtlSeconds',
  'cluster-tls-key': 'cluster.tls.keyFile',
  'cluster-tls-cert': 'cluster.tls.certFile',
  'cluster-tls-ca': 'cluster.tls.caFile',
};

/** The config file's own path: a flag or a variable, never a key inside a file. */
export const CONFIG_FLAG = 'config';
export const CONFIG_ENV = 'RELAYMESH_CONFIG';
/** Set by `start --workers` on each worker it spawns (its pid): not a setting. */
export const WORKER_OF_ENV = 'RELAYMESH_WORKER_OF';

function words(key: string): string[] {
  return key.split('.').flatMap((part) => part.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase().split(' '));
}

function setting(key: string, kind: SettingKind, fileFor?: string): Setting {
  const parts = words(key);
  return {
    key,
    kind,
    flag: parts.join('-'),
    env: `RELAYMESH_${parts.join('_').toUpperCase()}`,
    secret: SECRETS.includes(key),
    ...(fileFor !== undefined ? { fileFor } : {}),
  };
}

function kindOf(schema: z.ZodType): SettingKind | 'group' {
  let inner = schema;
  while (inner instanceof z.ZodOptional || inner instanceof z.ZodDefault) inner = inner.unwrap() as z.ZodType;
  if (inner instanceof z.ZodObject) return 'group';
  if (inner instanceof z.ZodNumber) return 'number';
  if (inner instanceof z.ZodBoolean) return 'boolean';
  if (inner instanceof z.ZodArray) return 'list';
  if (inner instanceof z.ZodRecord) return 'map';
  if (inner instanceof z.ZodUnion) return 'count-or-auto';
  return 'string';
}

function collect(shape: Record<string, z.ZodType>, prefix: string): Setting[] {
  return Object.entries(shape).flatMap(([name, schema]) => {
    const key = prefix + name;
    const kind = kindOf(schema);
    if (kind === 'group') {
      let inner = schema;
      while (inner instanceof z.ZodOptional || inner instanceof z.ZodDefault) inner = inner.unwrap() as z.ZodType;
      return collect((inner as z.ZodObject).shape as Record<string, z.ZodType>, `${key}.`);
    }
    const own = setting(key, kind);
    return own.secret ? [own, setting(`${key}File`, 'string', key)] : [own];
  });
}

/** Every setting, derived from the schemas so a new broker option is settable everywhere at once. */
export const SETTINGS: readonly Setting[] = [
  ...collect(optionsSchema.shape as Record<string, z.ZodType>, ''),
  ...collect(startSchema.shape as Record<string, z.ZodType>, ''),
];

export const SETTINGS_BY_KEY = new Map(SETTINGS.map((s) => [s.key, s]));

/** Keys that hold other keys in the config file (`retention`, `limits`, `jwt`, ...). */
export const GROUPS = new Set(SETTINGS.filter((s) => s.key.includes('.')).map((s) => s.key.slice(0, s.key.lastIndexOf('.'))));

/** A flag's or variable's text as the setting's value; throws a message for the one-line error. */
export function parseSettingText(setting: Setting, text: string): unknown {
  switch (setting.kind) {
    case 'number': {
      const n = Number(text);
      if (text.trim() === '' || !Number.isFinite(n)) throw new Error(`expected a number, got ${JSON.stringify(text)}`);
      return n;
    }
    case 'boolean':
      if (/^(true|1|yes|on)$/i.test(text)) return true;
      if (/^(false|0|no|off)$/i.test(text)) return false;
      throw new Error(`expected true or false, got ${JSON.stringify(text)}`);
    case 'list':
      return text.split(',').map((item) => item.trim()).filter(Boolean);
    case 'count-or-auto':
      return /^\d+$/.test(text) ? Number(text) : text;
    case 'map':
      throw new Error('can only be set in the config file');
    case 'string':
      return text;
  }
}
