import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { BrokerOptions } from '../../src/index.js';

const ENTRY = fileURLToPath(new URL('../../src/index.ts', import.meta.url));
/** The child: starts a broker with the options it is given and says on which port it listens. */
const MAIN = `
const [entry, options] = process.argv.slice(1);
const { createBroker } = await import(entry);
const broker = await createBroker(JSON.parse(options));
process.stdout.write('listening ' + broker.port + '\\n');
`;

/** A broker embedded in its own process, for tests that freeze (SIGSTOP) or kill (SIGKILL) it. */
export interface BrokerChild {
  url: string;
  port: number;
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

/** Starts `createBroker(options)` in a child process (options must be JSON: no functions). */
export async function startBrokerChild(options: BrokerOptions, startTimeoutMs = 90_000): Promise<BrokerChild> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', MAIN, ENTRY, JSON.stringify(options)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => fail(`did not start within ${startTimeoutMs} ms`), startTimeoutMs);
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`broker child ${why}:\n${output}`));
    };
    void exited.then(({ code, signal }) => fail(`exited (${code ?? signal})`));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output += line + '\n';
      const m = /^listening (\d+)$/.exec(line);
      if (!m) return;
      clearTimeout(timer);
      resolve(Number(m[1]));
    });
  });
  return { url: `ws://127.0.0.1:${port}/`, port, child, exited, output: () => output };
}
