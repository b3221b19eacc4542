import type { ClusterNode } from '../cluster/index.js';
import type { ClusterPayload } from './cluster-bridge.js';
import type { ClusterGroups, GroupCount, SharedGroupPeers, SharedHandOff } from './shared-groups.js';

/** Counts are broadcast again this often while a node has (or just had) members: repairs a broadcast lost with a failing link. */
const REFRESH_MS = 5_000;

/**
 * Every node's view of where the `$share` groups have members, and the hand-off of a group's
 * message to the node picked for it. Each node broadcasts its own member counts when they change
 * (once per turn), when a node joins, and every REFRESH_MS; a node that leaves has none. A node
 * starting asks the others for theirs (their broadcasts of its joining may have come before it
 * listened).
 */
export class SharedGroupExchange implements SharedGroupPeers {
  private version = 0;
  private scheduled = false;
  private advertisedNone = true;
  /** Newest version heard per node: a broadcast overtaken by a newer one is ignored. */
  private readonly heard = new Map<string, number>();
  private readonly refresh: NodeJS.Timeout;

  constructor(
    private readonly node: ClusterNode<ClusterPayload>,
    private readonly groups: ClusterGroups,
  ) {
    groups.attach(this);
    node.on('nodeUp', () => this.advertise());
    node.on('nodeDown', (nodeId) => {
      this.heard.delete(nodeId);
      groups.setRemoteCounts(nodeId, []);
    });
    this.refresh = setInterval(() => {
      if (!this.advertisedNone) this.advertise();
    }, REFRESH_MS);
    this.refresh.unref();
    this.advertise(true);
  }

  countsChanged(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.advertise();
    });
  }

  handOff(nodeId: string, message: SharedHandOff): Promise<void> {
    const payload: ClusterPayload = { t: 'share', message };
    if (message.qos === 1) return this.node.sendTo(nodeId, payload, { reliable: true, giveUpIfUnreachable: true });
    try {
      return this.node.sendTo(nodeId, payload) ? Promise.resolve() : Promise.reject(new Error(`no route to ${nodeId}`));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Counts broadcast by `origin`; `ask`: it wants everybody's. */
  received(origin: string, version: number, counts: readonly GroupCount[], ask: boolean): void {
    if (ask) this.countsChanged();
    if ((this.heard.get(origin) ?? -1) >= version) return;
    this.heard.set(origin, version);
    this.groups.setRemoteCounts(origin, counts);
  }

  close(): void {
    clearInterval(this.refresh);
  }

  private advertise(ask = false): void {
    const counts = this.groups.localCounts();
    this.advertisedNone = counts.length === 0;
    // Time-based, so that a restarted node's counts are newer than its former self's.
    this.version = Math.max(Date.now(), this.version + 1);
    this.node.broadcast({ t: 'groups', version: this.version, counts, ...(ask ? { ask } : {}) });
  }
}
