import { spawn, dispatch, type Ref } from 'nact';
import type { Outbound } from '../src/protocol/index.js';

/** Takes QoS 1 deliveries for one device: windowed, acked, replayed (see DurableOutbox). */
export interface DurableReceiver {
  offer(stream: string, epoch: string, offset: number, bytes: Uint8Array): void;
}

/** A subscriber as the fan-out tree sees it. */
export interface FanoutMember {
  readonly conn: Outbound;
  readonly outbox: DurableReceiver;
}

/** A stored (QoS 1) message: its position and its QoS 1 encoding. */
export interface DurableCopy {
  stream: string;
  epoch: string;
  offset: number;
  bytes: Uint8Array;
}

/** One broadcast travelling down the tree: the bytes are encoded once, before the root. */
export interface Broadcast {
  bytes: Uint8Array;
  /** Position in the tree's broadcast order, set by the tree. */
  serial: number;
  /** performance.now() when the broadcast entered the tree. */
  startedAt: number;
  /** QoS 0 copies may be dropped for a socket over its soft backpressure limit. */
  droppable: boolean;
  /** Set on the way into a QoS 1 subscription's tree for a stored message: members get it through their outbox. */
  durable?: DurableCopy;
  /**
   * Present only when a publish matched several trees (overlapping filters): members
   * already served by another tree are skipped, so each device gets one copy.
   */
  served?: Set<FanoutMember>;
}

/** Inner nodes forward to their children; leaves write to their members' sockets. */
/**
 * What travels through the tree's actors: every broadcast of one event-loop tick together, so a
 * leaf queues a tick's frames for each socket at once and the transport writes them under one
 * cork (one syscall per socket per tick, not per message).
 */
export type BroadcastBatch = readonly Broadcast[];

export interface FanoutNodeState {
  children: Ref<BroadcastBatch>[];
  /**
   * Leaf members with the broadcast serial at which they joined: a member gets only later
   * broadcasts, so one that left and rejoined on a leaf that lags behind never sees an old one.
   */
  members: Map<FanoutMember, number> | undefined;
  /** Deliveries made by this leaf (for stats and benchmarks). */
  delivered: number;
  /** Told, per leaf and broadcast, how long the broadcast took to reach it. */
  observe?: (seconds: number) => void;
}

export function spawnFanoutNode(parent: Ref<unknown>, name: string, state: FanoutNodeState): Ref<BroadcastBatch> {
  return spawn(parent, forward, name, {
    initialState: state,
    // A fan-out node holds no state that a restart would lose: resume with the next message.
    onCrash: (_msg, _err, ctx) => ctx.resume,
  });
}

function forward(state: FanoutNodeState, batch: BroadcastBatch): FanoutNodeState {
  for (const child of state.children) dispatch(child, batch);
  const members = state.members;
  if (!members) return state;
  for (const [m, joinedAt] of members) {
    for (const { bytes, droppable, served, serial, durable } of batch) {
      if (serial <= joinedAt) continue;
      if (served) {
        if (served.has(m)) continue;
        served.add(m);
      }
      if (durable) m.outbox.offer(durable.stream, durable.epoch, durable.offset, durable.bytes);
      else m.conn.write(bytes, droppable);
      state.delivered++;
    }
  }
  if (state.observe) {
    const now = performance.now();
    for (const msg of batch) state.observe((now - msg.startedAt) / 1000);
  }
  return state;
}
