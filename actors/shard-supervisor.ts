import { spawn, type ActorSystemRef, type Ref } from 'nact';

export interface ShardPolicy {
  /** Restarts allowed per device actor within `windowMs` before the shard gives up on it. */
  maxRestarts: number;
  windowMs: number;
  /** Told about every crash of a device actor (for logs and metrics). */
  onCrash(childName: string, err: unknown): void;
  /** Called when a device actor crashed too often and was stopped: close its connection. */
  onGiveUp(childName: string): void;
}

/**
 * A shard supervisor owns the device actors hashed to it. It receives no messages on the
 * hot path (nact copies a parent's child map for every message it handles), only the
 * fault escalations of its children, which it answers by restarting the child.
 */
export function spawnShardSupervisor(system: ActorSystemRef, name: string, policy: ShardPolicy): Ref<never> {
  const recentCrashes = new Map<string, number[]>();
  return spawn(system, (state: null) => state, name, {
    initialState: null,
    onCrash: (_msg, err, ctx, child) => {
      if (!child) return ctx.resume;
      const childName = (child as unknown as { name: string }).name;
      policy.onCrash(childName, err);
      const now = Date.now();
      const crashes = (recentCrashes.get(childName) ?? []).filter((t) => now - t < policy.windowMs);
      crashes.push(now);
      if (crashes.length > policy.maxRestarts) {
        recentCrashes.delete(childName);
        policy.onGiveUp(childName);
        return ctx.stopChild;
      }
      recentCrashes.set(childName, crashes);
      pruneOld(recentCrashes, now, policy.windowMs);
      return ctx.resetChild;
    },
  }) as Ref<never>;
}

/** Forget crash history older than the window so the map stays small. */
function pruneOld(crashes: Map<string, number[]>, now: number, windowMs: number): void {
  for (const [name, times] of crashes) if (now - times[times.length - 1]! >= windowMs) crashes.delete(name);
}
