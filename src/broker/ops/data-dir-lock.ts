import { linkSync, mkdirSync, readFileSync, realpathSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The lock file inside a data dir: the pid (and start time) of the broker that holds it. */
export const LOCK_FILE = 'relaymesh.lock';

/** Another broker (process) holds the data dir. */
export class DataDirLockedError extends Error {
  override name = 'DataDirLockedError';
}

export interface DataDirLock {
  release(): void;
}

interface Holder {
  pid: number;
  /** The process's start time (Linux /proc), so a reused pid is not taken for the holder. */
  started?: string;
}

/** Data dirs held by brokers of this process: a second broker here is refused as well. */
const heldHere = new Set<string>();

/**
 * Claims a data dir for this process, the way PostgreSQL's postmaster.pid does: a lock file
 * created exclusively, naming the holder. LMDB lets several processes open one store, so
 * without this two brokers would serve the same sessions and cursors. The lock lives as long as
 * its process: one whose holder is gone (kill -9, power loss) is stale and taken over.
 */
export function lockDataDir(dir: string): DataDirLock {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new Error(`cannot use data dir ${dir}: ${(err as Error).message}`, { cause: err });
  }
  const key = realpathSync(dir);
  const path = join(dir, LOCK_FILE);
  const me: Holder = { pid: process.pid, ...startedField(process.pid) };
  // Bounded: each round either claims the lock, finds it held, or removes a stale one.
  for (let round = 0; round < 5; round++) {
    if (tryCreate(path, me)) {
      heldHere.add(key);
      return { release: () => release(key, path, me) };
    }
    const holder = readHolder(path);
    if (holder === 'vanished') continue;
    if (holder && holds(holder, key)) {
      throw new DataDirLockedError(`data dir ${dir} is in use by another broker (pid ${holder.pid}${holder.pid === process.pid ? ', this process' : ''}); stop it or use another data dir`);
    }
    removeIfUnchanged(path, holder);
  }
  throw new DataDirLockedError(`data dir ${dir}: could not claim ${LOCK_FILE} (other brokers keep starting on it)`);
}

/** Written whole to a temporary file, then linked into place: a reader never sees half a lock. */
function tryCreate(path: string, me: Holder): boolean {
  const temporary = `${path}.${process.pid}`;
  writeFileSync(temporary, JSON.stringify(me));
  try {
    linkSync(temporary, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new Error(`cannot create ${path}: ${(err as Error).message}`, { cause: err });
  } finally {
    unlinkSync(temporary);
  }
}

/** The holder named in the lock file; undefined when it names none (not ours to trust). */
function readHolder(path: string): Holder | undefined | 'vanished' {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'vanished';
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as Partial<Holder>;
    return Number.isSafeInteger(parsed.pid) && parsed.pid! > 0 ? { pid: parsed.pid!, ...(typeof parsed.started === 'string' ? { started: parsed.started } : {}) } : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `holder` is a live process that holds the lock. */
function holds(holder: Holder, key: string): boolean {
  // Our own pid in the file: a broker of this process, or a previous life of this pid (a container restarted).
  if (holder.pid === process.pid) return heldHere.has(key);
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false; // ESRCH: no such process
  }
  const now = procStat(holder.pid);
  if (now === undefined) return true; // no /proc to tell a reused pid: assume the holder
  if (now.state === 'Z') return false; // killed, not yet reaped
  return holder.started === undefined || holder.started === now.started;
}

function removeIfUnchanged(path: string, judged: Holder | undefined): void {
  const current = readHolder(path);
  if (current === 'vanished' || JSON.stringify(current) !== JSON.stringify(judged)) return;
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

function release(key: string, path: string, me: Holder): void {
  if (!heldHere.delete(key)) return;
  const current = readHolder(path);
  if (current !== 'vanished' && current?.pid === me.pid && current.started === me.started) unlinkSync(path);
}

function startedField(pid: number): { started?: string } {
  const stat = procStat(pid);
  return stat ? { started: stat.started } : {};
}

/** State and start time (clock ticks since boot) from /proc/<pid>/stat; undefined off Linux. */
function procStat(pid: number): { state: string; started: string } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Fields after the command name, which is in parentheses and may itself hold spaces: state is field 3, starttime field 22.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const started = fields[19];
  return state && started ? { state, started } : undefined;
}
