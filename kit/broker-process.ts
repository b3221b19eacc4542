import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';

/** A broker run as its own process by the CLI, for tests that kill it. */
export interface BrokerProcess {
  url: string;
  child: ChildProcess;
  /** Resolves with the exit code or signal once the process is gone. */
  exited: Promise<ProcessExit>;
  output(): string;
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The `relaymesh start` arguments every test broker gets: loopback, its port and data dir, quiet logs. */
export function startArgs(port: number, dataDir: string, extraArgs: string[] = []): string[] {
  // MQTT over TCP off unless a test asks for a port (the CLI default, 1883, may be taken); the last flag wins.
  return ['--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir, '--log-level', 'warn', '--mqtt-port', 'off', ...extraArgs];
}

export async function startBrokerProcess(port: number, dataDir: string, extraArgs: string[] = [], startTimeoutMs = 120_000): Promise<BrokerProcess> {
  const child = spawn(process.execPath, ['bin/relaymesh.js', 'start', ...startArgs(port, dataDir, extraArgs)], { stdio: ['ignore', 'pipe', 'pipe'] });
  return untilListening(watchProcess(child), port, startTimeoutMs);
}

/** Collects a child's output and exit, for a process that may or may not become a broker. */
export function watchProcess(child: ChildProcess): Omit<BrokerProcess, 'url'> {
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<ProcessExit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited, output: () => output };
}

/**
 * Waits (bounded) until a broker answers /healthz on `port`; kills the child if it never does.
 * Not just a TCP connect: a starting broker briefly binds the port itself to check nobody serves it.
 */
export async function untilListening(watched: Omit<BrokerProcess, 'url'>, port: number, timeoutMs = 120_000): Promise<BrokerProcess> {
  const deadline = Date.now() + timeoutMs;
  while (!(await answersHealth(port))) {
    if (watched.child.exitCode !== null || watched.child.signalCode !== null || Date.now() > deadline) {
      watched.child.kill('SIGKILL');
      throw new Error(`broker process did not start listening on ${port}:\n${watched.output()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { ...watched, url: `ws://127.0.0.1:${port}/` };
}

async function answersHealth(port: number): Promise<boolean> {
  try {
    const reply = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(10_000) });
    return reply.ok && (await reply.text()) === 'ok';
  } catch {
    return false;
  }
}

/** Whether a TCP connection to 127.0.0.1:`port` is accepted now. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
