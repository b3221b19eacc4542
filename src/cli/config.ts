import { randomBytes } from 'node:crypto';
import { Document } from 'yaml';
import { checkOptions, type BrokerOptions, type ResolvedOptions } from '../broker/options.js';
import { ConfigError, readConfigFile, readEnv, readFlags, readSecretFiles, type FlagToken, type SourceValues } from './config-sources.js';
import { CONFIG_ENV, SETTINGS, SETTINGS_BY_KEY, startSchema } from './settings.js';

export { ConfigError };

/** What `relaymesh start` runs with, after every source was read and validated. */
export interface StartConfig {
  options: ResolvedOptions;
  workers: number | 'auto';
  shutdownTimeoutMs: number;
  printConfig: boolean;
  /** The flags as typed, by setting (workers re-plan node id, data dir and cluster ones). */
  flagTokens: FlagToken[];
  /** Where each setting that is not a default came from. */
  sources: Map<string, string>;
}

const DEFAULT_CLUSTER_PORT = 9101;
const DEFAULT_ETCD_ENDPOINT = 'http://127.0.0.1:2379';
const DEFAULT_MQTT_PORT = 1883;

/**
 * Reads the settings of `relaymesh start`: defaults < config file < RELAYMESH_* variables <
 * flags, then validates them once. Throws ConfigError (one line: key and source) on bad config.
 */
export function loadStartConfig(args: string[], env: NodeJS.ProcessEnv): StartConfig {
  const flags = readFlags(args);
  const fromEnv = readEnv(env);
  const configFile = flags.configFile ?? env[CONFIG_ENV];
  const fromFile = configFile === undefined ? new Map() : readConfigFile(configFile);
  const merged: SourceValues = new Map([...readSecretFiles(fromFile), ...readSecretFiles(fromEnv), ...readSecretFiles(flags.values)]);

  const start = startSchema.safeParse(nest(merged, (key) => key in startSchema.shape));
  if (!start.success) throw problemError(start.error.issues[0]!.path.join('.'), start.error.issues[0]!.message, merged);
  const brokerInput = applyCommandDefaults(nest(merged, (key) => !(key in startSchema.shape)), merged, start.data.workers !== 0);
  const checked = checkOptions(brokerInput as BrokerOptions);
  if ('problems' in checked) throw problemError(checked.problems[0]!.path, checked.problems[0]!.message, merged);
  return {
    options: checked.options,
    workers: start.data.workers,
    shutdownTimeoutMs: start.data.shutdownTimeoutMs,
    printConfig: flags.printConfig,
    flagTokens: flags.tokens,
    sources: new Map([...merged].map(([key, { source }]) => [key, source])),
  };
}

/** Nested options object from dotted keys. */
function nest(values: SourceValues, include: (topKey: string) => boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, { value }] of values) {
    const path = key.split('.');
    if (!include(path[0]!)) continue;
    let node = out;
    for (const part of path.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
    node[path.at(-1)!] = value;
  }
  return out;
}

/**
 * What the command decides that embedding leaves to the caller: with no device authentication
 * configured it runs in anonymous mode; a cluster is joined when `cluster.port` is set (a
 * `--workers` parent plans the ports itself and only needs the shared secret).
 */
function applyCommandDefaults(input: Record<string, unknown>, merged: SourceValues, planningWorkers: boolean): Record<string, unknown> {
  const out = { ...input };
  if (!merged.has('anonymous')) out.anonymous = out.jwt === undefined && out.trustedProxy === undefined;
  const cluster = out.cluster as Record<string, unknown> | undefined;
  if (cluster !== undefined && cluster.port === undefined && !planningWorkers) {
    const stray = Object.keys(cluster).find((key) => key !== 'secret');
    if (stray !== undefined) throw problemError(`cluster.${stray}`, 'takes effect only with cluster.port (this node\'s cluster port)', merged);
    delete out.cluster;
  }
  if (planningWorkers) {
    out.cluster = { port: DEFAULT_CLUSTER_PORT, secret: randomBytes(24).toString('hex'), ...cluster };
  }
  // The command serves MQTT over TCP on the standard port unless told otherwise (`--mqtt-port off`).
  if (!planningWorkers && !merged.has('mqtt.port')) out.mqtt = { ...(out.mqtt as object | undefined), port: DEFAULT_MQTT_PORT };
  const discovery = merged.get('discovery')?.value;
  const joined = out.cluster as Record<string, unknown> | undefined;
  if (joined && discovery === 'etcd') joined.etcd = { endpoints: [DEFAULT_ETCD_ENDPOINT], ...(joined.etcd as object | undefined) };
  if (joined && discovery === 'static') delete joined.etcd;
  return out;
}

function problemError(path: string, message: string, merged: SourceValues): ConfigError {
  const exact = merged.get(path);
  const within = [...merged].find(([key]) => key.startsWith(`${path}.`))?.[1];
  const source = (exact ?? within)?.source ?? 'default';
  const setting = SETTINGS_BY_KEY.get(path);
  const shown = exact === undefined || setting?.secret ? '' : ` = ${JSON.stringify(exact.value)}`;
  return new ConfigError(`invalid setting ${path || '(config)'}${shown} (${source}): ${message}`);
}

const MASK = '********';

/** The effective settings as YAML, secrets masked, each non-default value followed by its source. */
export function renderConfig(config: StartConfig): string {
  const shown: Record<string, unknown> = { ...config.options, workers: config.workers, shutdownTimeoutMs: config.shutdownTimeoutMs };
  const doc = new Document(shown);
  for (const setting of SETTINGS) {
    const path = setting.key.split('.');
    if (setting.secret && doc.hasIn(path)) doc.setIn(path, MASK);
    const source = config.sources.get(setting.key);
    const node = doc.getIn(path, true) as { comment?: string | null } | undefined;
    if (source !== undefined && node && typeof node === 'object') node.comment = ` ${source}`;
  }
  return doc.toString();
}
