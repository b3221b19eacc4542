import t from 'tap';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { startTestBroker } from './helpers/broker.js';
import { mqttClient, until } from './helpers/mqtt.js';

const execFileAsync = promisify(execFile);

const hasMosquittoClients = (() => {
  try {
    execFileSync('mosquitto_pub', ['--help'], { stdio: 'ignore' });
    return true;
  } catch (err) {
    // mosquitto_pub --help exits 1 after printing its usage: it is there.
    return (err as { code?: string }).code !== 'ENOENT';
  }
})();

/** Runs mosquitto_sub until it has printed `count` messages (-C), bounded in time (-W). */
function mosquittoSub(args: string[]): Promise<string[]> {
  const child = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-W', '30', ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  // 'close', not 'exit': the process may exit before its last stdout chunk was read.
  return new Promise((resolve) => child.once('close', () => resolve(out.split('\n').filter(Boolean))));
}

/** Async: the broker under test runs in this process and must keep answering. */
async function mosquittoPub(args: string[]): Promise<void> {
  await execFileAsync('mosquitto_pub', ['-h', '127.0.0.1', ...args], { timeout: 30_000 });
}

t.test('mosquitto_sub and mosquitto_pub against relaymesh over TCP: QoS 0 and 1, retained, both protocol versions', { skip: !hasMosquittoClients && 'mosquitto-clients not installed' }, async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const port = String(broker.mqttPort);
  for (const version of ['mqttv311', 'mqttv5']) {
    const sub = mosquittoSub(['-p', port, '-V', version, '-t', `m/${version}/#`, '-q', '1', '-C', '2', '-v', '-i', `sub-${version}`]);
    // Its stdout is block-buffered when piped: the broker tells when it subscribed.
    await until(() => broker.device(`sub-${version}`)?.subscriptions.length === 1, 'mosquitto_sub to subscribe');
    await mosquittoPub(['-p', port, '-V', version, '-t', `m/${version}/a`, '-m', 'qos0', '-q', '0']);
    await mosquittoPub(['-p', port, '-V', version, '-t', `m/${version}/b`, '-m', 'qos1', '-q', '1']);
    t.same(await sub, [`m/${version}/a qos0`, `m/${version}/b qos1`], `${version}: both messages, in order`);
  }
  await mosquittoPub(['-p', port, '-t', 'm/retained', '-m', 'kept', '-q', '1', '-r']);
  const late = mosquittoSub(['-p', port, '-t', 'm/retained', '-C', '1', '-v']);
  t.same(await late, ['m/retained kept'], 'a retained message reaches a later mosquitto_sub');
});

t.test('mosquitto_pub reaches an MQTT.js subscriber over WebSocket', { skip: !hasMosquittoClients && 'mosquitto-clients not installed' }, async (t) => {
  const broker = await startTestBroker(t, { mqtt: { port: 0 } });
  const sub = await mqttClient(t, `ws://127.0.0.1:${broker.port}/mqtt`, { clientId: 'ws-sub' });
  await sub.subscribeAsync('x/y', { qos: 1 });
  await mosquittoPub(['-p', String(broker.mqttPort), '-t', 'x/y', '-m', 'hello', '-q', '1']);
  await until(() => sub.received.length === 1, 'the message');
  t.equal(sub.received[0]!.payload.toString(), 'hello');
});
