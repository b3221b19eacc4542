import t from 'tap';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError, loadStartConfig, renderConfig } from '../src/cli/config.js';
import { SETTINGS } from '../src/cli/settings.js';

const dir = mkdtempSync(join(tmpdir(), 'relaymesh-config-'));
let files = 0;
function file(name: string, text: string): string {
  const path = join(dir, `${files++}-${name}`);
  writeFileSync(path, text);
  return path;
}

function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['bin/relaymesh.js', ...args], { env: { PATH: process.env.PATH, ...env }, timeout: 60_000 }, (_err, stdout, stderr) =>
      resolve({ code: child.exitCode, stdout, stderr }),
    );
  });
}

t.test('precedence: flags over RELAYMESH_* variables over the config file over defaults', async (t) => {
  const yaml = file('relaymesh.yaml', 'port: 7001\nshards: 3\nheartbeatMs: 2000\nretention:\n  maxEntries: 50\n');
  const env = { RELAYMESH_SHARDS: '5', RELAYMESH_HEARTBEAT_MS: '3000' };
  const config = loadStartConfig(['--config', yaml, '--heartbeat-ms=4000'], env);
  t.equal(config.options.port, 7001, 'file over default');
  t.equal(config.options.shards, 5, 'variable over file');
  t.equal(config.options.heartbeatMs, 4000, 'flag over variable');
  t.equal(config.options.retention.maxEntries, 50, 'nested key from the file');
  t.equal(config.options.retention.maxAgeMs, 7 * 24 * 60 * 60 * 1000, 'default for the rest of the group');
  t.equal(config.options.maxInflight, 100, 'default');
  t.equal(config.sources.get('shards'), 'RELAYMESH_SHARDS');
  t.equal(config.sources.get('heartbeatMs'), '--heartbeat-ms');
});

t.test('a JSON config file works like YAML; RELAYMESH_CONFIG names it when --config does not', async (t) => {
  const json = file('relaymesh.json', JSON.stringify({ nodeId: 'edge-1', limits: { maxSubscriptions: 7 }, inboxFullPolicy: 'drop-oldest' }));
  const config = loadStartConfig([], { RELAYMESH_CONFIG: json });
  t.equal(config.options.nodeId, 'edge-1');
  t.equal(config.options.limits.maxSubscriptions, 7);
  t.equal(config.options.inboxFullPolicy, 'drop-oldest');
});

t.test('every broker option has a config key, a flag and a variable by one rule', async (t) => {
  const byKey = new Map(SETTINGS.map((s) => [s.key, s]));
  t.same(pick(byKey.get('retention.maxEntries')), { flag: 'retention-max-entries', env: 'RELAYMESH_RETENTION_MAX_ENTRIES' });
  t.same(pick(byKey.get('trustedProxy.addresses')), { flag: 'trusted-proxy-addresses', env: 'RELAYMESH_TRUSTED_PROXY_ADDRESSES' });
  t.same(pick(byKey.get('jwt.secretFile')), { flag: 'jwt-secret-file', env: 'RELAYMESH_JWT_SECRET_FILE' });
  const config = loadStartConfig(
    ['--trusted-proxy-header', 'x-client-cert', '--trusted-proxy-addresses', '127.0.0.1, 10.0.0.1', '--max-inflight', '7', '--allow-uws-fallback'],
    { RELAYMESH_FANOUT_BRANCHING: '4', RELAYMESH_INBOX_FULL_POLICY: 'drop-oldest' },
  );
  t.same(config.options.trustedProxy, { header: 'x-client-cert', addresses: ['127.0.0.1', '10.0.0.1'] });
  t.equal(config.options.maxInflight, 7);
  t.equal(config.options.allowUwsFallback, true);
  t.equal(config.options.fanout.branching, 4);
  t.equal(config.options.anonymous, false, 'a trusted proxy authenticates devices: not anonymous');
});

function pick(setting: { flag: string; env: string } | undefined): { flag?: string; env?: string } {
  return { flag: setting?.flag, env: setting?.env };
}

t.test('older flag names still work: --rate-limit, --peers, --jwt-public-key, --tls-*', async (t) => {
  const config = loadStartConfig(
    ['--rate-limit', '50', '--cluster-port', '9300', '--cluster-secret', 'a-long-cluster-secret', '--peers', 'b@127.0.0.2:9101', '--jwt-public-key', '/k.pem'],
    {},
  );
  t.equal(config.options.limits.messagesPerSecond, 50);
  t.same(config.options.cluster?.peers, ['b@127.0.0.2:9101']);
  t.equal(config.options.jwt?.publicKeyFile, '/k.pem');
  t.equal(config.options.anonymous, false);
});

t.test('secrets come from files: --jwt-secret-file, --admin-token-file, RELAYMESH_CLUSTER_SECRET_FILE', async (t) => {
  const jwt = file('jwt', 'a-jwt-secret-of-some-length\n');
  const admin = file('admin', 'an-admin-token-0123456789');
  const cluster = file('cluster', 'cluster-secret-0123456789');
  const config = loadStartConfig(['--jwt-secret-file', jwt, '--admin-token-file', admin, '--cluster-port', '9301'], { RELAYMESH_CLUSTER_SECRET_FILE: cluster });
  t.equal(config.options.jwt?.secret, 'a-jwt-secret-of-some-length', 'trailing newline dropped');
  t.equal(config.options.adminToken, 'an-admin-token-0123456789');
  t.equal(config.options.cluster?.secret, 'cluster-secret-0123456789');
});

