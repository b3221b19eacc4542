import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { CommandMap } from './messages.js';

interface RequestMessage {
  id: number;
  cmd: string;
  args: unknown;
}
interface ReplyMessage {
  id: number;
  ok: boolean;
  value?: unknown;
  error?: string;
}
interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Every child still running, so the coordinator can kill them all on its way out. */
const liveChildren = new Set<ChildLink<CommandMap>>();

/** The coordinator's end of one child process: typed requests with timeouts, and a kill switch. */
export class ChildLink<C extends CommandMap> {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  readonly exited: Promise<number | null>;

  constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    liveChildren.add(this as unknown as ChildLink<CommandMap>);
    child.on('message', (msg: ReplyMessage) => {
      const waiter = this.pending.get(msg.id);
      if (!waiter) return;
      this.pending.delete(msg.id);
      clearTimeout(waiter.timer);
      if (msg.ok) waiter.resolve(msg.value);
      else waiter.reject(new Error(`${name}: ${msg.error}`));
    });
    // A failed IPC send surfaces here; the exit handler below rejects what is pending.
    child.on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        liveChildren.delete(this as unknown as ChildLink<CommandMap>);
        for (const [id, waiter] of this.pending) {
          clearTimeout(waiter.timer);
          waiter.reject(new Error(`${name} exited (${signal ?? code}) during a request`));
          this.pending.delete(id);
        }
        resolve(code);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  request<K extends keyof C & string>(cmd: K, args: C[K]['args'], timeoutMs: number): Promise<C[K]['reply']> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: no reply to ${cmd} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      const request: RequestMessage = { id, cmd, args };
      if (!this.child.connected) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new Error(`${this.name} is not running`));
        return;
      }
      this.child.send(request);
    });
  }

  /** Waits up to `graceMs` for the child to exit on its own, then kills it. */
  async waitExit(graceMs: number): Promise<void> {
    const timer = setTimeout(() => this.kill(), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Closes the IPC channel (the child then exits on its own, writing any --cpu-prof profile), then waits as waitExit does. */
  async close(graceMs: number): Promise<void> {
    if (this.child.connected) this.child.disconnect();
    await this.waitExit(graceMs);
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

/** Forks a bench module as a child process that runs TypeScript through tsx. */
export function forkChild<C extends CommandMap>(name: string, module: URL, extraExecArgv: string[] = []): ChildLink<C> {
  const child = fork(fileURLToPath(module), [], {
    cwd: REPO_ROOT,
    execArgv: ['--import', 'tsx', ...extraExecArgv],
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new ChildLink<C>(name, child);
}

export function killAllChildren(): void {
  for (const child of liveChildren) child.kill();
}

/**
 * Kills every child when the coordinator exits or is interrupted. Returns the uninstaller
 * (the CLI runs the bench in-process and must not keep the handlers afterwards).
 */
export function killChildrenOnExit(): () => void {
  const onSignal = (signal: NodeJS.Signals): void => {
    killAllChildren();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('exit', killAllChildren);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('exit', killAllChildren);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

type Handlers<C extends CommandMap> = { [K in keyof C]: (args: C[K]['args']) => C[K]['reply'] | Promise<C[K]['reply']> };

/** The child's end: answers the coordinator's requests, and exits when the coordinator is gone. */
export function serveCommands<C extends CommandMap>(handlers: Handlers<C>): void {
  if (!process.send) throw new Error('this module runs as a child process of the fan-out bench');
  process.on('message', (msg: RequestMessage) => {
    const handler = handlers[msg.cmd as keyof C];
    const reply = (r: ReplyMessage): void => {
      if (process.connected) process.send!(r);
    };
    if (!handler) return reply({ id: msg.id, ok: false, error: `unknown command ${msg.cmd}` });
    Promise.resolve()
      .then(() => handler(msg.args as never))
      .then(
        (value) => reply({ id: msg.id, ok: true, value }),
        (err: unknown) => reply({ id: msg.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
      );
  });
  // Never outlive the coordinator: an orphaned server would keep 19k sockets open.
  process.on('disconnect', () => process.exit(0));
}
