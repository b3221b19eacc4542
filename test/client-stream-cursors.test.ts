import t from 'tap';
import { StreamCursors } from '../packages/client/src/stream-cursors.js';

const msg = (stream: string, offset: number, epoch?: string) => ({ stream, offset, epoch });

t.test('a first message of a stream is delivered, whatever its offset', async (t) => {
  t.same(new StreamCursors().receive(msg('a', 5, 'e1')), { kind: 'deliver' });
});

t.test('the next offset in the same epoch is delivered', async (t) => {
  const cursors = new StreamCursors();
  cursors.receive(msg('a', 5, 'e1'));
  t.same(cursors.receive(msg('a', 6, 'e1')), { kind: 'deliver' });
  t.same(cursors.positions(), [{ stream: 'a', epoch: 'e1', offset: 6 }]);
});

t.test('an offset at or below the highest delivered in the same epoch is a duplicate', async (t) => {
  const cursors = new StreamCursors();
  cursors.receive(msg('a', 5, 'e1'));
  t.equal(cursors.receive(msg('a', 5, 'e1')).kind, 'duplicate');
  t.equal(cursors.receive(msg('a', 3, 'e1')).kind, 'duplicate');
});

t.test('an offset beyond the next one is a gap: held back, the position stays', async (t) => {
  const cursors = new StreamCursors();
  cursors.receive(msg('a', 5, 'e1'));
  t.same(cursors.receive(msg('a', 8, 'e1')), { kind: 'gap', expected: 6 });
  t.same(cursors.positions(), [{ stream: 'a', epoch: 'e1', offset: 5 }]);
  t.equal(cursors.gapOf('a'), 5);
  t.same(cursors.gaps(), [{ stream: 'a', offset: 5 }]);
});

t.test('a gap closes once delivery reaches the highest offset seen', async (t) => {
  const cursors = new StreamCursors();
  cursors.receive(msg('a', 1, 'e'));
  cursors.receive(msg('a', 3, 'e'));
  cursors.receive(msg('a', 2, 'e'));
  t.equal(cursors.gapOf('a'), 2, 'offset 3 was held back and is still owed');
  t.same(cursors.receive(msg('a', 3, 'e')), { kind: 'deliver' });
  t.equal(cursors.gapOf('a'), undefined);
  t.same(cursors.gaps(), []);
});

t.test('a new epoch without a RESET is delivered and reported as an epoch change', async (t) => {
  const cursors = new StreamCursors();
  cursors.receive(msg('a', 9, 'e1'));
  t.same(cursors.receive(msg('a', 4, 'e2')), { kind: 'epoch-changed' });
  t.same(cursors.positions(), [{ stream: 'a', epoch: 'e2', offset: 4 }]);
  t.same(cursors.receive(msg('a', 5, 'e2')), { kind: 'deliver' });
});

t.test('a message under an epoch the stream already left is stale', async (t) => {
  const cursors = new StreamCursors();
  cursors.receive(msg('a', 9, 'e1'));
  cursors.receive(msg('a', 1, 'e2'));
  t.same(cursors.receive(msg('a', 10, 'e1')), { kind: 'stale' });
  t.same(cursors.positions(), [{ stream: 'a', epoch: 'e2', offset: 1 }]);
});

t.test('RESET under a new epoch moves the position so later messages are neither duplicates nor gaps', async (t) => {
  const cursors = new StreamCursors();
  cursors.receive(msg('a', 40, 'e1'));
  cursors.reset('a', 'e2', 0);
  t.same(cursors.positions(), [{ stream: 'a', epoch: 'e2', offset: 0 }]);
  t.same(cursors.receive(msg('a', 1, 'e2')), { kind: 'deliver' });
  t.same(cursors.receive(msg('a', 41, 'e1')), { kind: 'stale' });
});

