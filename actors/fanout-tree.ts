import { FanoutNode, type Broadcast, type DurableCopy, type FanoutMember } from './fanout-node.js';
import type { OutgoingMsg } from '../src/protocol/index.js';
import type { TurnScheduler, TurnTask } from './turn-scheduler.js';

export interface FanoutShape {
  /** Children per inner node. */
  branching: number;
  /** Members per leaf. */
  leafSize: number;
}

export interface FanoutOptions extends FanoutShape {
  /** Receives the time each turn's broadcasts took to reach each leaf. */
  observeLeafLatency?: (seconds: number) => void;
}

/** A tree's shape as the dashboard draws it: inner nodes and leaves with their member counts. */
export type FanoutTreeShape =
  | { kind: 'inner'; height: number; children: FanoutTreeShape[] }
  | { kind: 'leaf'; members: number; delivered: number };

interface Inner {
  node: FanoutNode;
  parent: Inner | undefined;
  /** Height 1: children are leaves. */
  height: number;
  childNodes: (Inner | Leaf)[];
}
interface Leaf {
  node: FanoutNode;
  parent: Inner;
  members: Map<FanoutMember, number>;
}

/**
 * A spanning tree of fan-out nodes for one subscription filter. Membership lives here,
 * changed synchronously with bounded work per join or leave (no rebuild, no member ever
 * moves between leaves, so each member sees the tree's messages once and in order).
 * Broadcasts of one turn are collected and sent down the tree together in the turn's output
 * step: on one event loop the walk is synchronous, an actor hop per level would only add
 * turns of latency (the tree's levels pay off across processes and cluster nodes).
 */
export class FanoutTree implements TurnTask {
  private root: Inner;
  private readonly leafOf = new Map<FanoutMember, Leaf>();
  private readonly openLeaves = new Set<Leaf>();
  private readonly openInners = new Map<number, Set<Inner>>();
  private serial = 0;
  /** Broadcasts of the current turn, sent down together in its output step. */
  private pending: Broadcast[] = [];

  constructor(
    private readonly scheduler: TurnScheduler,
    private readonly shape: FanoutOptions,
  ) {
    if (!(shape.branching >= 1) || !(shape.leafSize >= 1)) throw new Error('fan-out branching and leafSize must be >= 1');
    this.root = this.newInner(1, undefined);
  }

  get size(): number {
    return this.leafOf.size;
  }

  has(member: FanoutMember): boolean {
    return this.leafOf.has(member);
  }

  add(member: FanoutMember): void {
    if (this.leafOf.has(member)) return;
    const leaf = this.openLeaves.values().next().value ?? this.newLeaf();
    leaf.members.set(member, this.serial);
    this.leafOf.set(member, leaf);
    if (leaf.members.size >= this.shape.leafSize) this.openLeaves.delete(leaf);
  }

  remove(member: FanoutMember): void {
    const leaf = this.leafOf.get(member);
    if (!leaf) return;
    this.leafOf.delete(member);
    leaf.members.delete(member);
    if (leaf.members.size === 0) this.dropLeaf(leaf);
    else this.openLeaves.add(leaf);
  }

  /** Queues a message (or a stored copy, for QoS 1 members) for this turn's batch. */
  broadcast(msg: OutgoingMsg, durable: DurableCopy | undefined, served: Set<FanoutMember> | undefined): void {
    this.pending.push({ msg, durable, served, serial: ++this.serial, startedAt: performance.now() });
    if (this.pending.length === 1) this.scheduler.broadcast(this);
  }

  run(): void {
    const batch = this.pending;
    this.pending = [];
    if (batch.length > 0) this.root.node.forward(batch);
  }

  /** Node counts, for stats and benchmarks. */
  stats(): { leaves: number; inners: number; height: number; delivered: number } {
    let leaves = 0;
    let inners = 0;
    let delivered = 0;
    const visit = (node: Inner | Leaf): void => {
      if ('childNodes' in node) {
        inners++;
        node.childNodes.forEach(visit);
      } else {
        leaves++;
        delivered += node.node.delivered;
      }
    };
    visit(this.root);
    return { leaves, inners, height: this.root.height, delivered };
  }

  describe(): FanoutTreeShape {
    const describe = (node: Inner | Leaf): FanoutTreeShape =>
      'childNodes' in node
        ? { kind: 'inner', height: node.height, children: node.childNodes.map(describe) }
        : { kind: 'leaf', members: node.members.size, delivered: node.node.delivered };
    return describe(this.root);
  }

  /** Forgets every member and pending broadcast. */
  destroy(): void {
    this.pending = [];
    this.leafOf.clear();
    this.openLeaves.clear();
    this.openInners.clear();
  }

  private newLeaf(): Leaf {
    const parent = this.innerWithRoom(1);
    const members = new Map<FanoutMember, number>();
    const leaf: Leaf = { node: new FanoutNode(members, this.shape.observeLeafLatency), parent, members };
    this.attach(parent, leaf);
    this.openLeaves.add(leaf);
    return leaf;
  }

  /** An inner node of `height` with a free child slot, growing the tree upward if needed. */
  private innerWithRoom(height: number): Inner {
    const open = this.openInners.get(height)?.values().next().value;
    if (open) return open;
    if (height >= this.root.height) this.growRoot();
    const parent = this.innerWithRoom(height + 1);
    const inner = this.newInner(height, parent);
    this.attach(parent, inner);
    return inner;
  }

  /** A new root above the old one: existing paths stay, so in-flight order is kept. */
  private growRoot(): void {
    const old = this.root;
    const root = this.newInner(old.height + 1, undefined);
    old.parent = root;
    this.attach(root, old);
    this.root = root;
  }

  private newInner(height: number, parent: Inner | undefined): Inner {
    const inner: Inner = { node: new FanoutNode(undefined), parent, height, childNodes: [] };
    this.openSet(height).add(inner);
    return inner;
  }

  private attach(parent: Inner, child: Inner | Leaf): void {
    parent.childNodes.push(child);
    parent.node.children.push(child.node);
    if (parent.childNodes.length >= this.shape.branching) this.openSet(parent.height).delete(parent);
  }

  private dropLeaf(leaf: Leaf): void {
    this.openLeaves.delete(leaf);
    const parent = leaf.parent;
    const at = parent.childNodes.indexOf(leaf);
    parent.childNodes.splice(at, 1);
    parent.node.children.splice(at, 1);
    this.openSet(parent.height).add(parent);
  }

  private openSet(height: number): Set<Inner> {
    let set = this.openInners.get(height);
    if (!set) this.openInners.set(height, (set = new Set()));
    return set;
  }
}
