/** `node --import tsx bench/fuzz/main.ts [options]`: see FUZZ_USAGE. */
import { parseArgs } from 'node:util';
import { HTML_FLAG, HTML_USAGE, writeHtmlReport } from '../harness/html-report.js';
import { runCampaign, type CampaignOptions } from './campaign.js';
import { findings, renderReport, writeResult } from './report.js';

export const FUZZ_USAGE = `node --import tsx bench/fuzz/main.ts [options]

Bad-input campaign: starts a broker process on 127.0.0.1 (relaymesh start, temp data dir) and
throws a seeded mix of random bytes, mutated, truncated, wrong-typed, lying-length, deeply
nested and valid frames at it over a pool of pipelined connections, and meanwhile random bytes
and arbitrary msgpack at its cluster port (before and after the HMAC handshake). Exits 1 if the
broker crashed, stalled, answered INTERNAL, lost stored messages, or closed a cluster socket with
an oversized reason.

  --frames <n>            fuzz frames to send (default 1000000)
  --connections <n>       connections in the pool (default 32)
  --seed <n>              PRNG seed (default: random, printed; rerun with it to replay)
  --max-frame-bytes <n>   broker maxFrameBytes (default 65536; the transport closes at 4x)
  --stall-ms <n>          an answer missing this long on an open socket is a stall (default 10000)
  --max-seconds <n>       stop sending after this long, frames left or not (default 900)
  --out <dir>             results directory (default bench/results; writes fuzz-latest.json)
${HTML_USAGE}`;

function parseFuzzArgs(args: string[]): CampaignOptions & { outDir: string; html: boolean } {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      frames: { type: 'string' },
      connections: { type: 'string' },
      seed: { type: 'string' },
      'max-frame-bytes': { type: 'string' },
      'stall-ms': { type: 'string' },
      'max-seconds': { type: 'string' },
      out: { type: 'string' },
      ...HTML_FLAG,
    },
  });
  const int = (flag: string, value: string | undefined, fallback: number, min: number): number => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < min) throw new Error(`--${flag} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
    return n;
  };
  return {
    frames: int('frames', values.frames, 1_000_000, 1),
    connections: int('connections', values.connections, 32, 1),
    seed: int('seed', values.seed, Math.floor(Math.random() * 2 ** 31), 0),
    maxFrameBytes: int('max-frame-bytes', values['max-frame-bytes'], 64 * 1024, 256),
    stallMs: int('stall-ms', values['stall-ms'], 10_000, 100),
    maxSeconds: int('max-seconds', values['max-seconds'], 900, 1),
    outDir: values.out ?? 'bench/results',
    html: values.html ?? false,
  };
}

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(FUZZ_USAGE + '\n');
} else {
  try {
    const { outDir, html, ...options } = parseFuzzArgs(args);
    const result = await runCampaign(options, (line) => process.stderr.write(`fuzz: ${line}\n`));
    process.stdout.write(renderReport(result) + '\n');
    const file = writeResult(outDir, result);
    process.stderr.write(`fuzz: wrote ${file}${html ? `, ${writeHtmlReport(file)}` : ''}\n`);
    process.exitCode = findings(result).length === 0 ? 0 : 1;
  } catch (err) {
    process.stderr.write(`fuzz: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  }
}
