import t from 'tap';
import { exponentialBackoff, RetrySchedule } from '../src/protocol/backoff.js';

const noJitter = { jitter: 0 };

t.test('the first retry waits the initial delay, 1 s by default', async (t) => {
  t.equal(exponentialBackoff(noJitter)(1), 1000);
  t.equal(exponentialBackoff({ initialDelayMs: 250, jitter: 0 })(1), 250);
});

t.test('each further attempt doubles the delay', async (t) => {
  const delay = exponentialBackoff(noJitter);
  t.same([1, 2, 3, 4, 5, 6].map(delay), [1000, 2000, 4000, 8000, 16000, 32000]);
});

t.test('delays are capped at 32 s by default, however many attempts', async (t) => {
  const delay = exponentialBackoff(noJitter);
  t.equal(delay(7), 32000);
  t.equal(delay(50), 32000);
  t.equal(delay(5000), 32000, 'no overflow to Infinity or NaN');
});

t.test('a custom cap applies instead', async (t) => {
  const delay = exponentialBackoff({ initialDelayMs: 100, maxDelayMs: 500, jitter: 0 });
  t.same([1, 2, 3, 4, 5].map(delay), [100, 200, 400, 500, 500]);
});

t.test('jitter takes at most its fraction off the delay and never adds to it', async (t) => {
  const fromRandom = (r: number) => exponentialBackoff({ jitter: 0.5 }, () => r);
  t.equal(fromRandom(0)(3), 4000, 'random 0: the full delay');
  t.equal(fromRandom(0.5)(3), 3000);
  t.equal(fromRandom(0.999999)(3), 4000 * (1 - 0.5 * 0.999999), 'random near 1: about half');
  t.equal(fromRandom(0)(100), 32000, 'the cap holds with jitter');
});

t.test('jittered delays stay within [base × (1 − jitter), base] with the real random source', async (t) => {
  const delay = exponentialBackoff();
  for (let attempt = 1; attempt <= 10; attempt++) {
    const base = Math.min(32000, 1000 * 2 ** (attempt - 1));
    for (let i = 0; i < 200; i++) {
      const d = delay(attempt);
      if (d < base * 0.5 || d > base) t.fail(`attempt ${attempt}: ${d} outside [${base * 0.5}, ${base}]`);
    }
  }
  t.pass('all samples in bounds');
});

t.test('jitter spreads delays rather than returning one value', async (t) => {
  const delay = exponentialBackoff();
  const samples = new Set(Array.from({ length: 50 }, () => delay(4)));
  t.ok(samples.size > 1);
});

t.test('invalid backoff options are rejected with the option named', async (t) => {
  t.throws(() => exponentialBackoff({ initialDelayMs: 0 }), /initialDelayMs/);
  t.throws(() => exponentialBackoff({ initialDelayMs: 2000, maxDelayMs: 1000 }), /maxDelayMs/);
  t.throws(() => exponentialBackoff({ jitter: 1.5 }), /jitter/);
  t.throws(() => exponentialBackoff({ jitter: -0.1 }), /jitter/);
});

t.test('options given as undefined keep their defaults', async (t) => {
  t.equal(exponentialBackoff({ initialDelayMs: undefined, jitter: 0 })(1), 1000);
});

t.test('the schedule numbers attempts from 1 and asks the policy for each', async (t) => {
  const asked: number[] = [];
  const schedule = new RetrySchedule((attempt) => {
    asked.push(attempt);
    return attempt * 10;
  });
  t.same(schedule.next(), { attempt: 1, delayMs: 10 });
  t.same(schedule.next(), { attempt: 2, delayMs: 20 });
  t.same(asked, [1, 2]);
});

t.test('reset after a successful connection starts again from the initial delay', async (t) => {
  const schedule = new RetrySchedule(exponentialBackoff(noJitter));
  t.same([1, 2, 3].map(() => schedule.next().delayMs), [1000, 2000, 4000]);
  schedule.reset();
  t.same(schedule.next(), { attempt: 1, delayMs: 1000 });
  t.same(schedule.next(), { attempt: 2, delayMs: 2000 });
});

t.test('a custom policy returning a negative or non-finite delay means reconnect at once', async (t) => {
  t.equal(new RetrySchedule(() => -5).next().delayMs, 0);
  t.equal(new RetrySchedule(() => Number.NaN).next().delayMs, 0);
  t.equal(new RetrySchedule(() => Number.POSITIVE_INFINITY).next().delayMs, 0);
});
