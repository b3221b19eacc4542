import { loadStartConfig, renderConfig } from './config.js';
import { isWorkerProcess, runWorkers } from './workers.js';

/** Resolves on the first SIGINT or SIGTERM from now on; catching them keeps either from killing the process. */
export function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
}

/**
 * Runs a broker until `stopRequested`, then shuts it down gracefully: stop accepting, tell
 * clients to reconnect elsewhere, flush the store. Past the deadline it gives up (exit 1).
 * A stop that came during start-up (even before this was called) waits for the broker to be up,
 * then stops it the same way.
 */
export async function runStart(args: string[], stopRequested: Promise<unknown>): Promise<number> {
  const config = loadStartConfig(args, process.env);
  if (config.printConfig) {
    process.stdout.write(renderConfig(config));
    return 0;
  }
  if (config.workers !== 0) {
    // Workers share the port with each other only: refuse one already served, once, here.
    const { refuseServedPort } = await import('../broker/ops/port-check.js');
    await refuseServedPort(config.options.host, config.options.port);
    return runWorkers(config, stopRequested);
  }
  const { options, shutdownTimeoutMs } = config;
  // Loaded here, not at the top: a --workers parent or --print-config never needs the broker.
  const { createBroker } = await import('../broker/broker.js');
  const broker = await createBroker({ ...options, sharedPort: isWorkerProcess() });
  await stopRequested;
  const deadline = new Promise<number>((resolve) => setTimeout(() => resolve(1), shutdownTimeoutMs).unref());
  return Promise.race([broker.close().then(() => 0), deadline]);
}
