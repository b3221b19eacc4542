import type { SubscriptionFlagsSource } from '../broker/durable/session-keeper.js';
import { topicMatches } from '../protocol/index.js';
import type { SessionRecord, SubscriptionFlags } from '../store/index.js';

/** How one message goes out to the client: not at all, or with its published RETAIN flag kept or cleared and the identifiers of the subscriptions it matched. */
export type Forwarding = { skip: true } | { skip: false; keepRetain: boolean; subscriptionIds: number[] };

/**
 * The No Local, Retain As Published and Subscription Identifier options of one connection's
 * subscriptions, by filter (only filters with one set): loaded from the stored session it
 * resumed, changed as SUBSCRIBE and UNSUBSCRIBE arrive, saved with the session's filters.
 * The fan-out hands a client one copy of a message however many of its filters match, so the copy is judged against every matching
 * filter: skipped only when each of them is No Local, its RETAIN flag kept when any is Retain As
 * Published, and it carries the identifiers of them all (spec 3.3.4).
 */
export class SubscriptionOptions implements SubscriptionFlagsSource {
  /** Created on first use: most connections never set an option. */
  private byFilter: Map<string, SubscriptionFlags> | undefined;
  /** Those of `$share` subscriptions, by `<group>\0<filter>`: a group's messages come one at a time, never merged with the fan-out's. */
  private byGroup: Map<string, SubscriptionFlags> | undefined;

  /** Takes on the options of a stored session's subscriptions. */
  load(stored: SessionRecord): void {
    for (const [filter, , flags] of stored.subscriptions) if (flags) this.set(filter, flags);
    for (const [group, filter, , flags] of stored.shared ?? []) if (flags) this.setShared(group, filter, flags);
  }

  /** Whether no subscription (`$share` ones aside) has an option set: every message of the fan-out goes out as usual. */
  get none(): boolean {
    return this.byFilter === undefined || this.byFilter.size === 0;
  }

  set(filter: string, flags: SubscriptionFlags): void {
    if (flags.noLocal || flags.retainAsPublished || flags.subscriptionId !== undefined) (this.byFilter ??= new Map()).set(filter, flags);
    else this.byFilter?.delete(filter);
  }

  remove(filter: string): void {
    this.byFilter?.delete(filter);
  }

  setShared(group: string, filter: string, flags: SubscriptionFlags): void {
    if (flags.retainAsPublished || flags.subscriptionId !== undefined) (this.byGroup ??= new Map()).set(groupKey(group, filter), flags);
    else this.removeShared(group, filter);
  }

  removeShared(group: string, filter: string): void {
    this.byGroup?.delete(groupKey(group, filter));
  }

  sharedFlagsOf(group: string, filter: string): SubscriptionFlags | undefined {
    return this.byGroup?.get(groupKey(group, filter));
  }

  flagsOf(filter: string): SubscriptionFlags | undefined {
    return this.byFilter?.get(filter);
  }

  /** How a message on `topic` goes out, given every filter the client holds (`ownMessage`: it published it). */
  forwarding(topic: string, ownMessage: boolean, filters: Iterable<string>): Forwarding {
    let matched = false;
    let acceptsOwn = false;
    let keepRetain = false;
    const subscriptionIds: number[] = [];
    for (const filter of filters) {
      if (!topicMatches(filter, topic)) continue;
      matched = true;
      const flags = this.byFilter?.get(filter);
      if (!flags?.noLocal) acceptsOwn = true;
      if (flags?.retainAsPublished) keepRetain = true;
      if (flags?.subscriptionId !== undefined) subscriptionIds.push(flags.subscriptionId);
    }
    // No matching filter (an inbox message, or one from a subscription just removed) is not skipped.
    if (matched && ownMessage && !acceptsOwn) return { skip: true };
    return { skip: false, keepRetain, subscriptionIds };
  }
}

function groupKey(group: string, filter: string): string {
  return `${group}\u0000${filter}`;
}
