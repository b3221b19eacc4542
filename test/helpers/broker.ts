import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBroker, type Broker, type BrokerOptions } from '../../src/index.js';

/** A real broker on 127.0.0.1 with an ephemeral port and a temp data dir; closed when the test ends. */
export async function startTestBroker(
  t: { teardown(fn: () => unknown): void },
  options: BrokerOptions = {},
): Promise<Broker & { url: string }> {
  const broker = await createBroker({
    host: '127.0.0.1',
    port: 0,
    anonymous: true,
    logLevel: 'silent',
    dataDir: mkdtempSync(join(tmpdir(), 'relaymesh-test-')),
    ...options,
  });
  t.teardown(() => broker.close());
  return Object.assign(broker, { url: `ws://127.0.0.1:${broker.port}/` });
}

export { freePort } from '../../kit/free-port.js';

/** An admin token for test brokers that need the admin API (e.g. to watch a stream's head). */
export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789';

/**
 * Waits (bounded) until the broker's stream `stream` retains nothing before `firstOffset`: the
 * periodic maintenance has applied retention. The broker needs `adminToken: TEST_ADMIN_TOKEN`.
 */
export async function untilRetainedFrom(broker: { port: number }, stream: string, firstOffset: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reply = await fetch(`http://127.0.0.1:${broker.port}/admin/topics`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
    const { streams } = (await reply.json()) as { streams: { stream: string; firstOffset: number }[] };
    if ((streams.find((s) => s.stream === stream)?.firstOffset ?? 0) >= firstOffset) return;
    if (Date.now() > deadline) throw new Error(`${stream} still retains entries before ${firstOffset} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
