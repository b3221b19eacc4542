import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { openLmdbStore, StoreClosedError, StoreOpenError, type MessageStore, type SessionRecord } from '../src/store/index.js';

/** Opens a store kept in `dir`; opening the same dir again must find everything written before. */
export type StoreFactory = (dir: string) => Promise<MessageStore>;

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (payload: Uint8Array): string => new TextDecoder().decode(payload);
const EMPTY = { payload: new Uint8Array(0), traceId: '' };

/** Appends `count` empty entries one after another. */
async function appendSome(store: MessageStore, stream: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await store.append(stream, EMPTY);
}

/**
 * The behaviour every MessageStore backend promises. Run it once per backend; backend-specific
 * checks (file formats, crash recovery) live in their own test files.
 */
export function storeContract(backend: string, factory: StoreFactory): void {
  type Ctx = { testdir(): string; teardown(fn: () => unknown): void };
  async function fresh(tt: Ctx): Promise<MessageStore> {
    const store = await factory(join(tt.testdir(), 'store'));
    tt.teardown(() => store.close());
    return store;
  }

  t.test(`${backend}: streams`, async (t) => {
    t.test('appends get offsets 1, 2, 3 in call order and read back with their fields', async (t) => {
      const store = await fresh(t);
      const before = Date.now();
      const results = await Promise.all([
        store.append('room/1', { payload: bytes('a'), traceId: 't1', from: 'dev-1' }),
        store.append('room/1', { payload: bytes('b'), traceId: 't2' }),
        store.append('room/1', { payload: bytes('c'), traceId: 't3' }),
      ]);
      t.same(results.map((r) => r.offset), [1, 2, 3]);
      t.equal(new Set(results.map((r) => r.epoch)).size, 1);
      const entries = store.read('room/1', 0, 10);
      t.same(entries.map((e) => [e.stream, e.offset, text(e.payload), e.traceId, e.from]), [
        ['room/1', 1, 'a', 't1', 'dev-1'],
        ['room/1', 2, 'b', 't2', undefined],
        ['room/1', 3, 'c', 't3', undefined],
      ]);
      t.ok(entries.every((e) => e.publishedAt >= before && e.publishedAt <= Date.now()));
      t.notOk('from' in entries[1]!, 'no from key when the entry had none');
    });

    t.test('entries keep the hops they crossed, across a reopen', async (t) => {
      const dir = join(t.testdir(), 'store');
      const first = await factory(dir);
      await first.append('inbox', { payload: bytes('a'), traceId: 't1', from: 'dev-1', hops: ['a', 'b'] });
      await first.append('inbox', { payload: bytes('b'), traceId: 't2', hops: ['c'] });
      await first.append('inbox', { payload: bytes('c'), traceId: 't3' });
      await first.close();
      const again = await factory(dir);
      t.teardown(() => again.close());
      const entries = again.read('inbox', 0, 10);
      t.same(entries.map((e) => [e.from, e.hops]), [
        ['dev-1', ['a', 'b']],
        [undefined, ['c']],
        [undefined, undefined],
      ]);
      t.notOk('from' in entries[1]!, 'no from key when the entry had none');
      t.notOk('hops' in entries[2]!, 'no hops key when the entry had none');
    });

    t.test('read returns at most limit entries after the given offset', async (t) => {
      const store = await fresh(t);
      await Promise.all(Array.from({ length: 10 }, (_, i) => store.append('s', { payload: bytes(`${i + 1}`), traceId: '' })));
      t.same(store.read('s', 4, 3).map((e) => e.offset), [5, 6, 7]);
      t.same(store.read('s', 9, 100).map((e) => e.offset), [10]);
      t.same(store.read('s', 10, 100), []);
      t.same(store.read('s', 0, 0), []);
      t.same(store.read('never-written', 0, 10), []);
    });

    t.test('streams keep separate offsets, even when one name is a prefix of another', async (t) => {
      const store = await fresh(t);
      const names = ['a', 'a/b', 'ab', 'a b', '$inbox/a'];
      for (const name of names) for (let i = 0; i < 3; i++) await store.append(name, { payload: bytes(name), traceId: '' });
      for (const name of names) {
        t.same(store.read(name, 0, 10).map((e) => [e.offset, text(e.payload)]), [[1, name], [2, name], [3, name]], name);
      }
      t.same(store.streamNames().sort(), [...names].sort());
    });

    t.test('a stream never written has an empty head with no epoch', async (t) => {
      const store = await fresh(t);
      t.same(store.head('nothing'), { epoch: '', firstOffset: 1, lastOffset: 0 });
    });

    t.test('head follows appends and keeps its epoch', async (t) => {
      const store = await fresh(t);
      const first = await store.append('s', { payload: bytes('x'), traceId: '' });
      await store.append('s', { payload: bytes('y'), traceId: '' });
      t.same(store.head('s'), { epoch: first.epoch, firstOffset: 1, lastOffset: 2 });
      t.ok(first.epoch.length > 0);
    });

    t.test('concurrent appends get distinct increasing offsets, all readable once resolved', async (t) => {
      const store = await fresh(t);
      const calls = Array.from({ length: 2000 }, (_, i) => ({ stream: i % 2 ? 'odd' : 'even', i }));
      const results = await Promise.all(calls.map(({ stream, i }) => store.append(stream, { payload: bytes(`${i}`), traceId: `${i}` })));
      for (const stream of ['even', 'odd']) {
        const offsets = results.filter((_, i) => calls[i]!.stream === stream).map((r) => r.offset);
        t.same(offsets, Array.from({ length: 1000 }, (_, i) => i + 1), `${stream}: offsets in call order`);
        const stored = store.read(stream, 0, 5000);
        t.same(
          stored.map((e) => e.traceId),
          calls.filter((c) => c.stream === stream).map((c) => `${c.i}`),
          `${stream}: stored in call order`,
        );
      }
    });

    t.test('appends of a stream resolve in offset order, across many commits', async (t) => {
      const store = await fresh(t);
      const resolved: Record<string, number[]> = { a: [], b: [] };
      const writes: Promise<void>[] = [];
      for (let burst = 0; burst < 150; burst++) {
        for (let i = 0; i < 20; i++) {
          const stream = i % 3 ? 'a' : 'b';
          writes.push(store.append(stream, EMPTY).then(({ offset }) => void resolved[stream]!.push(offset)));
        }
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      await Promise.all(writes);
      for (const stream of ['a', 'b']) {
        const offsets = resolved[stream]!;
        t.same(offsets, [...offsets].sort((x, y) => x - y), `${stream}: ${offsets.length} appends resolved in order`);
      }
    });

    t.test('pruneThrough deletes entries up to and including the offset', async (t) => {
      const store = await fresh(t);
      await appendSome(store, 's', 10);
      t.equal(await store.pruneThrough('s', 4), 4);
      t.same(store.read('s', 0, 100).map((e) => e.offset), [5, 6, 7, 8, 9, 10]);
      t.match(store.head('s'), { firstOffset: 5, lastOffset: 10 });
      t.equal(await store.pruneThrough('s', 3), 0, 'pruning below the first offset deletes nothing');
      t.equal(await store.pruneThrough('s', 1000), 6, 'pruning past the end stops at the last offset');
      t.match(store.head('s'), { firstOffset: 11, lastOffset: 10 });
      t.equal((await store.append('s', EMPTY)).offset, 11, 'offsets are not reused');
      t.equal(await store.pruneThrough('nothing', 5), 0);
    });

    t.test('retention by count keeps the newest maxEntries', async (t) => {
      const store = await fresh(t);
      await appendSome(store, 's', 10);
      t.equal(await store.enforceRetention('s', { maxEntries: 3 }), 7);
      t.same(store.read('s', 0, 100).map((e) => e.offset), [8, 9, 10]);
      t.equal(await store.enforceRetention('s', { maxEntries: 3 }), 0);
      t.equal(await store.enforceRetention('s', {}), 0, 'no limits, nothing deleted');
    });

    t.test('retention by age drops entries published more than maxAgeMs before now', async (t) => {
      const store = await fresh(t);
      await appendSome(store, 's', 5);
      const published = store.read('s', 0, 10).map((e) => e.publishedAt);
      const newest = Math.max(...published);
      t.equal(await store.enforceRetention('s', { maxAgeMs: 60_000 }, newest + 1000), 0);
      t.equal(await store.enforceRetention('s', { maxAgeMs: 60_000 }, newest + 60_001), 5);
      t.same(store.read('s', 0, 10), []);
      t.equal((await store.append('s', EMPTY)).offset, 6);
    });

    t.test('resetStream empties the stream under a new epoch; offsets continue', async (t) => {
      const store = await fresh(t);
      const { epoch: old } = await store.append('s', { payload: bytes('old'), traceId: '' });
      await store.append('s', { payload: bytes('old'), traceId: '' });
      const epoch = await store.resetStream('s');
      t.not(epoch, old);
      t.same(store.head('s'), { epoch, firstOffset: 3, lastOffset: 2 });
      t.same(store.read('s', 0, 10), []);
      t.same(await store.append('s', { payload: bytes('new'), traceId: '' }), { offset: 3, epoch });
    });

    t.test('appends issued right after a reset, before it commits, are kept', async (t) => {
      const store = await fresh(t);
      await store.append('s', { payload: bytes('old'), traceId: '' });
      const reset = store.resetStream('s');
      const after = store.append('s', { payload: bytes('new'), traceId: '' });
      const [epoch, appended] = await Promise.all([reset, after]);
      t.same(appended, { offset: 2, epoch });
      t.same(store.read('s', 0, 10).map((e) => text(e.payload)), ['new']);
    });

    t.test('resetting a stream never written creates it with an epoch', async (t) => {
      const store = await fresh(t);
      const epoch = await store.resetStream('fresh');
      t.same(store.head('fresh'), { epoch, firstOffset: 1, lastOffset: 0 });
      t.same(await store.append('fresh', EMPTY), { offset: 1, epoch });
    });
  });

  t.test(`${backend}: cursors`, async (t) => {
    t.test('a cursor moves forward only', async (t) => {
      const store = await fresh(t);
      t.equal(store.cursor('dev-1', 's'), undefined);
      await store.setCursor('dev-1', 's', 5);
      await store.setCursor('dev-1', 's', 3);
      t.equal(store.cursor('dev-1', 's'), 5);
      await store.setCursor('dev-1', 's', 8);
      t.equal(store.cursor('dev-1', 's'), 8);
    });

    t.test('a cursor moves forward only, also while writes are in flight', async (t) => {
      const store = await fresh(t);
      const writes = [store.setCursor('dev-1', 's', 7), store.setCursor('dev-1', 's', 2)];
      t.equal(store.cursor('dev-1', 's'), 7, 'visible before the commit');
      await Promise.all(writes);
      t.equal(store.cursor('dev-1', 's'), 7);
    });

    t.test('cursors lists one subscriber only, by stream', async (t) => {
      const store = await fresh(t);
      await Promise.all([
        store.setCursor('dev-1', 'a', 1),
        store.setCursor('dev-1', 'b', 2),
        store.setCursor('dev-10', 'a', 9),
        store.setCursor('dev-', 'a', 9),
      ]);
      t.same(store.cursors('dev-1'), new Map([['a', 1], ['b', 2]]));
      t.same(store.cursors('nobody'), new Map());
    });

    t.test('allCursors lists every cursor, writes in flight included', async (t) => {
      const store = await fresh(t);
      await Promise.all([store.setCursor('dev-2', 'a', 4), store.setCursor('dev-1', 'b', 2), store.setCursor('dev-1', 'gone', 1)]);
      const inFlight = [store.setCursor('dev-1', 'b', 3), store.setCursor('dev-3', 'c', 1), store.removeCursor('dev-1', 'gone')];
      t.same([...store.allCursors()], [
        { subscriberId: 'dev-1', stream: 'b', offset: 3 },
        { subscriberId: 'dev-2', stream: 'a', offset: 4 },
        { subscriberId: 'dev-3', stream: 'c', offset: 1 },
      ]);
      await Promise.all(inFlight);
      t.equal([...store.allCursors()].length, 3);
    });

    t.test('a removed cursor is gone and can start again lower', async (t) => {
      const store = await fresh(t);
      await store.setCursor('dev-1', 's', 10);
      const removed = store.removeCursor('dev-1', 's');
      t.equal(store.cursor('dev-1', 's'), undefined);
      t.same(store.cursors('dev-1'), new Map());
      await removed;
      await store.setCursor('dev-1', 's', 2);
      t.equal(store.cursor('dev-1', 's'), 2);
    });
  });

  t.test(`${backend}: sessions`, async (t) => {
    const record = (expiresAt: number) => ({ subscriptions: [['room/+', 1] as [string, 0 | 1]], expiresAt, updatedAt: 1 });

    t.test('a saved session loads back; a deleted one is gone', async (t) => {
      const store = await fresh(t);
      t.equal(store.loadSession('dev-1'), undefined);
      await store.saveSession('dev-1', record(100));
      t.same(store.loadSession('dev-1'), record(100));
      await store.deleteSession('dev-1');
      t.equal(store.loadSession('dev-1'), undefined);
      t.same(store.expiredSessions(1000), []);
    });

    t.test('sessions lists every stored session by device id', async (t) => {
      const store = await fresh(t);
      await Promise.all([store.saveSession('b', record(2)), store.saveSession('a', record(1)), store.saveSession('c', record(3))]);
      await store.deleteSession('c');
      t.same([...store.sessions()], [['a', record(1)], ['b', record(2)]]);
    });

    t.test('expiredSessions lists sessions expired at now, soonest first, up to a limit', async (t) => {
      const store = await fresh(t);
      await Promise.all([
        store.saveSession('c', record(300)),
        store.saveSession('a', record(100)),
        store.saveSession('b', record(200)),
        store.saveSession('never', record(Infinity)),
      ]);
      t.same(store.expiredSessions(50), []);
      t.same(store.expiredSessions(200), ['a', 'b']);
      t.same(store.expiredSessions(1e15, 2), ['a', 'b']);
      t.same(store.expiredSessions(1e15), ['a', 'b', 'c']);
    });

    t.test('a subscription keeps its MQTT 5 options; one without (as records written before them) loads as it was', async (t) => {
      const store = await fresh(t);
      const withFlags: SessionRecord = {
        subscriptions: [
          ['chat/#', 1, { noLocal: true }],
          ['st/#', 0, { retainAsPublished: true, subscriptionId: 268_435_455 }],
          ['plain', 1],
        ],
        shared: [
          ['pool', 'jobs/#', 1, { retainAsPublished: true, subscriptionId: 42 }],
          ['other', 'jobs/#', 0],
        ],
        expiresAt: 100,
        updatedAt: 1,
      };
      await store.saveSession('dev-1', withFlags);
      t.same(store.loadSession('dev-1'), withFlags);
      await t.rejects(store.saveSession('dev-2', { ...withFlags, subscriptions: [['a', 1, { subscriptionId: 0 }]] }), /subscriptionId/);
      await t.rejects(store.saveSession('dev-2', { ...withFlags, subscriptions: [['a', 1, { noLocal: false as unknown as true }]] }), TypeError);
    });

    t.test('saving a session again replaces its expiry', async (t) => {
      const store = await fresh(t);
      await store.saveSession('dev-1', record(100));
      await store.saveSession('dev-1', record(500));
      t.same(store.expiredSessions(200), []);
      t.same(store.expiredSessions(500), ['dev-1']);
    });
  });

  t.test(`${backend}: durability and lifecycle`, async (t) => {
    t.test('reopening finds everything and offsets continue', async (t) => {
      const dir = join(t.testdir(), 'store');
      const first = await factory(dir);
      const appended = await Promise.all(
        Array.from({ length: 50 }, (_, i) => first.append(i % 2 ? 'a' : 'b', { payload: bytes(`${i}`), traceId: `${i}` })),
      );
      await first.pruneThrough('b', 5);
      await first.setCursor('dev-1', 'a', 20);
      await first.saveSession('dev-1', { subscriptions: [['a', 1]], expiresAt: 5, updatedAt: 4 });
      const heads = { a: first.head('a'), b: first.head('b') };
      await first.close();

      const again = await factory(dir);
      t.teardown(() => again.close());
      t.same(again.head('a'), heads.a);
      t.same(again.head('b'), heads.b);
      t.equal(heads.a.epoch, appended[1]!.epoch);
      t.same(again.read('a', 0, 100).map((e) => e.offset), Array.from({ length: 25 }, (_, i) => i + 1));
      t.same(again.read('b', 0, 100).map((e) => e.offset), Array.from({ length: 20 }, (_, i) => i + 6));
      t.equal(again.cursor('dev-1', 'a'), 20);
      t.same(again.loadSession('dev-1'), { subscriptions: [['a', 1]], expiresAt: 5, updatedAt: 4 });
      t.same(again.expiredSessions(10), ['dev-1']);
      t.same(await again.append('a', EMPTY), { offset: 26, epoch: heads.a.epoch });
    });

    t.test('offsets are not reused after pruning everything and reopening', async (t) => {
      const dir = join(t.testdir(), 'store');
      const first = await factory(dir);
      await appendSome(first, 's', 5);
      await first.pruneThrough('s', 5);
      const epoch = await first.resetStream('r');
      await first.close();
      const again = await factory(dir);
      t.teardown(() => again.close());
      t.same(again.head('s'), { epoch: again.head('s').epoch, firstOffset: 6, lastOffset: 5 });
      t.equal((await again.append('s', EMPTY)).offset, 6);
      t.same(again.head('r'), { epoch, firstOffset: 1, lastOffset: 0 }, 'an empty reset stream keeps its epoch');
    });

    t.test('bad arguments are refused with a clear error', async (t) => {
      const store = await fresh(t);
      const entry = { payload: bytes('x'), traceId: '' };
      await t.rejects(store.append('', entry), TypeError);
      await t.rejects(store.append('s', { payload: 'x' as unknown as Uint8Array, traceId: '' }), /payload/);
      await t.rejects(store.append('s', { ...entry, hops: [1] as unknown as string[] }), /hops/);
      await t.rejects(store.append('é'.repeat(600), entry), RangeError);
      t.throws(() => store.read('s', -1, 10), RangeError);
      t.throws(() => store.read('s', 0, 1.5), RangeError);
      await t.rejects(store.setCursor('dev', 's', Number.NaN), RangeError);
      await t.rejects(store.saveSession('dev', { subscriptions: [['a', 2 as 1]], expiresAt: 1, updatedAt: 1 }), TypeError);
      t.same(await store.append('s', entry), { offset: 1, epoch: store.head('s').epoch }, 'no offset was used up');
    });

    t.test('after close every call is refused; close is idempotent', async (t) => {
      const dir = join(t.testdir(), 'store');
      const store = await factory(dir);
      const pending = store.append('s', { payload: bytes('x'), traceId: '' });
      await store.close();
      await pending;
      await store.close();
      await t.rejects(store.append('s', { payload: bytes('x'), traceId: '' }), StoreClosedError);
      t.throws(() => store.read('s', 0, 1), StoreClosedError);
      t.throws(() => store.cursor('a', 's'), StoreClosedError);
    });

    t.test('a path that is a file cannot be opened', async (t) => {
      const file = join(t.testdir(), 'not-a-dir');
      writeFileSync(file, 'hello');
      await t.rejects(factory(file), StoreOpenError);
    });

    t.test('sizeBytes grows with data and flush resolves', async (t) => {
      const store = await fresh(t);
      const empty = store.sizeBytes();
      t.ok(empty > 0);
      await Promise.all(Array.from({ length: 500 }, () => store.append('s', { payload: new Uint8Array(1000), traceId: '' })));
      await store.flush();
      t.ok(store.sizeBytes() > empty + 400_000);
    });
  });
}

storeContract('lmdb', (dir) => openLmdbStore(dir));
