import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { FrameKind } from '../src/index.js';
import { RelaymeshClient } from '../packages/client/src/index.js';
import { startTestBroker } from './helpers/broker.js';
import { watchProcess } from '../kit/broker-process.js';
import { RawClient } from './helpers/raw-client.js';

// Spawns broker processes: a generous bound for a shared, loaded 2-core machine.
t.setTimeout(600_000);

const root = fileURLToPath(new URL('..', import.meta.url));

/** The README's SDK example, pointed at `url`, importing the SDK from this checkout's sources. */
function readmeExample(url: string): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Connect a device (SDK)'));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (!code) throw new Error('README has no SDK example');
  if (!code.includes("'ws://127.0.0.1:8080/'") || !code.includes("from 'relaymesh/client'")) throw new Error('README SDK example changed shape');
  // The package's own name resolves to what it ships; the test runs what this checkout holds.
  return code.replace("'ws://127.0.0.1:8080/'", JSON.stringify(url)).replace("'relaymesh/client'", JSON.stringify(pathToFileURL(join(root, 'packages/client/src/index.ts')).href));
}

t.test('the README SDK example, as written, prints its own message once, delivers its SEND, logs nothing else and exits 0', async (t) => {
  const broker = await startTestBroker(t);
  const dispatcher = await RawClient.connect(broker.url, 'dispatcher');
  t.teardown(() => dispatcher.close());
  const file = join(mkdtempSync(join(tmpdir(), 'relaymesh-readme-')), 'example.mts');
  writeFileSync(file, readmeExample(broker.url));
  for (let run = 1; run <= 3; run++) {
    const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const stderr: string[] = [];
    child.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
    const watched = watchProcess(child);
    t.teardown(() => child.kill('SIGKILL'));
    const exit = await watched.exited;
    t.same(exit, { code: 0, signal: null }, `run ${run}: exits by itself with 0`);
    t.match(watched.output(), /^fleet\/car-17\/speed 88 \S+\n$/, `run ${run}: prints its own message, once, and nothing else`);
    t.equal(stderr.join(''), '', `run ${run}: no warning (a deliberate close is not a lost connection)`);
    const sent = await dispatcher.next(FrameKind.MSG, 30_000);
    t.equal(Buffer.from(sent.payload).toString(), 'arrived', `run ${run}: the SEND written just before close() arrived`);
  }
});

t.test('close() right after QoS 0 publishes: the broker handled every one before the socket closed', async (t) => {
  const broker = await startTestBroker(t);
  const subscriber = await RawClient.connect(broker.url, 'flush-subscriber');
  t.teardown(() => subscriber.close());
  await subscriber.request({ kind: FrameKind.SUB, seq: 1, filters: ['flush/#'] });
  const count = 200;
  for (let round = 1; round <= 3; round++) {
    const publisher = new RelaymeshClient({ url: broker.url, deviceId: `flush-publisher-${round}` });
    await publisher.connect();
    for (let i = 1; i <= count; i++) void publisher.publish('flush/x', `${round}:${i}`);
    await publisher.close();
    const got: string[] = [];
    for (let i = 1; i <= count; i++) got.push(Buffer.from((await subscriber.next(FrameKind.MSG, 30_000)).payload).toString());
    t.same(got, Array.from({ length: count }, (_, i) => `${round}:${i + 1}`), `round ${round}: all ${count} delivered, in order`);
  }
});

t.test('close() waits for the OK of a QoS 1 publish in flight, and refuses requests made after it', async (t) => {
  const broker = await startTestBroker(t);
  const client = new RelaymeshClient({ url: broker.url, deviceId: 'flush-qos1' });
  await client.connect();
  const stored = client.publish('flush/qos1', 'kept', { qos: 1 });
  const closed = client.close();
  await t.rejects(client.publish('flush/qos1', 'too late'), { message: /closed/ });
  const reply = await stored;
  t.type(reply.offset, 'number', 'the publish got its OK, with the stored offset');
  await closed;
  t.equal(client.connected, false);
});
