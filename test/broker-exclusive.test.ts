import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBroker, DataDirLockedError, PortInUseError } from '../src/index.js';
import { LOCK_FILE } from '../src/broker/ops/data-dir-lock.js';
import { freePort } from './helpers/broker.js';
import { startArgs, startBrokerProcess, watchProcess } from '../kit/broker-process.js';
import { RawClient } from './helpers/raw-client.js';

// Spawns broker processes: a generous bound for a shared, loaded 2-core machine.
t.setTimeout(600_000);

const tempDir = () => mkdtempSync(join(tmpdir(), 'relaymesh-exclusive-'));
const embedded = (dataDir: string, port = 0) => createBroker({ host: '127.0.0.1', port, dataDir, anonymous: true, logLevel: 'silent' });

/** Runs `relaymesh start` expecting it to refuse: resolves with its exit and output. */
async function refusedStart(args: string[]) {
  const child = spawn(process.execPath, ['bin/relaymesh.js', 'start', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const watched = watchProcess(child);
  const exit = await watched.exited;
  return { exit, lines: watched.output().trim().split('\n') };
}

t.test('broker processes: a held data dir and a served port are refused; a broker killed with SIGKILL leaves neither held', async (t) => {
  const port = await freePort();
  const dataDir = tempDir();
  const first = await startBrokerProcess(port, dataDir);
  t.teardown(() => first.child.kill('SIGKILL'));

  const sameDir = await refusedStart(startArgs(await freePort(), dataDir));
  t.equal(sameDir.exit.code, 1, 'same data dir: exit 1');
  t.equal(sameDir.lines.length, 1, `one line: ${sameDir.lines.join(' | ')}`);
  t.match(sameDir.lines[0], new RegExp(`data dir ${dataDir} is in use by another broker \\(pid ${first.child.pid}\\)`));

  const samePort = await refusedStart(startArgs(port, tempDir()));
  t.equal(samePort.exit.code, 1, 'same port: exit 1');
  t.equal(samePort.lines.length, 1, `one line: ${samePort.lines.join(' | ')}`);
  t.match(samePort.lines[0], new RegExp(`port ${port} on 127.0.0.1 is already in use`));

  const workers = await refusedStart(startArgs(port, tempDir(), ['--workers', '2', '--cluster-port', String(await freePort())]));
  t.equal(workers.exit.code, 1, '--workers on a served port: exit 1');
  t.match(workers.lines.join('\n'), new RegExp(`port ${port} on 127.0.0.1 is already in use`));

  const device = await RawClient.connect(first.url, 'still-served');
  t.pass('the first broker still serves');
  device.close();

  first.child.kill('SIGKILL');
  await first.exited;
  t.ok(existsSync(join(dataDir, LOCK_FILE)), 'SIGKILL left the lock file behind');
  const second = await startBrokerProcess(port, dataDir);
  t.teardown(() => second.child.kill('SIGKILL'));
  t.equal(JSON.parse(readFileSync(join(dataDir, LOCK_FILE), 'utf8')).pid, second.child.pid, 'the stale lock was taken over');
  second.child.kill('SIGTERM');
  t.equal((await second.exited).code, 0);
  t.notOk(existsSync(join(dataDir, LOCK_FILE)), 'a clean stop releases the lock');
});

t.test('embedded: a second broker on a held data dir is refused; once closed the data dir is free again', async (t) => {
  const dataDir = tempDir();
  const first = await embedded(dataDir);
  await t.rejects(embedded(dataDir), DataDirLockedError);
  await t.rejects(embedded(dataDir), { message: new RegExp(`data dir ${dataDir} is in use by another broker \\(pid ${process.pid}, this process\\)`) });
  await first.close();
  const again = await embedded(dataDir);
  t.pass('reopened after close');
  await again.close();
});

t.test('embedded: a second broker on a served port is refused', async (t) => {
  const port = await freePort();
  const first = await embedded(tempDir(), port);
  t.teardown(() => first.close());
  await t.rejects(embedded(tempDir(), port), PortInUseError);
});

t.test('a lock naming a process that is gone, or nothing readable, is stale and taken over', async (t) => {
  const gone = spawn(process.execPath, ['-e', '']);
  const deadPid = await new Promise<number>((resolve) => gone.once('exit', () => resolve(gone.pid!)));
  for (const content of [JSON.stringify({ pid: deadPid, started: '1' }), '', 'not json']) {
    const dataDir = tempDir();
    writeFileSync(join(dataDir, LOCK_FILE), content);
    const broker = await embedded(dataDir);
    t.equal(JSON.parse(readFileSync(join(dataDir, LOCK_FILE), 'utf8')).pid, process.pid, `taken over from ${JSON.stringify(content)}`);
    await broker.close();
  }
});

t.test('a lock naming a live process that started at another time (a reused pid) is stale', async (t) => {
  const dataDir = tempDir();
  // The parent of this test runner is alive; the lock claims a start time it does not have.
  writeFileSync(join(dataDir, LOCK_FILE), JSON.stringify({ pid: process.ppid, started: 'not-its-start-time' }));
  const broker = await embedded(dataDir);
  t.equal(JSON.parse(readFileSync(join(dataDir, LOCK_FILE), 'utf8')).pid, process.pid);
  await broker.close();
});

t.test('embedded: a start-up that fails after taking the data dir lets go of it, so a retry works', async (t) => {
  const dataDir = tempDir();
  const missingKey = join(dataDir, 'no-such-key.pem');
  await t.rejects(createBroker({ host: '127.0.0.1', port: 0, dataDir, logLevel: 'silent', jwt: { publicKeyFile: missingKey } }));
  t.notOk(existsSync(join(dataDir, LOCK_FILE)), 'the lock is gone');
  const retry = await embedded(dataDir);
  t.pass('the retry starts');
  await retry.close();
});
