import { parseArgs } from 'node:util';
import { createBroker } from '../broker/broker.js';
import type { BrokerOptions } from '../broker/options.js';

export const START_USAGE = `relaymesh start [options]

  --host <addr>            address to listen on (default 0.0.0.0)
  --port <n>               WebSocket port (default 8080; 0 picks a free one)
  --data-dir <dir>         LMDB data directory (default ./data)
  --shards <n>             shard supervisors (default 16)
  --heartbeat-ms <n>       client ping interval (default 30000)
  --idle-timeout-ms <n>    close silent connections after this (default 2.5 x heartbeat)
  --max-frame-bytes <n>    largest accepted frame (default 262144)
  --log-level <level>      fatal|error|warn|info|debug|trace|silent (default info)
  --allow-uws-fallback     run even if uWebSockets.js fell back to pure JS (slow)

Without credentials configured, start accepts any device (anonymous mode) and logs so.`;

/** Parses `start` flags into broker options. Throws with a usage hint on bad flags. */
export function parseStartArgs(args: string[]): BrokerOptions {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'data-dir': { type: 'string' },
      shards: { type: 'string' },
      'heartbeat-ms': { type: 'string' },
      'idle-timeout-ms': { type: 'string' },
      'max-frame-bytes': { type: 'string' },
      'log-level': { type: 'string' },
      'allow-uws-fallback': { type: 'boolean' },
    },
  });
  const num = (flag: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n)) throw new Error(`--${flag} must be an integer, got ${JSON.stringify(v)}`);
    return n;
  };
  const options: Record<string, unknown> = {
    anonymous: true,
    host: values.host,
    port: num('port', values.port),
    dataDir: values['data-dir'],
    shards: num('shards', values.shards),
    heartbeatMs: num('heartbeat-ms', values['heartbeat-ms']),
    idleTimeoutMs: num('idle-timeout-ms', values['idle-timeout-ms']),
    maxFrameBytes: num('max-frame-bytes', values['max-frame-bytes']),
    logLevel: values['log-level'],
    allowUwsFallback: values['allow-uws-fallback'],
  };
  for (const key of Object.keys(options)) if (options[key] === undefined) delete options[key];
  return options as BrokerOptions;
}

/** Runs a broker until SIGINT/SIGTERM, then shuts it down gracefully. */
export async function runStart(args: string[]): Promise<number> {
  const broker = await createBroker(parseStartArgs(args));
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await broker.close();
  return 0;
}
