import { ClusterError } from './errors.js';
import { HashRing } from './hash-ring.js';

/** deviceId, the node it connected to, when (wall clock ms at that node). */
type Entry = [deviceId: string, nodeId: string, at: number];

/** Routed payloads of the directory (channel 1). */
export type DirectoryMessage =
  | { t: 'set'; entries: Entry[] }
  | { t: 'clear'; deviceId: string; nodeId: string }
  | { t: 'get'; q: number; deviceId: string }
  | { t: 'loc'; q: number; nodeId: string | null };

export function isDirectoryMessage(m: unknown): m is DirectoryMessage {
  if (typeof m !== 'object' || m === null) return false;
  const r = m as Record<string, unknown>;
  const str = (v: unknown): boolean => typeof v === 'string';
  switch (r.t) {
    case 'set':
      return Array.isArray(r.entries) && r.entries.every((e) => Array.isArray(e) && str(e[0]) && str(e[1]) && Number.isFinite(e[2]));
    case 'clear':
      return str(r.deviceId) && str(r.nodeId);
    case 'get':
      return Number.isSafeInteger(r.q) && str(r.deviceId);
    case 'loc':
      return Number.isSafeInteger(r.q) && (r.nodeId === null || str(r.nodeId));
    default:
      return false;
  }
}

export interface DirectoryDeps {
  self: string;
  virtualNodes: number;
  /** Best-effort send on the directory channel; false when there is no route. */
  send(dest: string, message: DirectoryMessage): boolean;
  lookupTimeoutMs: number;
}

const BATCH = 1000;

