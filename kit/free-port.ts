import { createServer } from 'node:net';

/**
 * A free TCP port on 127.0.0.1. For tests that restart a broker on the same port: uSockets
 * sets SO_REUSEADDR only for an explicit port, so a broker started on port 0 leaves its
 * closed connections in TIME_WAIT blocking a rebind for a minute.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
