import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { CONFIG_ENV, CONFIG_FLAG, WORKER_OF_ENV, FLAG_ALIASES, GROUPS, parseSettingText, SETTINGS, SETTINGS_BY_KEY, type Setting } from './settings.js';

/** Bad configuration: the message is one line naming the key and where it came from. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** A value and where it was set: `--port`, `RELAYMESH_PORT`, or the config file's path. */
export interface SourcedValue {
  value: unknown;
  source: string;
}

/** The settings one source gives, by dotted key. */
export type SourceValues = Map<string, SourcedValue>;

/** A flag as typed, with the setting it sets: `--workers` re-plans some of them for each worker. */
export interface FlagToken {
  key: string;
  raw: string[];
}

export interface FlagValues {
  values: SourceValues;
  tokens: FlagToken[];
  configFile: string | undefined;
  printConfig: boolean;
}

const PRINT_CONFIG_FLAG = 'print-config';

/** Flags of `relaymesh start`; `--key=value` and `--key value` both work (node:util parseArgs). */
export function readFlags(args: string[]): FlagValues {
  const keyOfFlag = new Map<string, string>(Object.entries(FLAG_ALIASES));
  const options: Record<string, { type: 'string' | 'boolean' }> = {
    [CONFIG_FLAG]: { type: 'string' },
    [PRINT_CONFIG_FLAG]: { type: 'boolean' },
  };
  for (const s of SETTINGS) {
    if (s.kind === 'map') continue;
    keyOfFlag.set(s.flag, s.key);
    options[s.flag] = { type: s.kind === 'boolean' ? 'boolean' : 'string' };
  }
  for (const alias of Object.keys(FLAG_ALIASES)) options[alias] = { type: 'string' };
  let parsed;
  try {
    parsed = parseArgs({ args, options, strict: true, tokens: true });
  } catch (err) {
    throw new ConfigError(flagProblem(err as Error & { code?: string }));
  }
  const values: SourceValues = new Map();
  const tokens: FlagToken[] = [];
  for (const token of parsed.tokens) {
    if (token.kind !== 'option') continue;
    const key = keyOfFlag.get(token.name);
    if (key === undefined) continue;
    const setting = SETTINGS_BY_KEY.get(key)!;
    const source = `--${token.name}`;
    const value = token.value === undefined ? true : fromText(setting, token.value, source);
    values.set(key, { value, source });
    tokens.push({ key, raw: [token.rawName, ...(token.value !== undefined ? [token.value] : [])] });
  }
  const configFile = parsed.values[CONFIG_FLAG];
  return { values, tokens, configFile: typeof configFile === 'string' ? configFile : undefined, printConfig: parsed.values[PRINT_CONFIG_FLAG] === true };
}

function flagProblem(err: Error & { code?: string }): string {
  const flag = /'(-[^' ]+)/.exec(err.message)?.[1];
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown flag ${flag} (relaymesh start --help lists them)`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument: ${err.message.replace(/^Unexpected argument '([^']*)'.*$/s, '$1')} (flags take the form --key value or --key=value)`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return `${flag ?? 'flag'}: ${/does not take an argument/.test(err.message) ? 'takes no value' : 'needs a value'}`;
    default:
      return err.message.split('\n')[0]!;
  }
}

/** `RELAYMESH_<KEY>` variables; any other RELAYMESH_ variable is a mistake worth stopping for. */
export function readEnv(env: NodeJS.ProcessEnv): SourceValues {
  const byName = new Map(SETTINGS.filter((s) => s.kind !== 'map').map((s) => [s.env, s]));
  const values: SourceValues = new Map();
  for (const [name, text] of Object.entries(env)) {
    if (!name.startsWith('RELAYMESH_') || name === CONFIG_ENV || name === WORKER_OF_ENV || text === undefined) continue;
    const setting = byName.get(name);
    if (!setting) throw new ConfigError(`unknown setting ${name} (environment): variables are RELAYMESH_ and the key in upper snake case, e.g. RELAYMESH_DATA_DIR`);
    values.set(setting.key, { value: fromText(setting, text, name), source: name });
  }
  return values;
}

function fromText(setting: Setting, text: string, source: string): unknown {
  try {
    return parseSettingText(setting, text);
  } catch (err) {
    throw new ConfigError(`invalid setting ${setting.key} (${source}): ${(err as Error).message}`);
  }
}

/** A YAML (.yaml, .yml) or JSON (.json) file whose keys are setting keys, nested by group. */
export function readConfigFile(path: string): SourceValues {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let document: unknown;
  try {
    const ext = extname(path).toLowerCase();
    if (ext === '.json') document = JSON.parse(text);
    else if (ext === '.yaml' || ext === '.yml') document = parseYaml(text);
    else throw new Error('name it .yaml, .yml or .json');
  } catch (err) {
    throw new ConfigError(`cannot parse config file ${path}: ${(err as Error).message.split('\n')[0]}`);
  }
  const values: SourceValues = new Map();
  if (document === null || document === undefined) return values;
  flatten(document, '', path, values);
  return values;
}

function flatten(node: unknown, prefix: string, path: string, into: SourceValues): void {
  const where = prefix ? prefix.slice(0, -1) : '(top level)';
  if (typeof node !== 'object' || node === null || Array.isArray(node)) {
    throw new ConfigError(`invalid setting ${where} (${path}): expected a mapping of keys to values`);
  }
  for (const [name, value] of Object.entries(node)) {
    const key = prefix + name;
    if (SETTINGS_BY_KEY.has(key)) into.set(key, { value, source: path });
    else if (GROUPS.has(key)) flatten(value, `${key}.`, path, into);
    else throw new ConfigError(`unknown setting ${key} (${path})`);
  }
}

/** Replaces each `<key>File` setting by the secret its file holds (without a trailing newline). */
export function readSecretFiles(values: SourceValues): SourceValues {
  const out: SourceValues = new Map();
  for (const [key, entry] of values) {
    const target = SETTINGS_BY_KEY.get(key)?.fileFor;
    if (target === undefined) {
      if (!out.has(key)) out.set(key, entry);
      continue;
    }
    if (typeof entry.value !== 'string') throw new ConfigError(`invalid setting ${key} (${entry.source}): expected a file path`);
    let secret: string;
    try {
      secret = readFileSync(entry.value, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new ConfigError(`cannot read ${key} ${entry.value} (${entry.source}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    out.set(target, { value: secret, source: `${entry.source} (file ${entry.value})` });
  }
  return out;
}
