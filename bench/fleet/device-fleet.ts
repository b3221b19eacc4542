/** The part of a device worker that differs per client kind: raw relaymesh sockets, the SDK, or mqtt.js. */
import { nowUs } from '../fanout/clock.js';
import { LatencyHistogram } from '../fanout/histogram.js';
import { exponentialBackoff } from '../../src/protocol/backoff.js';
import type { ConnectPlan, ConnectReport, WorkerSetup } from './messages.js';
import type { DeviceStats } from './device-stats.js';
import { PayloadKind } from './payload.js';
import type { DownReason } from './session-log.js';

export interface DeviceFleet {
  /** Opens devices plan.first .. plan.first + plan.count - 1 and subscribes each. */
  connect(plan: ConnectPlan): Promise<ConnectReport>;
  /** Global indices of the devices this worker holds, in a fixed order. */
  readonly indices: readonly number[];
  /** Devices in session now. */
  liveCount(): number;
  /** Publishes one telemetry payload from device `index`; false when it is offline. */
  publish(index: number, payload: Buffer): boolean;
  /** Called every few hundred ms: clients without their own timers ping here. */
  tick(nowMs: number): void;
  /** Resets the connections of this share of devices at once; they come back by their own reconnect policy. */
  drop(fraction: number): number;
  /** Closes and forgets devices with index >= keep. */
  shrink(keep: number, timeoutMs: number): Promise<number>;
  /** Ends device `index`'s session (its drive is over) and opens a new one. */
  redrive(index: number): void;
}

export type FleetFactory = (setup: WorkerSetup, stats: DeviceStats) => DeviceFleet;

/**
 * Opens `plan.count` devices with at most `plan.concurrency` handshakes in flight: the connect
 * storm goes as fast as the broker accepts, without a SYN flood that the listen backlog drops.
 */
export async function connectMany(plan: ConnectPlan, open: (index: number) => Promise<true | string>): Promise<ConnectReport> {
  const handshake = new LatencyHistogram();
  const started = Date.now();
  let next = 0;
  let connected = 0;
  let failed = 0;
  let firstError: string | undefined;
  const lane = async (): Promise<void> => {
    while (next < plan.count) {
      const index = plan.first + next++;
      const t0 = nowUs();
      const result = await open(index);
      if (result === true) {
        connected++;
        handshake.record(nowUs() - t0);
      } else {
        failed++;
        firstError ??= `${index}: ${result}`;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(plan.concurrency, plan.count)) }, lane));
  return { connected, failed, ...(firstError ? { firstError } : {}), ms: Date.now() - started, handshake: handshake.toSparse() };
}

/** Picks the source address of the k-th socket of a worker. */
export function sourceAddress(setup: WorkerSetup, k: number): string | undefined {
  const list = setup.localAddresses;
  return list.length === 0 ? undefined : list[k % list.length];
}

/** Shuffles and takes `fraction` of `items` (the devices to drop). */
export function pickShare<T>(items: readonly T[], fraction: number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy.slice(0, Math.round(copy.length * fraction));
}

/** Waits until `done()` or the timeout, polling; bounded in time. */
export async function waitUntil(done: () => boolean, timeoutMs: number, pollMs = 20): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, pollMs));
  }
  return true;
}

/** Rejects when `promise` has not settled within `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Client frames must be masked; on loopback an all-zero mask saves the random bytes and the XOR work. */
export const zeroMask = (mask: Buffer): void => void mask.fill(0);

/** Dial-again policy of raw and MQTT devices: the SDK's default backoff, so every kind comes back alike. */
const redialDelay = exponentialBackoff();
const MAX_REDIALS = 8;
const REDIAL_TIMEOUT_MS = 15_000;

/**
 * What every fleet kind (raw, SDK, MQTT) keeps the same way: its devices by index in connect
 * order, the source address each new socket uses, which devices leave on a shrink, telemetry
 * and command answers on the workload's topics, and sessions: drives that end and start again,
 * and devices that dial again after their link failed.
 */