t.test('RESET in the same epoch skips the lost offsets and closes the gap they made', async (t) => {
  const cursors = new StreamCursors();
  cursors.receive(msg('a', 2, 'e'));
  cursors.receive(msg('a', 8, 'e'));
  cursors.reset('a', 'e', 7);
  t.same(cursors.positions(), [{ stream: 'a', epoch: 'e', offset: 7 }]);
  t.equal(cursors.gapOf('a'), 7, 'offset 8 is still owed');
  t.same(cursors.receive(msg('a', 8, 'e')), { kind: 'deliver' });
  t.equal(cursors.gapOf('a'), undefined);
});

t.test('RESET in the same epoch never moves the position back', async (t) => {
  const cursors = new StreamCursors();
  cursors.receive(msg('a', 9, 'e'));
  cursors.reset('a', 'e', 4);
  t.same(cursors.positions(), [{ stream: 'a', epoch: 'e', offset: 9 }]);
});

t.test('RESET for a stream never seen starts it at the given position', async (t) => {
  const cursors = new StreamCursors();
  cursors.reset('a', 'e', 7);
  t.equal(cursors.receive(msg('a', 7, 'e')).kind, 'duplicate');
  t.same(cursors.receive(msg('a', 8, 'e')), { kind: 'deliver' });
});

t.test('streams are tracked independently', async (t) => {
  const cursors = new StreamCursors();
  cursors.receive(msg('a', 9, 'e'));
  t.same(cursors.receive(msg('b', 1, 'e')), { kind: 'deliver' });
});

t.test('a missing epoch is tracked as the empty epoch', async (t) => {
  const cursors = new StreamCursors();
  cursors.receive(msg('a', 2));
  t.equal(cursors.receive(msg('a', 2)).kind, 'duplicate');
  t.same(cursors.positions(), [{ stream: 'a', epoch: '', offset: 2 }]);
});

t.test('positions list the highest delivered offsets, least recently delivered first', async (t) => {
  const cursors = new StreamCursors();
  cursors.receive(msg('a', 1, 'e'));
  cursors.receive(msg('b', 7, 'e'));
  cursors.receive(msg('a', 2, 'e'));
  t.same(cursors.positions(), [
    { stream: 'b', epoch: 'e', offset: 7 },
    { stream: 'a', epoch: 'e', offset: 2 },
  ]);
});

t.test('an ack is needed only when it moves the stream forward', async (t) => {
  const cursors = new StreamCursors();
  cursors.receive(msg('a', 4, 'e'));
  t.equal(cursors.ack('a', 3), 3);
  t.equal(cursors.ack('a', 3), undefined);
  t.equal(cursors.ack('a', 2), undefined);
  t.equal(cursors.ack('a', 4), 4);
});

t.test('an ack never covers more than was delivered, so a held-back gap is not acked away', async (t) => {
  const cursors = new StreamCursors();
  cursors.receive(msg('a', 4, 'e'));
  cursors.receive(msg('a', 9, 'e'));
  t.equal(cursors.ack('a', 9), 4);
});

t.test('a duplicate already covered by an ack is re-acked with the highest ack', async (t) => {
  const cursors = new StreamCursors();
  cursors.receive(msg('a', 4, 'e'));
  cursors.ack('a', 4);
  t.same(cursors.receive(msg('a', 3, 'e')), { kind: 'duplicate', reack: 4 });
});

t.test('a duplicate the application has not acked yet is not re-acked', async (t) => {
  const cursors = new StreamCursors();
  cursors.receive(msg('a', 4, 'e'));
  cursors.ack('a', 2);
  t.same(cursors.receive(msg('a', 4, 'e')), { kind: 'duplicate', reack: undefined });
  t.same(cursors.receive(msg('a', 2, 'e')), { kind: 'duplicate', reack: 2 });
});

t.test('acks survive further deliveries in the same epoch but not an epoch change', async (t) => {
  const cursors = new StreamCursors();
  cursors.receive(msg('a', 4, 'e1'));
  cursors.ack('a', 4);
  cursors.receive(msg('a', 5, 'e1'));
  t.same(cursors.receive(msg('a', 4, 'e1')), { kind: 'duplicate', reack: 4 });
  cursors.receive(msg('a', 1, 'e2'));
  t.same(cursors.receive(msg('a', 1, 'e2')), { kind: 'duplicate', reack: undefined });
});
