/** `node --import tsx bench/fuzz/main.ts [options]`: see FUZZ_USAGE. */
import { parseArgs } from 'node:util';
import { HTML_FLAG, HTML_USAGE, writeHtmlReport } from '../harness/html-report.js';
import { runCampaign, type CampaignOptions } from './campaign.js';
import { runMqttCampaign, type MqttCampaignOptions } from './mqtt-campaign.js';
import { mqttFindings, renderMqttReport, writeMqttResult } from './mqtt-report.js';
import { findings, renderReport, writeResult } from './report.js';

export const FUZZ_USAGE = `node --import tsx bench/fuzz/main.ts [options]

Bad-input campaign: starts a broker process on 127.0.0.1 (relaymesh start, temp data dir) and
throws a seeded mix of random bytes, mutated, truncated, wrong-typed, lying-length, deeply
nested and valid frames at it over a pool of pipelined connections, and meanwhile random bytes
and arbitrary msgpack at its cluster port (before and after the HMAC handshake). Exits 1 if the
broker crashed, stalled, answered INTERNAL, lost stored messages, or closed a cluster socket with
an oversized reason.

With --mqtt, the MQTT listeners instead (TCP and WebSocket /mqtt, MQTT 3.1.1 and 5.0): random
bytes, mutated valid packets, wrong flags, oversize and malformed remaining lengths, packets
before CONNECT, a second CONNECT, invalid UTF-8 and wildcard topic names, QoS 2, each
connection's reaction checked against the spec's (DISCONNECT with the reason code on 5.0, close
on 3.1.1), while a well-behaved mqtt.js pair exchanges QoS 1 messages and /healthz is polled.
Exits 1 on a crash, a non-conformant reaction, a failed /healthz, a lost message or damaged
stored data. Writes fuzz-mqtt-latest.json.

  --mqtt                  fuzz the MQTT listeners (see above)
  --cases <n>             --mqtt: hostile connections to play (default 20000)
  --frames <n>            fuzz frames to send (default 1000000)
  --connections <n>       connections in the pool (default 32; --mqtt: at once, default 16)
  --seed <n>              PRNG seed (default: random, printed; rerun with it to replay)
  --max-frame-bytes <n>   broker maxFrameBytes (default 65536; the transport closes at 4x)
  --stall-ms <n>          an answer missing this long on an open socket is a stall (default 10000)
  --max-seconds <n>       stop sending after this long, frames left or not (default 900)
  --out <dir>             results directory (default bench/results; writes fuzz-latest.json)
${HTML_USAGE}`;

type FuzzArgs = ({ mode: 'frames'; options: CampaignOptions } | { mode: 'mqtt'; options: MqttCampaignOptions }) & { outDir: string; html: boolean };

function parseFuzzArgs(args: string[]): FuzzArgs {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      mqtt: { type: 'boolean' },
      cases: { type: 'string' },
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
  const seed = int('seed', values.seed, Math.floor(Math.random() * 2 ** 31), 0);
  const maxBytes = int('max-frame-bytes', values['max-frame-bytes'], 64 * 1024, 256);
  const stallMs = int('stall-ms', values['stall-ms'], 10_000, 100);
  const maxSeconds = int('max-seconds', values['max-seconds'], 900, 1);
  const outDir = values.out ?? 'bench/results';
  const html = values.html ?? false;
  if (values.mqtt) {
    const connections = int('connections', values.connections, 16, 1);
    return { mode: 'mqtt', outDir, html, options: { cases: int('cases', values.cases, 20_000, 1), connections, seed, maxPacketBytes: maxBytes, stallMs, maxSeconds } };
  }
  const connections = int('connections', values.connections, 32, 1);
  return { mode: 'frames', outDir, html, options: { frames: int('frames', values.frames, 1_000_000, 1), connections, seed, maxFrameBytes: maxBytes, stallMs, maxSeconds } };
}

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(FUZZ_USAGE + '\n');
} else {
  try {
    const parsed = parseFuzzArgs(args);
    const log = (line: string): void => void process.stderr.write(`fuzz: ${line}\n`);
    const written = (file: string): void => log(`wrote ${file}${parsed.html ? `, ${writeHtmlReport(file)}` : ''}`);
    if (parsed.mode === 'mqtt') {
      const result = await runMqttCampaign(parsed.options, log);
      process.stdout.write(renderMqttReport(result) + '\n');
      written(writeMqttResult(parsed.outDir, result));
      process.exitCode = mqttFindings(result).length === 0 ? 0 : 1;
    } else {
      const result = await runCampaign(parsed.options, log);
      process.stdout.write(renderReport(result) + '\n');
      written(writeResult(parsed.outDir, result));
      process.exitCode = findings(result).length === 0 ? 0 : 1;
    }
  } catch (err) {
    process.stderr.write(`fuzz: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  }
}