t.test('bad config: one line naming the key and the source', async (t) => {
  const cases: Array<[string, () => unknown, RegExp]> = [
    ['unknown key in the file', () => loadStartConfig(['--config', file('a.yaml', 'port: 1\nretension:\n  maxEntries: 3\n')], {}), /^unknown setting retension \(.*a\.yaml\)$/],
    ['unknown key in a group', () => loadStartConfig(['--config', file('b.json', '{"limits":{"maxSubs":3}}')], {}), /^unknown setting limits\.maxSubs \(.*b\.json\)$/],
    ['unknown variable', () => loadStartConfig([], { RELAYMESH_PROT: '1' }), /^unknown setting RELAYMESH_PROT \(environment\)/],
    ['unknown flag', () => loadStartConfig(['--prot', '1'], {}), /^unknown flag --prot/],
    ['wrong type in the file', () => loadStartConfig(['--config', file('c.yaml', 'shards: many\n')], {}), /^invalid setting shards = "many" \(.*c\.yaml\): .*expected number/],
    ['wrong type in a variable', () => loadStartConfig([], { RELAYMESH_PORT: 'eighty' }), /^invalid setting port \(RELAYMESH_PORT\): expected a number, got "eighty"$/],
    ['wrong type in a flag', () => loadStartConfig(['--allow-uws-fallback=yes'], {}), /^--allow-uws-fallback: takes no value$/],
    ['out of range', () => loadStartConfig(['--port', '70000'], {}), /^invalid setting port = 70000 \(--port\): /],
    ['not one of the choices', () => loadStartConfig([], { RELAYMESH_DURABILITY: 'never' }), /^invalid setting durability = "never" \(RELAYMESH_DURABILITY\): /],
    ['group that is not a mapping', () => loadStartConfig(['--config', file('d.yaml', 'retention: 5\n')], {}), /^invalid setting retention \(.*d\.yaml\): expected a mapping/],
    ['secret too short, value not shown', () => loadStartConfig(['--admin-token', 'short'], {}), /^invalid setting adminToken \(--admin-token\): use an admin token/],
    ['unreadable config file', () => loadStartConfig(['--config', join(dir, 'missing.yaml')], {}), /^cannot read config file .*missing\.yaml: ENOENT$/],
    ['config file of another kind', () => loadStartConfig(['--config', file('e.toml', 'port = 1')], {}), /^cannot parse config file .*e\.toml: name it \.yaml, \.yml or \.json$/],
    ['config file that does not parse', () => loadStartConfig(['--config', file('f.json', '{port:')], {}), /^cannot parse config file .*f\.json: /],
    ['unreadable secret file', () => loadStartConfig(['--jwt-secret-file', join(dir, 'nope')], {}), /^cannot read jwt\.secretFile .*nope \(--jwt-secret-file\): ENOENT$/],
    ['cluster setting without a cluster port', () => loadStartConfig(['--peers', 'b@127.0.0.2:9101'], {}), /^invalid setting cluster\.peers = \["b@127\.0\.0\.2:9101"\] \(--peers\): takes effect only with cluster\.port/],
    ['workers neither a count nor auto', () => loadStartConfig(['--workers', 'lots'], {}), /^invalid setting workers = "lots" \(--workers\): /],
  ];
  for (const [name, load, message] of cases) {
    const err = catchError(load);
    t.type(err, ConfigError, name);
    t.match(err?.message, message, name);
    t.notMatch(err?.message, /\n/, `${name}: one line`);
  }
});

t.test('an unreadable (not missing) config file is refused the same way', { skip: process.getuid?.() === 0 ? 'root reads any file' : false }, async (t) => {
  const path = file('locked.yaml', 'port: 1\n');
  chmodSync(path, 0o000);
  t.match(catchError(() => loadStartConfig(['--config', path], {}))?.message, /^cannot read config file .*locked\.yaml: EACCES$/);
});

function catchError(fn: () => unknown): Error | undefined {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  return undefined;
}

t.test('--print-config shows the effective settings with secrets masked and where each came from', async (t) => {
  const config = loadStartConfig(['--print-config', '--admin-token', 'admin-token-0123456789', '--jwt-secret=jwt-secret-0123456789'], { RELAYMESH_PORT: '7100' });
  t.equal(config.printConfig, true);
  const text = renderConfig(config);
  t.notMatch(text, /admin-token-0123456789|jwt-secret-0123456789/, 'no secret in the output');
  t.match(text, /port: 7100 # RELAYMESH_PORT/);
  const shown = parseYaml(text) as { adminToken: string; jwt: { secret: string }; shards: number };
  t.equal(shown.adminToken, '********');
  t.equal(shown.jwt.secret, '********');
  t.equal(shown.shards, 16, 'defaults shown too');
});

t.test('the command: bad config exits non-zero with one line on stderr; --print-config and --version answer', async (t) => {
  const bad = await runCli(['start', '--config', file('g.yaml', 'heartbeatMs: -1\n')]);
  t.not(bad.code, 0);
  t.match(bad.stderr, /^relaymesh: invalid setting heartbeatMs = -1 \(.*g\.yaml\): [^\n]*\n$/);
  const printed = await runCli(['start', '--print-config', '--admin-token=admin-token-0123456789'], { RELAYMESH_DATA_DIR: '/srv/relaymesh' });
  t.equal(printed.code, 0);
  t.match(printed.stdout, /dataDir: \/srv\/relaymesh # RELAYMESH_DATA_DIR/);
  t.notMatch(printed.stdout, /admin-token-0123456789/);
  const version = await runCli(['--version']);
  t.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
});

t.test('docs/configuration.md lists every setting with its flag and variable', async (t) => {
  const doc = readFileSync('docs/configuration.md', 'utf8');
  for (const s of SETTINGS) {
    const flag = s.kind === 'map' ? '(file only)' : `\`--${s.flag}\``;
    t.ok(doc.includes(`| \`${s.key}\` | ${flag} |`), s.key);
  }
});
