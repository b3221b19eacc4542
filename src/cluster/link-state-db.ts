import type { Graph } from './graph.js';

/** A link-state advertisement: `origin`'s neighbours and its measured costs to them. */
export interface Lsa {
  origin: string;
  /** Larger is newer. Origins start from the wall clock, so a restarted node outranks its old self. */
  seq: number;
  neighbours: [string, number][];
}

export type LsaVerdict = 'newer' | 'same' | 'older';

interface Entry {
  lsa: Lsa;
  receivedAt: number;
}

/**
 * The newest advertisement of every known node. Every node floods its own and re-floods newer
 * ones it hears, so all nodes converge to the same database and hence the same graph.
 */
export class LinkStateDb {
  private readonly entries = new Map<string, Entry>();

  /** Stores `lsa` if it is newer than what is held for its origin. */
  accept(lsa: Lsa, now: number): LsaVerdict {
    const held = this.entries.get(lsa.origin);
    if (held && lsa.seq < held.lsa.seq) return 'older';
    if (held && lsa.seq === held.lsa.seq) return 'same';
    this.entries.set(lsa.origin, { lsa, receivedAt: now });
    return 'newer';
  }

  get(origin: string): Lsa | undefined {
    return this.entries.get(origin)?.lsa;
  }

  all(): Lsa[] {
    return [...this.entries.values()].map((e) => e.lsa);
  }

  ageMs(origin: string, now: number): number | undefined {
    const e = this.entries.get(origin);
    return e && now - e.receivedAt;
  }

  /** Forgets every origin (but `keep`) not refreshed within `maxAgeMs`; returns the forgotten. */
  expire(now: number, maxAgeMs: number, keep: string): string[] {
    const gone: string[] = [];
    for (const [origin, e] of this.entries) {
      if (origin !== keep && now - e.receivedAt > maxAgeMs) {
        this.entries.delete(origin);
        gone.push(origin);
      }
    }
    return gone;
  }

  /**
   * The graph of links both ends advertise (the two-way check): a node that died still has its
   * last advertisement here until it ages out, but its neighbours stop listing it, so no path
   * leads through it. Each direction keeps the cost its own origin measured.
   */
  graph(): Graph {
    const graph = new Map<string, Map<string, number>>();
    for (const { lsa } of this.entries.values()) {
      const out = new Map<string, number>();
      for (const [to, cost] of lsa.neighbours) {
        if (to !== lsa.origin && this.entries.get(to)?.lsa.neighbours.some(([back]) => back === lsa.origin)) out.set(to, cost);
      }
      graph.set(lsa.origin, out);
    }
    return graph;
  }
}
