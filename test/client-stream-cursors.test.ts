import t from 'tap';
import { StreamCursors } from '../src/client/stream-cursors.js';

t.test('a first message of a stream is delivered', async (t) => {
  t.equal(new StreamCursors().deliver({ stream: 'a', offset: 5, epoch: 'e1' }), true);
});

t.test('an offset at or below the highest delivered in the same epoch is a duplicate', async (t) => {
  const cursors = new StreamCursors();
  cursors.deliver({ stream: 'a', offset: 5, epoch: 'e1' });
  t.equal(cursors.deliver({ stream: 'a', offset: 5, epoch: 'e1' }), false);
  t.equal(cursors.deliver({ stream: 'a', offset: 3, epoch: 'e1' }), false);
  t.equal(cursors.deliver({ stream: 'a', offset: 6, epoch: 'e1' }), true);
});

t.test('a new epoch restarts the stream: lower offsets are delivered again', async (t) => {
  const cursors = new StreamCursors();
  cursors.deliver({ stream: 'a', offset: 9, epoch: 'e1' });
  t.equal(cursors.deliver({ stream: 'a', offset: 1, epoch: 'e2' }), true);
  t.same(cursors.positions(), [{ stream: 'a', epoch: 'e2', offset: 1 }]);
});

t.test('streams are tracked independently', async (t) => {
  const cursors = new StreamCursors();
  cursors.deliver({ stream: 'a', offset: 9, epoch: 'e' });
  t.equal(cursors.deliver({ stream: 'b', offset: 1, epoch: 'e' }), true);
});

t.test('a missing epoch is tracked as the empty epoch', async (t) => {
  const cursors = new StreamCursors();
  cursors.deliver({ stream: 'a', offset: 2 });
  t.equal(cursors.deliver({ stream: 'a', offset: 2 }), false);
  t.same(cursors.positions(), [{ stream: 'a', epoch: '', offset: 2 }]);
});

t.test('positions list the highest delivered offsets, least recently delivered first', async (t) => {
  const cursors = new StreamCursors();
  cursors.deliver({ stream: 'a', offset: 1, epoch: 'e' });
  cursors.deliver({ stream: 'b', offset: 7, epoch: 'e' });
  cursors.deliver({ stream: 'a', offset: 2, epoch: 'e' });
  t.same(cursors.positions(), [
    { stream: 'b', epoch: 'e', offset: 7 },
    { stream: 'a', epoch: 'e', offset: 2 },
  ]);
});

t.test('an ack is needed only when it moves the stream forward', async (t) => {
  const cursors = new StreamCursors();
  cursors.deliver({ stream: 'a', offset: 4, epoch: 'e' });
  t.equal(cursors.ack('a', 3), true);
  t.equal(cursors.ack('a', 3), false);
  t.equal(cursors.ack('a', 2), false);
  t.equal(cursors.ack('a', 4), true);
});

t.test('a duplicate already covered by an ack is re-acked with the highest ack', async (t) => {
  const cursors = new StreamCursors();
  cursors.deliver({ stream: 'a', offset: 4, epoch: 'e' });
  cursors.ack('a', 4);
  t.equal(cursors.reackOffset('a', 3), 4);
});

t.test('a duplicate the application has not acked yet is not re-acked', async (t) => {
  const cursors = new StreamCursors();
  cursors.deliver({ stream: 'a', offset: 4, epoch: 'e' });
  cursors.ack('a', 2);
  t.equal(cursors.reackOffset('a', 4), undefined);
  t.equal(cursors.reackOffset('a', 2), 2);
});

t.test('acks survive further deliveries in the same epoch but not an epoch change', async (t) => {
  const cursors = new StreamCursors();
  cursors.deliver({ stream: 'a', offset: 4, epoch: 'e1' });
  cursors.ack('a', 4);
  cursors.deliver({ stream: 'a', offset: 5, epoch: 'e1' });
  t.equal(cursors.reackOffset('a', 4), 4);
  cursors.deliver({ stream: 'a', offset: 1, epoch: 'e2' });
  t.equal(cursors.reackOffset('a', 1), undefined);
});
