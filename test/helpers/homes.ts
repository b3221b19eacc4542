import { HashRing } from '../../src/cluster/index.js';

/**
 * A device id whose home among `members` is `home`, and `nextHome` once `home` has left (the
 * cluster's default of 128 virtual nodes per member). Tries at most 10,000 names.
 */
export function deviceHomedOn(members: string[], home: string, nextHome: string, prefix = 'device'): string {
  const ring = new HashRing(members);
  const without = new HashRing(members.filter((m) => m !== home));
  for (let i = 0; i < 10_000; i++) {
    const id = `${prefix}-${i}`;
    if (ring.locate(id) === home && without.locate(id) === nextHome) return id;
  }
  throw new Error(`no device id homed on ${home}, then ${nextHome}, among ${members.join(',')}`);
}
