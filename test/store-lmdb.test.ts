import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { open } from 'lmdb';
import t from 'tap';
import { openLmdbStore, STORE_FORMAT_VERSION, StoreOpenError } from '../src/store/index.js';

/** What the LMDB backend promises beyond the contract: how it treats directories it cannot use. */

const payload = new Uint8Array([1, 2, 3]);
const fingerprint = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

/** Writes with lmdb directly, the way another build or another program would. */
async function writeRaw(file: string, write: (root: ReturnType<typeof open>) => Promise<unknown>): Promise<void> {
  const root = open(file, { maxDbs: 10 });
  await write(root);
  await root.close();
}

t.test('a store written in another format version is refused and left as it was', async (t) => {
  const dir = t.testdir();
  const store = await openLmdbStore(dir);
  await store.append('s', { payload, traceId: '' });
  await store.close();
  await writeRaw(join(dir, 'store.mdb'), (root) => root.openDB({ name: 'meta' }).put('formatVersion', STORE_FORMAT_VERSION + 1));
  const before = fingerprint(join(dir, 'store.mdb'));

  await t.rejects(openLmdbStore(dir), { name: 'StoreOpenError', message: /format version 2.*reads version 1/ });
  t.equal(fingerprint(join(dir, 'store.mdb')), before);
});

t.test('a data file that is not LMDB is refused without touching it', async (t) => {
  const dir = t.testdir({ 'store.mdb': 'A'.repeat(8192) });
  await t.rejects(openLmdbStore(dir), { name: 'StoreOpenError', message: /not an LMDB data file/ });
  t.equal(readFileSync(join(dir, 'store.mdb'), 'utf8'), 'A'.repeat(8192));
});

t.test('an LMDB file of another program is refused', async (t) => {
  const dir = t.testdir();
  await writeRaw(join(dir, 'store.mdb'), (root) => root.openDB({ name: 'orders' }).put(1, 'x'));
  await t.rejects(openLmdbStore(dir), { name: 'StoreOpenError', message: /not a relaymesh store \(orders\)/ });
});

t.test('store data without a format version is refused', async (t) => {
  const dir = t.testdir();
  await writeRaw(join(dir, 'store.mdb'), (root) => root.openDB({ name: 'streams' }).put('s', { epoch: 'e', firstOffset: 1 }));
  await t.rejects(openLmdbStore(dir), { name: 'StoreOpenError', message: /no format version/ });
});

t.test('an empty data file (a first start that stopped early) is initialized', async (t) => {
  const dir = t.testdir({ 'store.mdb': '' });
  const store = await openLmdbStore(dir);
  t.teardown(() => store.close());
  t.equal((await store.append('s', { payload, traceId: '' })).offset, 1);
});

t.test('a directory that cannot be created is refused', async (t) => {
  const parent = t.testdir({ file: 'x' });
  const error = await openLmdbStore(join(parent, 'file', 'store')).catch((err: unknown) => err);
  t.type(error, StoreOpenError);
  t.match((error as StoreOpenError).dir, /file/);
});

t.test("durability 'commit' resolves on commit and keeps the same contract", async (t) => {
  const dir = t.testdir();
  const store = await openLmdbStore(dir, { durability: 'commit' });
  const results = await Promise.all(Array.from({ length: 100 }, () => store.append('s', { payload, traceId: '' })));
  t.same(results.map((r) => r.offset), Array.from({ length: 100 }, (_, i) => i + 1));
  t.equal(store.read('s', 0, 1000).length, 100);
  await store.close();
  await t.rejects(openLmdbStore(dir, { durability: 'eventually' as 'commit' }), RangeError);
});

t.test('a missing directory is created, parents included', async (t) => {
  const dir = join(t.testdir(), 'a', 'b');
  const store = await openLmdbStore(dir);
  await store.close();
  t.ok(readFileSync(join(dir, 'store.mdb')).length > 0);
});

t.test('a directory already open in this process is refused until that store closes', async (t) => {
  const dir = t.testdir();
  const first = await openLmdbStore(dir);
  await t.rejects(openLmdbStore(join(dir, '.')), { name: 'StoreOpenError', message: /already open/ });
  await first.close();
  const second = await openLmdbStore(dir);
  await second.close();
});