export abstract class FleetMembers<D extends { index: number }> {
  protected readonly devices = new Map<number, D>();
  private order: number[] = [];
  private opened = 0;

  constructor(
    protected readonly setup: WorkerSetup,
    protected readonly stats: DeviceStats,
  ) {}

  get indices(): readonly number[] {
    return this.order;
  }

  protected abstract isLive(device: D): boolean;
  /** Dials device `index` and subscribes it; resolves true once it is in session. */
  protected abstract open(index: number, timeoutMs: number): Promise<true | string>;
  /** Publishes from device `index` on `topic`; false when it is offline. */
  protected abstract publishOn(index: number, topic: string, payload: Buffer): boolean;
  /** Closes one device's session cleanly (its drive is over). */
  protected abstract endSession(device: D): Promise<void>;

  connect(plan: ConnectPlan): Promise<ConnectReport> {
    return connectMany(plan, (index) => this.open(index, plan.timeoutMs));
  }

  publish(index: number, payload: Buffer): boolean {
    return this.publishOn(index, this.stats.workload.telemetryTopic(index, this.setup.partitions), payload);
  }

  redrive(index: number): void {
    const d = this.devices.get(index);
    if (!d) return;
    this.stats.sessions.markDown(index, nowUs(), 'drive');
    void this.endSession(d).then(() => this.redial(index, 0));
  }

  liveCount(): number {
    let n = 0;
    for (const d of this.devices.values()) if (this.isLive(d)) n++;
    return n;
  }

  protected liveDevices(): D[] {
    return [...this.devices.values()].filter((d) => this.isLive(d));
  }

  protected nextSourceAddress(): string | undefined {
    return sourceAddress(this.setup, this.opened++);
  }

  /** A device in session: new, or back for a new drive or after a failure (it replaces its old self). */
  protected add(device: D, atUs = nowUs()): void {
    if (!this.devices.has(device.index)) this.order.push(device.index);
    this.devices.set(device.index, device);
    this.stats.sessions.up(device.index, atUs, Date.now());
  }

  /** A command or broadcast reached device `index`: counted, and commands answered where the workload says so. */
  protected received(index: number, payload: Uint8Array, atUs: number): void {
    const stamp = this.stats.delivered(index, payload, atUs);
    const ackTopic = this.stats.workload.ackTopic;
    if (stamp?.kind === PayloadKind.COMMAND && ackTopic) this.publishOn(index, ackTopic(index), this.stats.workload.ack(stamp));
  }

  /** A session ended without the bench asking (`reason` 'dropped': the reconnect storm asked the link to fail). */
  protected lost(index: number, reason: DownReason = 'unexpected'): void {
    if (reason === 'unexpected') this.stats.counters.unexpectedCloses++;
    this.stats.sessions.markDown(index, nowUs(), reason);
    if (this.setup.redial) this.redial(index, 1);
  }

  /** Dials device `index` again after the backoff of `attempt` (0: at once), unless a shrink took it away. */
  private redial(index: number, attempt: number): void {
    if (!this.devices.has(index)) return;
    const timer = setTimeout(
      () => {
        if (!this.devices.has(index)) return;
        this.stats.counters.reconnectAttempts++;
        void this.open(index, REDIAL_TIMEOUT_MS).then((r) => {
          if (r !== true && attempt < MAX_REDIALS) this.redial(index, attempt + 1);
        });
      },
      attempt === 0 ? 0 : redialDelay(attempt),
    );
    timer.unref();
  }

  /** The devices at index `keep` and above: the ones a shrink to `keep` closes. */
  protected beyond(keep: number): D[] {
    return [...this.devices.values()].filter((d) => d.index >= keep);
  }

  /** Forgets the devices a shrink closed. */
  protected forgetBeyond(keep: number): void {
    for (const index of this.order) {
      if (index < keep) continue;
      this.devices.delete(index);
      this.stats.sessions.forget(index);
    }
    this.order = this.order.filter((i) => i < keep);
  }
}
