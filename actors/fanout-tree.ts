import { dispatch, spawn, stop, type Ref } from 'nact';
import { spawnFanoutNode, type Broadcast, type BroadcastBatch, type FanoutMember, type FanoutNodeState } from './fanout-node.js';

export interface FanoutShape {
  /** Children per inner node. */
  branching: number;
  /** Members per leaf. */
  leafSize: number;
}

export interface FanoutOptions extends FanoutShape {
  /** Receives the time each broadcast took to reach each leaf. */
  observeLeafLatency?: (seconds: number) => void;
}

/** A tree's shape as the dashboard draws it: inner nodes and leaves with their member counts. */
export type FanoutTreeShape =
  | { kind: 'inner'; height: number; children: FanoutTreeShape[] }
  | { kind: 'leaf'; members: number; delivered: number };

interface Node {
  ref: Ref<BroadcastBatch>;
  state: FanoutNodeState;
  parent: Inner | undefined;
}
/** Height 1: children are leaves. */
interface Inner extends Node {
  height: number;
  childNodes: Node[];
}
interface Leaf extends Node {
  members: Map<FanoutMember, number>;
}

/**
 * A spanning tree of fan-out actors for one subscription filter. Membership lives here,
 * changed synchronously with bounded work per join or leave (no rebuild, no member ever
 * moves between leaves, so each member sees the tree's messages once and in order);
 * broadcasts flow through the actors from the root.
 */
export class FanoutTree {
  /**
   * Every node is spawned under this one container, which never receives a message: nact
   * copies a parent's child map per message it handles, so nodes with no nact children
   * forward at no extra cost, and stopping the container stops the whole tree.
   */
  private readonly container: Ref<never>;
  private root: Inner;
  private readonly leafOf = new Map<FanoutMember, Leaf>();
  private readonly openLeaves = new Set<Leaf>();
  private readonly openInners = new Map<number, Set<Inner>>();
  private nextNodeId = 0;
  private serial = 0;
  /** Broadcasts of the current tick, sent down together at its end. */
  private pending: Broadcast[] = [];

  constructor(
    owner: Ref<unknown>,
    name: string,
    private readonly shape: FanoutOptions,
  ) {
    if (!(shape.branching >= 1) || !(shape.leafSize >= 1)) throw new Error('fan-out branching and leafSize must be >= 1');
    this.container = spawn(owner, (state: null) => state, name, { initialState: null }) as Ref<never>;
    this.root = this.spawnInner(1, undefined);
  }

  get size(): number {
    return this.leafOf.size;
  }

  has(member: FanoutMember): boolean {
    return this.leafOf.has(member);
  }

  add(member: FanoutMember): void {
    if (this.leafOf.has(member)) return;
    const leaf = this.openLeaves.values().next().value ?? this.spawnLeaf();
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

  broadcast(msg: Omit<Broadcast, 'serial' | 'startedAt'>): void {
    this.pending.push({ ...msg, serial: ++this.serial, startedAt: performance.now() });
    if (this.pending.length === 1) setImmediate(this.sendPending);
  }

  private readonly sendPending = (): void => {
    const batch = this.pending;
    this.pending = [];
    if (batch.length > 0) dispatch(this.root.ref, batch);
  };

  /** Node counts, for stats and benchmarks. */
  stats(): { leaves: number; inners: number; height: number; delivered: number } {
    let leaves = 0;
    let inners = 0;
    let delivered = 0;
    const visit = (node: Node): void => {
      if ('childNodes' in node) {
        inners++;
        (node as Inner).childNodes.forEach(visit);
      } else {
        leaves++;
        delivered += node.state.delivered;
      }
    };
    visit(this.root);
    return { leaves, inners, height: this.root.height, delivered };
  }

  describe(): FanoutTreeShape {
    const describe = (node: Node): FanoutTreeShape =>
      'childNodes' in node
        ? { kind: 'inner', height: (node as Inner).height, children: (node as Inner).childNodes.map(describe) }
        : { kind: 'leaf', members: (node as Leaf).members.size, delivered: node.state.delivered };
    return describe(this.root);
  }

  /** Stops every actor of the tree. */
  destroy(): void {
    stop(this.container);
    this.pending = [];
    this.leafOf.clear();
    this.openLeaves.clear();
    this.openInners.clear();
  }

  private spawnLeaf(): Leaf {
    const parent = this.innerWithRoom(1);
    const members = new Map<FanoutMember, number>();
    const state: FanoutNodeState = { children: [], members, delivered: 0, ...(this.shape.observeLeafLatency ? { observe: this.shape.observeLeafLatency } : {}) };
    const leaf: Leaf = { ref: spawnFanoutNode(this.container, `leaf-${this.nextNodeId++}`, state), state, parent, members };
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
    const inner = this.spawnInner(height, parent);
    this.attach(parent, inner);
    return inner;
  }

  /** A new root above the old one: existing paths stay, so in-flight order is kept. */
  private growRoot(): void {
    const old = this.root;
    const root = this.spawnInner(old.height + 1, undefined);
    old.parent = root;
    this.attach(root, old);
    this.root = root;
  }

  private spawnInner(height: number, parent: Inner | undefined): Inner {
    const state: FanoutNodeState = { children: [], members: undefined, delivered: 0 };
    const inner: Inner = { ref: spawnFanoutNode(this.container, `inner-${this.nextNodeId++}`, state), state, parent, height, childNodes: [] };
    this.openSet(height).add(inner);
    return inner;
  }

  private attach(parent: Inner, child: Node): void {
    parent.childNodes.push(child);
    parent.state.children.push(child.ref);
    if (parent.childNodes.length >= this.shape.branching) this.openSet(parent.height).delete(parent);
  }

  private dropLeaf(leaf: Leaf): void {
    this.openLeaves.delete(leaf);
    const parent = leaf.parent!;
    const at = parent.childNodes.indexOf(leaf);
    parent.childNodes.splice(at, 1);
    parent.state.children.splice(at, 1);
    this.openSet(parent.height).add(parent);
    stop(leaf.ref);
  }

  private openSet(height: number): Set<Inner> {
    let set = this.openInners.get(height);
    if (!set) this.openInners.set(height, (set = new Set()));
    return set;
  }
}
