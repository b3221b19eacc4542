import { loadStartConfig, renderConfig } from './config.js';
import { runWorkers } from './workers.js';

/**
 * Runs a broker until SIGINT/SIGTERM, then shuts it down gracefully: stop accepting, tell
 * clients to reconnect elsewhere, flush the store. Past the deadline it gives up (exit 1).
 */
export async function runStart(args: string[]): Promise<number> {
  const config = loadStartConfig(args, process.env);
  if (config.printConfig) {
    process.stdout.write(renderConfig(config));
    return 0;
  }
  if (config.workers !== 0) return runWorkers(config);
  const { options, shutdownTimeoutMs } = config;
  // Listen for signals before starting, so a stop during start-up is still a clean one.
  const stopRequested = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  // Loaded here, not at the top: a --workers parent or --print-config never needs the broker.
  const { createBroker } = await import('../broker/broker.js');
  const broker = await createBroker(options);
  await stopRequested;
  const deadline = new Promise<number>((resolve) => setTimeout(() => resolve(1), shutdownTimeoutMs).unref());
  return Promise.race([broker.close().then(() => 0), deadline]);
}
