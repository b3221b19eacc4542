/**
 * When each device of a worker was in session during the current phase, and what reached it:
 * so that loss counts only messages sent while their receiver was connected (a vehicle between
 * two drives, or in a tunnel, cannot lose what it was never going to get), and so that drives
 * end on schedule.
 */
import { LatencyHistogram } from '../fanout/histogram.js';

/** Why a session ended: the bench closed it, the drive was over, or the link failed. */
export type DownReason = 'closed' | 'drive' | 'dropped' | 'unexpected';

/** A message sent this soon before its receiver's link went down may go down with it (µs). */
const GRACE_US = 1_000_000;

export interface SessionCounts {
  /** Sessions re-established after an unplanned end (outage, reset, drop). */
  reconnects: number;
  /** New drives: sessions closed at the end of a drive and opened again. */
  drives: number;
}

/** Deliveries counted against what was sent while the receiver was in session. */
export interface Accounted {
  commandsExpected: number;
  commandsMatched: number;
  broadcastsExpected: number;
  broadcastsMatched: number;
  /** Messages not expected: sent while their receiver was out of session, or just before. */
  excused: number;
}

export interface SentLog {
  /** [device, seq, sent µs] of every command of the phase. */
  commands: [number, number, number][];
  /** [seq, sent µs] of every broadcast of the phase. */
  broadcasts: [number, number][];
}

export class SessionLog {
  counts: SessionCounts = { reconnects: 0, drives: 0 };
  reconnectTime = new LatencyHistogram();
  private down = new Map<number, { atUs: number; reason: DownReason }>();
  /** Offline windows [from, to) per device during the phase; to is Infinity while offline. */
  private windows = new Map<number, [number, number][]>();
  private commands = new Map<number, Set<number>>();
  private broadcasts = new Map<number, Set<number>>();
  private readonly driveEndsAt = new Map<number, number>();

  /** @param driveMs session length before a new drive; 0: sessions are held. */
  constructor(private readonly driveMs: number) {}

  reset(nowUs: number): void {
    this.counts = { reconnects: 0, drives: 0 };
    this.reconnectTime = new LatencyHistogram();
    this.windows = new Map();
    this.commands = new Map();
    this.broadcasts = new Map();
    for (const index of this.down.keys()) this.windows.set(index, [[nowUs, Infinity]]);
  }

  up(index: number, atUs: number, nowMs: number): void {
    const was = this.down.get(index);
    if (this.driveMs > 0) {
      // First drives end at random points, so the fleet churns evenly rather than all at once.
      this.driveEndsAt.set(index, nowMs + (this.driveEndsAt.has(index) ? this.driveMs : Math.random() * this.driveMs));
    }
    if (!was) return;
    this.down.delete(index);
    const open = this.windows.get(index)?.at(-1);
    if (open && open[1] === Infinity) open[1] = atUs;
    if (was.reason === 'drive') this.counts.drives++;
    else if (was.reason !== 'closed') {
      this.counts.reconnects++;
      this.reconnectTime.record(atUs - was.atUs);
    }
  }

  /** The first reason wins: a drive's own close is not also an unexpected one. */
  markDown(index: number, atUs: number, reason: DownReason): void {
    if (this.down.has(index)) return;
    this.down.set(index, { atUs, reason });
    const list = this.windows.get(index) ?? [];
    list.push([atUs - GRACE_US, Infinity]);
    this.windows.set(index, list);
  }

  /** Devices leaving the fleet: no longer tracked. */
  forget(index: number): void {
    this.down.delete(index);
    this.driveEndsAt.delete(index);
  }

  drivesDue(nowMs: number): number[] {
    const due: number[] = [];
    for (const [index, at] of this.driveEndsAt) if (at <= nowMs && !this.down.has(index)) due.push(index);
    return due;
  }

  receivedCommand(index: number, seq: number): void {
    setOf(this.commands, index).add(seq);
  }

  receivedBroadcast(index: number, seq: number): void {
    setOf(this.broadcasts, index).add(seq);
  }

  /** What `devices` should have received of `sent`, and what they did. */
  account(devices: readonly number[], sent: SentLog): Accounted {
    const mine = new Set(devices);
    const a: Accounted = { commandsExpected: 0, commandsMatched: 0, broadcastsExpected: 0, broadcastsMatched: 0, excused: 0 };
    for (const [device, seq, sentUs] of sent.commands) {
      if (!mine.has(device)) continue;
      if (this.excused(device, sentUs)) a.excused++;
      else {
        a.commandsExpected++;
        if (this.commands.get(device)?.has(seq)) a.commandsMatched++;
      }
    }
    for (const device of devices) {
      for (const [seq, sentUs] of sent.broadcasts) {
        if (this.excused(device, sentUs)) a.excused++;
        else {
          a.broadcastsExpected++;
          if (this.broadcasts.get(device)?.has(seq)) a.broadcastsMatched++;
        }
      }
    }
    return a;
  }

  private excused(device: number, sentUs: number): boolean {
    return (this.windows.get(device) ?? []).some(([from, to]) => sentUs >= from && sentUs < to);
  }
}

function setOf(map: Map<number, Set<number>>, index: number): Set<number> {
  let s = map.get(index);
  if (!s) map.set(index, (s = new Set()));
  return s;
}
