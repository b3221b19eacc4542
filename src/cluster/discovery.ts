/** Where to dial a peer node: its id (checked in the handshake) and its cluster port. */
export interface PeerAddress {
  nodeId: string;
  host: string;
  port: number;
}

/**
 * A source of peer addresses (static seeds, etcd, DNS SRV, ...). The node dials every address it
 * is given and keeps redialling it with backoff while it is listed and not linked. Implementations
 * call `update` with the complete current list whenever it changes; the node diffs the lists. A
 * peer dropped from the list is no longer redialled; a link to it stays until it fails.
 */
export interface Discovery {
  /** `self` is this node's own address (its cluster port is bound by then), for sources that register it. */
  start(update: (peers: PeerAddress[]) => void, self: PeerAddress): void | Promise<void>;
  stop(): void | Promise<void>;
}

/** The seed list from the options, as a discovery source that never changes. */
export class StaticDiscovery implements Discovery {
  constructor(private readonly peers: readonly PeerAddress[]) {}

  start(update: (peers: PeerAddress[]) => void): void {
    update([...this.peers]);
  }

  stop(): void {}
}
