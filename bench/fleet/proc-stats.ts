/**
 * CPU time, memory and open files of a process (and its descendants) read from /proc, so that
 * every broker, whatever language it is written in, is measured the same way from outside.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { cpus } from 'node:os';

const CLOCK_TICKS_PER_S = clockTicks();

function clockTicks(): number {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 2000 }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

export interface ProcSample {
  atMs: number;
  /** User + system CPU time of the process tree, in ms. */
  cpuMs: number;
  rssBytes: number;
  openFds: number;
  /** Processes in the tree that are still alive. */
  processes: number;
}

/** CPU, memory and open files of `rootPid` and all its descendants (a broker with worker processes counts as one). */
export function sampleTree(rootPid: number): ProcSample {
  const pids = [rootPid, ...descendants(rootPid)];
  let cpuMs = 0;
  let rssBytes = 0;
  let openFds = 0;
  let processes = 0;
  for (const pid of pids) {
    const stat = readStat(pid);
    if (!stat) continue;
    processes++;
    cpuMs += ((stat.utime + stat.stime) * 1000) / CLOCK_TICKS_PER_S;
    rssBytes += readRss(pid);
    openFds += countFds(pid);
  }
  return { atMs: Date.now(), cpuMs, rssBytes, openFds, processes };
}

/** Cores used between two samples (1.0 = one core busy throughout). */
export function coresBetween(a: ProcSample, b: ProcSample): number {
  const wall = b.atMs - a.atMs;
  return wall > 0 ? (b.cpuMs - a.cpuMs) / wall : 0;
}

/** The open-files limit of a process (RLIMIT_NOFILE, soft). */
export function fdLimitOf(pid: number): number {
  try {
    const line = readFileSync(`/proc/${pid}/limits`, 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    return Number(line?.split(/\s+/)[3] ?? NaN);
  } catch {
    return NaN;
  }
}

/** Busy and total jiffies of the whole machine (all cores), from /proc/stat. */
export interface MachineCpu {
  busy: number;
  total: number;
}

export function machineCpu(): MachineCpu {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: idle and iowait are the idle part.
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

/** Share of the whole machine busy between two readings (1.0 = every core busy). */
export function machineBusyBetween(a: MachineCpu, b: MachineCpu): number {
  const total = b.total - a.total;
  return total > 0 ? (b.busy - a.busy) / total : 0;
}

export const MACHINE_CORES = cpus().length;

function readStat(pid: number): { ppid: number; utime: number; stime: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: the fields proper follow the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(rest[1]), utime: Number(rest[11]), stime: Number(rest[12]) };
}

function readRss(pid: number): number {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
    return Number(line?.split(/\s+/)[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

function countFds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

/** Every descendant of `root`, found through the children lists the kernel keeps per thread. */
export function descendants(root: number): number[] {
  const found: number[] = [];
  const queue = [root];
  for (let guard = 0; queue.length > 0 && guard < 10_000; guard++) {
    const pid = queue.shift()!;
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      let children: string;
      try {
        children = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const child of children.trim().split(/\s+/)) {
        if (child === '') continue;
        const n = Number(child);
        found.push(n);
        queue.push(n);
      }
    }
  }
  return found;
}
