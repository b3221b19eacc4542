import t from 'tap';
import { DurableIndex } from '../src/broker/durable/durable-index.js';
import { FORWARD_JOURNAL, ForwardJournal, type JournalledSend } from '../src/broker/forward-journal.js';
import { openLmdbStore } from '../src/store/index.js';

/** The origin's journal of QoS 1 SENDs on their way to another node, on a real LMDB store. */

const sendNo = (i: number): JournalledSend => ({ id: `a.${i}`, message: { target: 'truck-9', payload: Buffer.from(`load ${i}`), qos: 1, traceId: `tr-${i}`, from: 'dispatch' } });

async function reopen(dir: string) {
  const store = await openLmdbStore(dir);
  // A failed store write surfaces as an unhandled rejection, which fails the test.
  const index = new DurableIndex(store, (operation, err) => {
    throw new Error(`${operation} failed: ${String(err)}`);
  });
  return { store, index, journal: new ForwardJournal(store, index) };
}

const recovered = (journal: ForwardJournal) => [...journal.recovered()].flat().map((e) => e.send?.id);

t.test('what was not handed on before a restart is recovered, in order, with its id and message', async (t) => {
  const dir = t.testdir();
  const first = await reopen(dir);
  const offsets = await Promise.all([1, 2, 3].map((i) => first.journal.record(sendNo(i))));
  first.journal.complete(offsets[1]!);
  await first.store.close();

  const again = await reopen(dir);
  t.teardown(() => again.store.close());
  t.ok(again.journal.hasRecovered());
  t.same(recovered(again.journal), ['a.1', 'a.2', 'a.3'], 'a.2 completed past the unfinished a.1 is handed on again: at least once');
  const [entry] = [...again.journal.recovered()][0]!;
  t.same(entry!.send, sendNo(1));
});

t.test('completed sends advance the cursor over the completed prefix, and the sweep prunes only that', async (t) => {
  const dir = t.testdir();
  const first = await reopen(dir);
  const offsets = await Promise.all([1, 2, 3].map((i) => first.journal.record(sendNo(i))));
  first.journal.complete(offsets[2]!);
  first.journal.complete(offsets[0]!);
  t.equal(first.index.prunableThrough(FORWARD_JOURNAL), offsets[0], 'a.2 is still on its way: pruning stops before it');
  first.journal.complete(offsets[1]!);
  t.equal(first.index.prunableThrough(FORWARD_JOURNAL), offsets[2]);
  await first.store.close();

  const again = await reopen(dir);
  t.teardown(() => again.store.close());
  t.notOk(again.journal.hasRecovered(), 'nothing left over');
  t.same(recovered(again.journal), []);
});

t.test('sends recorded after a restart are not part of what is recovered', async (t) => {
  const dir = t.testdir();
  const first = await reopen(dir);
  await first.journal.record(sendNo(1));
  await first.store.close();

  const again = await reopen(dir);
  t.teardown(() => again.store.close());
  await again.journal.record(sendNo(2));
  t.same(recovered(again.journal), ['a.1'], 'a.2 is being handed on by the live path');
});

t.test('an entry that is not a journalled send is recovered as unreadable, not trusted', async (t) => {
  const dir = t.testdir();
  const first = await reopen(dir);
  await first.store.append(FORWARD_JOURNAL, { payload: Buffer.from('not msgpack of a send'), traceId: 'x' });
  await first.journal.record(sendNo(2));
  await first.store.close();

  const again = await reopen(dir);
  t.teardown(() => again.store.close());
  t.same(recovered(again.journal), [undefined, 'a.2']);
});
