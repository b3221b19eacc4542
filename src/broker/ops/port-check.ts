import { createServer } from 'node:net';

/** Something already listens on the broker's port. */
export class PortInUseError extends Error {
  override name = 'PortInUseError';
}

/**
 * Refuses a port someone already serves. uWebSockets.js listens with SO_REUSEPORT, so a second
 * broker on a served port would start silently and the kernel would split devices between the
 * two. A plain bind (without SO_REUSEPORT) fails while anyone listens there: try one, then let
 * it go. Port 0 (any free port) needs no check.
 */
export async function refuseServedPort(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') reject(new PortInUseError(`port ${port} on ${host} is already in use (another broker?); stop that process or choose another port`));
      else resolve(); // not ours to judge (bad address, privileged port): listening reports it
    });
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}
