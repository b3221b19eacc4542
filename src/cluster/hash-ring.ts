import { createHash } from 'node:crypto';

/**
 * Consistent hashing with virtual nodes: each member owns many points on a 32-bit ring,
 * a key belongs to the first point clockwise from its hash. Adding or removing a member
 * moves about 1/N of the keys. Used to place devices on shards and on cluster nodes.
 */
export class HashRing<M extends string = string> {
  private points: { hash: number; member: M }[] = [];
  private readonly memberSet = new Set<M>();

  constructor(
    members: Iterable<M> = [],
    private readonly virtualNodes = 128,
  ) {
    for (const m of members) this.memberSet.add(m);
    this.rebuild();
  }

  add(member: M): void {
    if (this.memberSet.has(member)) return;
    this.memberSet.add(member);
    this.rebuild();
  }

  remove(member: M): void {
    if (this.memberSet.delete(member)) this.rebuild();
  }

  has(member: M): boolean {
    return this.memberSet.has(member);
  }

  members(): M[] {
    return [...this.memberSet];
  }

  get size(): number {
    return this.memberSet.size;
  }

  /**
   * The member that owns `key`, or undefined when the ring is empty. Members in `skip` are
   * passed over: the answer is then the member that would own `key` if they left.
   */
  locate(key: string, skip?: ReadonlySet<M>): M | undefined {
    const points = this.points;
    if (points.length === 0) return undefined;
    const h = hash32(key);
    let lo = 0;
    let hi = points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid]!.hash < h) lo = mid + 1;
      else hi = mid;
    }
    for (let i = 0; i < points.length; i++) {
      const { member } = points[(lo + i) % points.length]!;
      if (!skip?.has(member)) return member;
    }
    return undefined;
  }

  private rebuild(): void {
    const points: { hash: number; member: M }[] = [];
    for (const member of this.memberSet) {
      for (let v = 0; v < this.virtualNodes; v++) points.push({ hash: hash32(`${member}#${v}`), member });
    }
    this.points = points.sort((a, b) => a.hash - b.hash || (a.member < b.member ? -1 : 1));
  }
}

function hash32(key: string): number {
  return createHash('md5').update(key).digest().readUInt32BE(0);
}
