/** How a subscriber connection tells a message's first delivery from a repeat. */
import t from 'tap';
import fc from 'fast-check';
import { SeenSequences } from './seen-sequences.js';

t.test('in any order, each sequence number counts once per run and every repeat is a duplicate', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.nat({ max: 5_000 }), { maxLength: 300 }), (seqs) => {
      const seen = new SeenSequences();
      const firsts = seqs.filter((seq) => seen.firstTime(7, seq)).length;
      return firsts === new Set(seqs).size;
    }),
  );
  t.pass('300-number runs');
});

t.test('a new run starts from nothing', async (t) => {
  const seen = new SeenSequences();
  t.ok(seen.firstTime(1, 3));
  t.notOk(seen.firstTime(1, 3));
  t.ok(seen.firstTime(2, 3));
  t.notOk(seen.firstTime(2, 3));
});
