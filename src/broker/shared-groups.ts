/** A message of a `$share` group handed from the node that accepted it to a node with members. */
export interface SharedHandOff {
  group: string;
  filter: string;
  /** MSG bytes: the QoS 1 encoding of a stored message, or the QoS 0 one. */
  bytes: Uint8Array;
  qos: 0 | 1;
  /** Given to a member before (which left without acknowledging it): DUP=1. */
  dup: boolean;
  /** Hand-offs before this one: bounds re-routing while member counts are out of date. */
  handOffs: number;
}

/**
 * One group on one node, as nodes tell each other: its connected members, and its members that
 * are away with a stored session (they rejoin when they reconnect).
 */
export type GroupCount = [group: string, filter: string, members: number, parked: number];

/** The other cluster nodes, as the groups use them. */
export interface SharedGroupPeers {
  /** Gives a message to `nodeId`'s members of its group; QoS 1 resolves once that node has it, and rejects when it cannot take it (it left). */
  handOff(nodeId: string, message: SharedHandOff): Promise<void>;
  /** This node's member counts changed: the other nodes should hear of it. */
  countsChanged(): void;
}

/** The groups of this node, as the cluster bridge drives them (SharedSubscriptions). */
export interface ClusterGroups {
  attach(peers: SharedGroupPeers): void;
  handedOff(message: SharedHandOff): void;
  localCounts(): GroupCount[];
  /** What node `nodeId` has now (empty: nothing, or it left the cluster). */
  setRemoteCounts(nodeId: string, counts: readonly GroupCount[]): void;
}
