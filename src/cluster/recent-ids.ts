/**
 * The last `capacity` keys seen, each with a value: a bounded memory for dropping duplicates.
 * Oldest first out (Map keeps insertion order), so memory stays fixed however long the node runs.
 */
export class RecentIds<V = true> {
  private readonly seen = new Map<string, V>();

  constructor(private readonly capacity: number) {}

  get(key: string): V | undefined {
    return this.seen.get(key);
  }

  has(key: string): boolean {
    return this.seen.has(key);
  }

  set(key: string, value: V): void {
    this.seen.delete(key);
    this.seen.set(key, value);
    if (this.seen.size > this.capacity) this.seen.delete(this.seen.keys().next().value!);
  }

  delete(key: string): void {
    this.seen.delete(key);
  }
}