interface Lookup {
  deviceId: string;
  resolve(nodeId: string | undefined): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * Where devices live. A device's HOME is the live node its id hashes to on a consistent-hash
 * ring with virtual nodes (so any node computes it without asking, and a node joining or leaving
 * moves about 1/N of the homes). The home keeps a small table: device → node it is connected to.
 *
 * - The node a device connects to calls `announce`; the entry goes to the device's home. Entries
 *   carry the connect time, and the home keeps the newest, so a takeover's announcement wins even
 *   if the old node's arrives later (this assumes node clocks agree to well under the time between
 *   two connections of one device; NTP gives milliseconds).
 * - Anyone asks `locate(deviceId)`: one routed round trip to the home (none when it is local).
 *   When no link leads to the home right now, the next node on the ring is asked instead (it is
 *   the device's home once the unreachable node leaves, and learns the entry then); a look-up
 *   still waiting when the routes change is asked again, so a home that died does not stall it.
 * - Broker policy on top: send to the located node; if the device is not connected anywhere,
 *   send to its home, which stores the message in the device's inbox stream.
 *
 * The table is soft state: when membership changes, each node re-announces its own devices whose
 * home moved (and those homed on a node that just came up, which may have restarted empty); homes
 * forget entries that point at nodes that went down and devices no longer homed there.
 */
export class DeviceDirectory {
  private readonly ring: HashRing;
  /** Devices connected to this node → the home they were last announced to, and when they connected. */
  private readonly local = new Map<string, { home: string; at: number }>();
  /** As a home: device → the node it is connected to, and since when. */
  private readonly locations = new Map<string, { nodeId: string; at: number }>();
  private readonly lookups = new Map<number, Lookup>();
  private nextQuery = 1;

  constructor(private readonly deps: DirectoryDeps) {
    this.ring = new HashRing([deps.self], deps.virtualNodes);
  }

  homeOf(deviceId: string): string {
    return this.ring.locate(deviceId) ?? this.deps.self;
  }

  announce(deviceId: string, nodeId: string): void {
    const home = this.homeOf(deviceId);
    const at = Date.now();
    if (nodeId === this.deps.self) this.local.set(deviceId, { home, at });
    this.tell(home, [[deviceId, nodeId, at]]);
  }

  forget(deviceId: string, nodeId: string): void {
    if (nodeId === this.deps.self) this.local.delete(deviceId);
    const home = this.homeOf(deviceId);
    if (home === this.deps.self) this.clear(deviceId, nodeId);
    else this.deps.send(home, { t: 'clear', deviceId, nodeId });
  }

  /** The node the device is connected to, as its home knows it (undefined: not connected). */
  async locate(deviceId: string): Promise<string | undefined> {
    if (this.homeOf(deviceId) === this.deps.self) return this.locations.get(deviceId)?.nodeId;
    const q = this.nextQuery++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.lookups.delete(q);
        reject(new ClusterError('TIMEOUT', `no answer about ${deviceId} from ${this.homeOf(deviceId)}`));
      }, this.deps.lookupTimeoutMs);
      const lookup: Lookup = { deviceId, resolve, reject, timer };
      this.lookups.set(q, lookup);
      this.ask(q, lookup);
    });
  }

  /** Routes changed: a look-up's question or answer may have been lost with a link, ask again. */
  routesChanged(): void {
    for (const [q, lookup] of this.lookups) this.ask(q, lookup);
  }

  /** As a home: what this node knows, synchronously (for a message arriving at the home). */
  locationHere(deviceId: string): string | undefined {
    return this.locations.get(deviceId)?.nodeId;
  }

  receive(origin: string, message: DirectoryMessage): void {
    switch (message.t) {
      case 'set':
        this.store(message.entries);
        break;
      case 'clear':
        this.clear(message.deviceId, message.nodeId);
        break;
      case 'get':
        this.deps.send(origin, { t: 'loc', q: message.q, nodeId: this.locations.get(message.deviceId)?.nodeId ?? null });
        break;
      case 'loc':
        this.answer(message.q, message.nodeId ?? undefined);
    }
  }

  /** Live nodes changed: move the ring, prune the table, re-announce this node's moved devices. */
  membershipChanged(live: readonly string[], up: readonly string[]): void {
    const liveSet = new Set(live);
    for (const m of this.ring.members()) if (!liveSet.has(m)) this.ring.remove(m);
    for (const m of live) this.ring.add(m);
    for (const [deviceId, { nodeId }] of this.locations) {
      if (!liveSet.has(nodeId) || this.homeOf(deviceId) !== this.deps.self) this.locations.delete(deviceId);
    }
    const upSet = new Set(up);
    const byHome = new Map<string, Entry[]>();
    for (const [deviceId, announced] of this.local) {
      const home = this.homeOf(deviceId);
      if (home === announced.home && !upSet.has(home)) continue;
      announced.home = home;
      const list = byHome.get(home) ?? [];
      list.push([deviceId, this.deps.self, announced.at]);
      byHome.set(home, list);
    }
    for (const [home, entries] of byHome) for (let i = 0; i < entries.length; i += BATCH) this.tell(home, entries.slice(i, i + BATCH));
  }

  close(): void {
    for (const lookup of this.lookups.values()) {
      clearTimeout(lookup.timer);
      lookup.reject(new ClusterError('CLOSED', 'cluster node closed'));
    }
    this.lookups.clear();
  }

  /** Asks the first candidate (the home, then the next nodes on the ring) a link leads to now. */
  private ask(q: number, lookup: Lookup): void {
    const unreachable = new Set<string>();
    for (;;) {
      const candidate = this.ring.locate(lookup.deviceId, unreachable) ?? this.deps.self;
      if (candidate === this.deps.self) return this.answer(q, this.locations.get(lookup.deviceId)?.nodeId);
      if (this.deps.send(candidate, { t: 'get', q, deviceId: lookup.deviceId })) return;
      unreachable.add(candidate);
    }
  }

  private answer(q: number, nodeId: string | undefined): void {
    const lookup = this.lookups.get(q);
    if (!lookup) return;
    this.lookups.delete(q);
    clearTimeout(lookup.timer);
    lookup.resolve(nodeId);
  }

  private tell(home: string, entries: Entry[]): void {
    if (home !== this.deps.self) this.deps.send(home, { t: 'set', entries });
    else this.store(entries);
  }

  private store(entries: Entry[]): void {
    for (const [deviceId, nodeId, at] of entries) {
      const held = this.locations.get(deviceId);
      if (!held || at >= held.at) this.locations.set(deviceId, { nodeId, at });
    }
  }

  private clear(deviceId: string, nodeId: string): void {
    // Only if it still points there: the device may already be connected to another node.
    if (this.locations.get(deviceId)?.nodeId === nodeId) this.locations.delete(deviceId);
  }
}
