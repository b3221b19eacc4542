/**
 * The delay relay of the vehicle bench's network model: every byte arrives, in order, both
 * directions; and the sampler's delays follow the configured distribution. Run by path
 * (`npx tap bench/harness/delay-relay.test.ts`): tests under bench/ are not in CI's include.
 */
import t from 'tap';
import { createServer, connect, type Socket } from 'node:net';
import { DelayRelay } from './delay-relay.js';
import { LinkSampler, parseNetwork, seededRandom } from './network-model.js';

const NO_EXTRAS = { lossRate: 0, outageEveryS: 0, outageMs: [0, 0] as [number, number] };

function stats(xs: number[]): { mean: number; sd: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
  return { mean, sd };
}

t.test('normal:50,10 delays have mean 50 ms and σ 10 ms, none below 0', async (t) => {
  const sampler = new LinkSampler(parseNetwork('normal:50,10', NO_EXTRAS), seededRandom(7));
  const xs = Array.from({ length: 50_000 }, () => sampler.delayMs());
  const { mean, sd } = stats(xs);
  t.ok(Math.abs(mean - 50) < 0.3, `mean ${mean}`);
  t.ok(Math.abs(sd - 10) < 0.3, `sd ${sd}`);
  t.equal(xs.filter((x) => x < 0).length, 0);
});

t.test('fixed:30 delays are all 30 ms', async (t) => {
  const sampler = new LinkSampler(parseNetwork('fixed:30', NO_EXTRAS), seededRandom(1));
  t.same(new Set(Array.from({ length: 100 }, () => sampler.delayMs())), new Set([30]));
});

t.test('a loss rate adds one retransmission timeout to that share of chunks', async (t) => {
  const sampler = new LinkSampler(parseNetwork('fixed:10', { ...NO_EXTRAS, lossRate: 0.1 }), seededRandom(3));
  const xs = Array.from({ length: 20_000 }, () => sampler.delayMs());
  const retransmitted = xs.filter((x) => x > 10).length / xs.length;
  t.ok(Math.abs(retransmitted - 0.1) < 0.01, `share ${retransmitted}`);
  t.same(new Set(xs), new Set([10, 220]));
});

t.test('the mix picks 4G or 5G per connection in the configured shares', async (t) => {
  const random = seededRandom(11);
  const model = parseNetwork('mix', NO_EXTRAS);
  const names = Array.from({ length: 10_000 }, () => new LinkSampler(model, random).link!.name);
  const share4g = names.filter((n) => n === '4G').length / names.length;
  t.ok(Math.abs(share4g - 0.6) < 0.02, `4G share ${share4g}`);
});

t.test('bad --network text is one clear error', async (t) => {
  t.throws(() => parseNetwork('normal:50', NO_EXTRAS), /--network must be/);
  t.throws(() => parseNetwork('lte', NO_EXTRAS), /--network must be/);
});

t.test('the relay delivers every byte in order, both directions', async (t) => {
  // An echo server: what the client sends comes back through the relay's downlink.
  const echo = createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
  const port = (echo.address() as { port: number }).port;
  const relay = await DelayRelay.start({ host: '127.0.0.1', port }, parseNetwork('normal:5,3', NO_EXTRAS));
  t.teardown(async () => {
    await relay.close();
    await new Promise<void>((r) => echo.close(() => r()));
  });
  const client: Socket = connect({ host: '127.0.0.1', port: relay.port, noDelay: true });
  await new Promise<void>((r) => client.once('connect', () => r()));
  const sent: Buffer[] = [];
  const received: Buffer[] = [];
  const total = 200 * 4;
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('not every byte came back within 60 s')), 60_000);
    client.on('data', (b: Buffer) => {
      received.push(b);
      if (received.reduce((a, x) => a + x.length, 0) >= total) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  for (let i = 0; i < 200; i++) {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(i);
    sent.push(b);
    client.write(b);
    // Separate chunks, so that each gets its own sampled delay.
    if (i % 10 === 0) await new Promise((r) => setTimeout(r, 1));
  }
  await done;
  t.same(Buffer.concat(received), Buffer.concat(sent));
  t.ok(relay.counters.chunks >= 2, 'chunks were held');
  client.destroy();
});
