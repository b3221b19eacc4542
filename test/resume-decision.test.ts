import t from 'tap';
import { EPOCH_CHANGED, RETENTION_GAP, decideResume } from '../src/broker/durable/resume-decision.js';

/** A stream of epoch 'e1' holding offsets 11..20 (1..10 removed by retention). */
const HEAD = { epoch: 'e1', firstOffset: 11, lastOffset: 20 };
const at = (offset: number, epoch = 'e1') => ({ stream: 's', epoch, offset });

t.test('a stream that never held anything is skipped', async (t) => {
  t.same(decideResume({ epoch: '', firstOffset: 1, lastOffset: 0 }, 0, undefined), { action: 'skip' });
  t.same(decideResume({ epoch: '', firstOffset: 1, lastOffset: 0 }, 0, at(5, 'old')), { action: 'skip' });
});

t.test('without a position, delivery starts after the stored cursor', async (t) => {
  t.same(decideResume(HEAD, 14, undefined), { action: 'deliver', after: 14 });
});

t.test('a position of the same epoch ahead of the cursor skips what the client holds', async (t) => {
  t.same(decideResume(HEAD, 14, at(17)), { action: 'deliver', after: 17 });
});

t.test('a position behind the cursor does not move it back', async (t) => {
  t.same(decideResume(HEAD, 14, at(12)), { action: 'deliver', after: 14 });
});

t.test('a position past the head is not believed', async (t) => {
  t.same(decideResume(HEAD, 14, at(25)), { action: 'deliver', after: 14 });
});

t.test('a position without an epoch is taken as of the current one', async (t) => {
  t.same(decideResume(HEAD, 14, at(18, '')), { action: 'deliver', after: 18 });
});

t.test('a position under another epoch is answered with RESET to the oldest retained entry', async (t) => {
  t.same(decideResume(HEAD, 0, at(18, 'e0')), { action: 'reset', after: 10, epoch: 'e1', reason: EPOCH_CHANGED });
});

t.test('after an epoch change a cursor past the oldest retained entry is kept', async (t) => {
  t.same(decideResume(HEAD, 15, at(3, 'e0')), { action: 'reset', after: 15, epoch: 'e1', reason: EPOCH_CHANGED });
});

t.test('a start before the oldest retained entry is answered with RESET', async (t) => {
  t.same(decideResume(HEAD, 4, undefined), { action: 'reset', after: 10, epoch: 'e1', reason: RETENTION_GAP });
  t.same(decideResume(HEAD, 0, at(6)), { action: 'reset', after: 10, epoch: 'e1', reason: RETENTION_GAP });
});

t.test('a start right before the oldest retained entry has no gap', async (t) => {
  t.same(decideResume(HEAD, 10, undefined), { action: 'deliver', after: 10 });
});

t.test('a stream pruned empty has no gap to report', async (t) => {
  t.same(decideResume({ epoch: 'e1', firstOffset: 21, lastOffset: 20 }, 4, undefined), { action: 'deliver', after: 4 });
});
