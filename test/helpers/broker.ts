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

/**
 * A free TCP port on 127.0.0.1. For tests that restart a broker on the same port: uSockets
 * sets SO_REUSEADDR only for an explicit port, so a broker started on port 0 leaves its
 * closed connections in TIME_WAIT blocking a rebind for a minute.
 */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
