import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { openLmdbStore } from '../src/store/index.js';

/**
 * A writer killed with SIGKILL mid-stream loses nothing it was told is committed, and the
 * next process continues the offsets after the last committed entry.
 */

const STORE_MODULE = fileURLToPath(new URL('../src/store/lmdb-store.ts', import.meta.url));
const TOTAL = 5000;
const KILL_AFTER = 1234;
const BATCH = 20;

/**
 * The child: issues BATCH appends every millisecond without waiting for earlier ones, so that
 * commits are in flight when it dies, and prints "offset index" as each append resolves.
 */
const WRITER = `
const [storeModule, dir, total, batch] = process.argv.slice(1);
const { openLmdbStore } = await import(storeModule);
const store = await openLmdbStore(dir);
const writes = [];
for (let j = 0; j < Number(total); j++) {
  const written = store.append('crash', { payload: Buffer.from('m' + j), traceId: 't' + j });
  writes.push(written.then(({ offset }) => process.stdout.write(offset + ' ' + j + '\\n')));
  if (j % Number(batch) === Number(batch) - 1) await new Promise((resolve) => setTimeout(resolve, 1));
}
await Promise.all(writes);
process.stdout.write('done\\n');
`;

interface Run {
  committed: Map<number, number>;
  finished: boolean;
  signal: NodeJS.Signals | null;
}

/** Runs the writer and kills it once KILL_AFTER appends were reported, or after `deadlineMs`. */
function runWriterAndKill(dir: string, deadlineMs: number): Promise<Run> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', WRITER, STORE_MODULE, dir, String(TOTAL), String(BATCH)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const run: Run = { committed: new Map(), finished: false, signal: null };
  const deadline = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line === 'done') run.finished = true;
    const [offset, index] = line.split(' ').map(Number);
    if (offset === undefined || index === undefined || Number.isNaN(offset)) return;
    run.committed.set(offset, index);
    if (run.committed.size === KILL_AFTER) child.kill('SIGKILL');
  });
  return new Promise((resolve) => {
    child.on('exit', (_code, signal) => {
      clearTimeout(deadline);
      run.signal = signal;
      resolve(run);
    });
  });
}

t.test('entries reported committed survive SIGKILL, in order, and offsets continue after them', { timeout: 60_000 }, async (t) => {
  const dir = t.testdir();
  const run = await runWriterAndKill(dir, 30_000);
  t.equal(run.signal, 'SIGKILL', 'the writer was killed');
  t.notOk(run.finished, 'the writer was killed partway');
  t.ok(run.committed.size >= KILL_AFTER, `the writer reported ${run.committed.size} commits before the kill`);

  const store = await openLmdbStore(dir);
  t.teardown(() => store.close());
  const head = store.head('crash');
  const entries = store.read('crash', 0, TOTAL + 1);
  const lastReported = Math.max(...run.committed.keys());
  t.ok(head.lastOffset >= lastReported, `head ${head.lastOffset} covers the last reported offset ${lastReported}`);
  t.equal(entries.length, head.lastOffset, 'every offset up to the head is present');
  t.ok(
    entries.every((e, i) => e.offset === i + 1 && Buffer.from(e.payload).toString() === `m${i}` && e.traceId === `t${i}`),
    'entries are contiguous, in append order, with their payloads',
  );
  const present = new Set(entries.map((e) => e.offset));
  const missing = [...run.committed.keys()].filter((offset) => !present.has(offset));
  t.same(missing, [], 'no reported commit is missing');
  t.ok([...run.committed].every(([offset, index]) => offset === index + 1), 'offsets follow call order');
  const reported = [...run.committed.keys()];
  t.same(reported, [...reported].sort((a, b) => a - b), 'appends resolved in offset order');

  const next = await store.append('crash', { payload: Buffer.from('after'), traceId: 'after' });
  t.same(next, { offset: head.lastOffset + 1, epoch: head.epoch });
});
