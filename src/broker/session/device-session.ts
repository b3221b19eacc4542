import { ErrorCode, ProtocolError, type Qos, type Session, type StreamPosition } from '../../protocol/index.js';
import { mayReceive } from '../auth/index.js';
import type { DeviceRegistry, LiveDevice } from '../device-registry.js';
import type { DurableIndex } from '../durable/durable-index.js';
import type { DurableOutbox } from '../durable/outbox.js';
import type { HeldSubscriptions, SessionKeeper, SubscriptionFlagsSource } from '../durable/session-keeper.js';
import type { TopicFanout } from '../topic-fanout.js';

/** What every device session of a broker works with. */
export interface SessionServices {
  fanout: TopicFanout<LiveDevice>;
  index: DurableIndex;
  keeper: SessionKeeper;
  devices: DeviceRegistry;
  maxSubscriptions: number;
  /** Told when a device's session goes live on this node, and when it left it (the cluster directory). */
  presence?: { connected(deviceId: string): void; left(deviceId: string): void };
}

/** A connection's place in MQTT `$share` groups, which its session's shared subscriptions drive. */
export interface GroupMembership {
  join(group: string, filter: string, qos: Qos): void;
  leave(group: string, filter: string): void;
}

/**
 * One device's session while a connection of it is live on this node: its subscriptions (the
 * one place that updates the fan-out, the durable index and the stored session together), its
 * outbox and cursors, restore when the connection goes live and retire when it is gone.
 */
export class DeviceSession implements Session {
  private readonly subscribed = new Map<string, Qos>();
  /** `$share` subscriptions: `<group>\0<filter>` → [group, filter, qos]. */
  private readonly shared = new Map<string, [group: string, filter: string, qos: Qos]>();
  /** Set by `restore`: saving before it would overwrite the stored subscriptions it reads. */
  private restored = false;
  readonly counters = { framesIn: 0, framesOut: 0, errors: 0, restarts: 0 };
  private member!: LiveDevice;

  constructor(
    readonly deviceId: string,
    readonly sessionId: string,
    readonly version: number,
    /** QoS 1 delivery to this connection; its acks move the device's cursors. */
    readonly outbox: DurableOutbox,
    private readonly services: SessionServices,
    /** Stream positions the client sent when it connected, used once by `restore`. */
    private readonly resume: readonly StreamPosition[],
    /** How long the session outlives its connection, when the client chose (MQTT); else the broker's sessionExpiryMs. */
    public expiryMs?: number,
    /** The connection's groups (MQTT only): where stored `$share` subscriptions are restored to. */
    private readonly groups?: GroupMembership,
    /** The options of its subscriptions (MQTT 5 only; its protocol channel sets them as SUBSCRIBEs arrive). */
    private readonly flags?: SubscriptionFlagsSource,
  ) {}

  /** The live device this session belongs to (what the fan-out delivers to). */
  bind(device: LiveDevice): void {
    this.member = device;
  }

  get subscriptions(): ReadonlyMap<string, Qos> {
    return this.subscribed;
  }

  /** `$share` subscriptions: [group, filter, qos]. */
  get sharedSubscriptions(): Iterable<[group: string, filter: string, qos: Qos]> {
    return this.shared.values();
  }

  subscribe(filters: readonly string[], qos: Qos): void {
    const { maxSubscriptions } = this.services;
    const added = filters.filter((f) => !this.subscribed.has(f)).length;
    if (this.subscribed.size + added > maxSubscriptions) {
      throw new ProtocolError(ErrorCode.TOO_MANY_SUBSCRIPTIONS, `at most ${maxSubscriptions} subscriptions per connection`);
    }
    const { fanout, index, keeper } = this.services;
    for (const filter of filters) {
      fanout.subscribe(this.member, filter, qos);
      index.subscribe(this.deviceId, filter, qos);
      this.subscribed.set(filter, qos);
    }
    keeper.saveConnected(this.deviceId, this.held());
  }

  /** Joins a `$share` group (checked by the caller); kept with the session like a filter. */
  joinGroup(group: string, filter: string, qos: Qos): void {
    this.groups?.join(group, filter, qos);
    this.shared.set(groupKey(group, filter), [group, filter, qos]);
    if (this.restored) this.services.keeper.saveConnected(this.deviceId, this.held());
  }

  leaveGroup(group: string, filter: string): void {
    this.groups?.leave(group, filter);
    if (!this.shared.delete(groupKey(group, filter))) return;
    if (this.restored) this.services.keeper.saveConnected(this.deviceId, this.held());
  }

  unsubscribe(filters: readonly string[]): void {
    const { fanout, index, keeper } = this.services;
    for (const filter of filters) {
      fanout.unsubscribe(this.member, filter);
      index.unsubscribe(this.deviceId, filter);
      this.subscribed.delete(filter);
    }
    keeper.saveConnected(this.deviceId, this.held());
  }

  /**
   * Restores the stored subscriptions, then replays what waited for the device: live delivery
   * starts only after this, through the outbox, which keeps the seam gapless.
   */
  restore(): void {
    const { fanout, index, keeper } = this.services;
    const stored = keeper.load(this.deviceId);
    for (const [filter, qos] of stored?.subscriptions ?? []) {
      // The credentials of this connection may allow less than those that subscribed.
      if (!mayReceive(this.member.auth.acl, filter)) {
        index.unsubscribe(this.deviceId, filter);
        continue;
      }
      fanout.subscribe(this.member, filter, qos);
      this.subscribed.set(filter, qos);
    }
    // A group joined since the connection opened wins over the stored one.
    for (const [group, filter, qos] of stored?.shared ?? []) {
      if (!this.groups || this.shared.has(groupKey(group, filter)) || !mayReceive(this.member.auth.acl, filter)) continue;
      this.joinGroup(group, filter, qos);
    }
    this.restored = true;
    keeper.saveConnected(this.deviceId, this.held());
    this.outbox.start(index.cursorsOf(this.deviceId), this.resume);
    this.services.presence?.connected(this.deviceId);
  }

  /** The connection is gone (closed or taken over): stop delivering, start the stored session's expiry. */
  retire(): void {
    const { fanout, index, keeper, devices } = this.services;
    fanout.removeMember(this.member);
    this.outbox.close();
    // A newer connection of the device (takeover) carries the session on: it stays connected, so
    // this connection's expiry (0: none) must not start, or the newcomer would restore nothing.
    const replaced = devices.get(this.deviceId) !== undefined;
    if (replaced) keeper.saveConnected(this.deviceId, this.held());
    else if (this.expiryMs === 0) keeper.discard(this.deviceId, index);
    else keeper.saveDisconnected(this.deviceId, this.held(), this.expiryMs);
    if (!replaced) this.services.presence?.left(this.deviceId);
  }

  private held(): HeldSubscriptions {
    return { filters: this.subscribed, shared: this.shared.values(), ...(this.flags ? { flags: this.flags } : {}) };
  }
}

function groupKey(group: string, filter: string): string {
  return `${group}\u0000${filter}`;
}
