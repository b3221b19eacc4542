/** The part of a device worker that differs per client kind: raw relaymesh sockets, the SDK, or mqtt.js. */
import { nowUs } from '../fanout/clock.js';
import { LatencyHistogram } from '../fanout/histogram.js';
import type { ConnectPlan, ConnectReport, WorkerSetup } from './messages.js';
import type { DeviceStats } from './device-stats.js';

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

/**
 * What every fleet kind (raw, SDK, MQTT) keeps the same way: its devices by index in connect
 * order, the source address each new socket uses, and which devices leave on a shrink.
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

  protected add(device: D): void {
    this.devices.set(device.index, device);
    this.order.push(device.index);
  }

  /** The devices at index `keep` and above: the ones a shrink to `keep` closes. */
  protected beyond(keep: number): D[] {
    return [...this.devices.values()].filter((d) => d.index >= keep);
  }

  /** Forgets the devices a shrink closed. */
  protected forgetBeyond(keep: number): void {
    for (const index of this.order) if (index >= keep) this.devices.delete(index);
    this.order = this.order.filter((i) => i < keep);
  }
}
