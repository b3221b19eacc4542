import t from 'tap';
import { ResyncScheduler, type GapView, type SchedulerTimers } from '../packages/client/src/resync-scheduler.js';

const RETRY_MS = 30;

/** A clock the test moves: timers fire in due order, inside advance(), however loaded the machine. */
class ManualClock implements SchedulerTimers {
  private now = 0;
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; fn: () => void; every?: number }>();

  setTimeout(fn: () => void, ms: number): number {
    this.timers.set(this.nextId, { at: this.now + ms, fn });
    return this.nextId++;
  }

  setInterval(fn: () => void, ms: number): number {
    this.timers.set(this.nextId, { at: this.now + ms, fn, every: ms });
    return this.nextId++;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  clearInterval(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      const due = [...this.timers].filter(([, timer]) => timer.at <= end).sort(([a, x], [b, y]) => x.at - y.at || a - b)[0];
      if (!due) break;
      const [id, timer] = due;
      this.now = timer.at;
      if (timer.every) timer.at += timer.every;
      else this.timers.delete(id);
      timer.fn();
    }
    this.now = end;
  }
}

/** A gap view the test moves by hand: delivered and announced offsets per stream. */
function setup(options: { maxAttempts?: number; reconcileMs?: number } = {}) {
  const streams = new Map<string, { delivered: number; announced: number }>();
  const view: GapView = {
    gapOf: (stream) => {
      const s = streams.get(stream);
      return s && s.announced > s.delivered ? s.delivered : undefined;
    },
    gaps: () => [...streams].filter(([, s]) => s.announced > s.delivered).map(([stream, s]) => ({ stream, offset: s.delivered })),
  };
  const sent: { stream: string; offset: number }[] = [];
  const clock = new ManualClock();
  const timing = { retryMs: RETRY_MS, maxAttempts: options.maxAttempts ?? 3, reconcileMs: options.reconcileMs ?? 0 };
  const scheduler = new ResyncScheduler(view, (stream, offset) => sent.push({ stream, offset }), timing, clock);
  const set = (stream: string, delivered: number, announced: number) => streams.set(stream, { delivered, announced });
  return { scheduler, sent, set, clock };
}

t.test('the first gapped message sends one RESYNC for the highest delivered offset', async (t) => {
  const { scheduler, sent, set } = setup();
  t.teardown(() => scheduler.stop());
  set('a', 5, 7);
  scheduler.gapSeen('a');
  set('a', 5, 9);
  scheduler.gapSeen('a');
  scheduler.gapSeen('a');
  t.same(sent, [{ stream: 'a', offset: 5 }], 'further gapped messages wait for the outstanding RESYNC');
});

t.test('a gap after progress is a new gap and gets its own RESYNC at once', async (t) => {
  const { scheduler, sent, set } = setup();
  t.teardown(() => scheduler.stop());
  set('a', 5, 7);
  scheduler.gapSeen('a');
  set('a', 6, 8);
  scheduler.gapSeen('a');
  t.same(sent, [
    { stream: 'a', offset: 5 },
    { stream: 'a', offset: 6 },
  ]);
});

t.test('an unanswered RESYNC is repeated after the retry interval, a bounded number of times', async (t) => {
  const { scheduler, sent, set, clock } = setup({ maxAttempts: 3 });
  t.teardown(() => scheduler.stop());
  set('a', 5, 7);
  scheduler.gapSeen('a');
  clock.advance(RETRY_MS - 1);
  t.equal(sent.length, 1, 'not before the retry interval');
  clock.advance(1);
  t.equal(sent.length, 2, 'repeated at the retry interval');
  clock.advance(RETRY_MS * 8);
  t.same(sent, Array(3).fill({ stream: 'a', offset: 5 }));
  scheduler.gapSeen('a');
  t.equal(sent.length, 3, 'after the round, gapped messages stay quiet until reconciliation');
});

t.test('no RESYNC is repeated once the gap is repaired', async (t) => {
  const { scheduler, sent, set, clock } = setup();
  t.teardown(() => scheduler.stop());
  set('a', 5, 7);
  scheduler.gapSeen('a');
  set('a', 7, 7);
  clock.advance(RETRY_MS * 4);
  t.equal(sent.length, 1);
});

t.test('while the resend makes progress no RESYNC is repeated; a stall repeats it from the new position', async (t) => {
  const { scheduler, sent, set, clock } = setup();
  t.teardown(() => scheduler.stop());
  set('a', 5, 20);
  scheduler.gapSeen('a');
  for (let delivered = 6; delivered <= 15; delivered++) {
    set('a', delivered, 20);
    clock.advance(RETRY_MS);
  }
  t.equal(sent.length, 1, 'no RESYNC repeated while every check saw progress');
  clock.advance(RETRY_MS);
  t.same(sent, [
    { stream: 'a', offset: 5 },
    { stream: 'a', offset: 15 },
  ], 'the stall repeats it from where the resend stopped');
});

t.test('reconciliation restarts repair for every open gap not being repaired', async (t) => {
  const { scheduler, sent, set, clock } = setup({ maxAttempts: 1 });
  t.teardown(() => scheduler.stop());
  set('a', 5, 7);
  set('b', 1, 3);
  set('c', 4, 4);
  scheduler.gapSeen('a');
  t.equal(scheduler.reconcile(), 1, 'a is already being repaired; b is open; c has no gap');
  t.same(sent, [
    { stream: 'a', offset: 5 },
    { stream: 'b', offset: 1 },
  ]);
  clock.advance(RETRY_MS);
  t.equal(scheduler.reconcile(), 2, 'rounds over: both are asked for again');
});

t.test('the reconciliation timer runs from connected() and stops with stop()', async (t) => {
  const { scheduler, sent, set, clock } = setup({ maxAttempts: 1, reconcileMs: 100 });
  set('a', 1, 2);
  scheduler.connected();
  clock.advance(99);
  t.same(sent, [], 'nothing before the first reconciliation');
  clock.advance(1);
  t.equal(sent.length, 1, 'the first reconciliation asks');
  clock.advance(100);
  t.equal(sent.length, 2, 'so does the next (the one-attempt round ended meanwhile)');
  scheduler.stop();
  clock.advance(1000);
  t.equal(sent.length, 2, 'nothing after stop()');
});

t.test('reconcileMs 0 starts no timer', async (t) => {
  const { scheduler, sent, set, clock } = setup({ reconcileMs: 0 });
  set('a', 1, 2);
  scheduler.connected();
  clock.advance(60_000);
  t.same(sent, []);
  scheduler.stop();
});

t.test('forget() ends the repair of a stream: the next gapped message asks again', async (t) => {
  const { scheduler, sent, set } = setup();
  t.teardown(() => scheduler.stop());
  set('a', 5, 7);
  scheduler.gapSeen('a');
  scheduler.forget('a');
  scheduler.gapSeen('a');
  t.equal(sent.length, 2);
});
