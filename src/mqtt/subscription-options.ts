import { topicMatches } from '../protocol/index.js';

/** The 5.0 options of one subscription that change how a message is forwarded to it. */
export interface ForwardingFlags {
  /** No Local: not the messages this client id published itself. */
  noLocal: boolean;
  /** Retain As Published: the RETAIN flag the message was published with, not 0. */
  retainAsPublished: boolean;
  /** Subscription Identifier of the SUBSCRIBE that made it (1 to 268,435,455). */
  subscriptionId?: number;
}

/** How one message goes out to the client: not at all, or with its published RETAIN flag kept or cleared and the identifiers of the subscriptions it matched. */
export type Forwarding = { skip: true } | { skip: false; keepRetain: boolean; subscriptionIds: number[] };

/**
 * The No Local, Retain As Published and Subscription Identifier options of one client's
 * subscriptions, by filter (only filters with one set). The fan-out hands a client one copy of a
 * message however many of its filters match, so the copy is judged against every matching
 * filter: skipped only when each of them is No Local, its RETAIN flag kept when any is Retain As
 * Published, and it carries the identifiers of them all (spec 3.3.4).
 */
export class SubscriptionOptions {
  /** Created on first use: one of these is kept per client id, and most never set an option. */
  private byFilter: Map<string, ForwardingFlags> | undefined;

  /** Whether no subscription has an option set: every message goes out as usual. */
  get none(): boolean {
    return this.byFilter === undefined || this.byFilter.size === 0;
  }

  set(filter: string, flags: ForwardingFlags): void {
    if (flags.noLocal || flags.retainAsPublished || flags.subscriptionId !== undefined) (this.byFilter ??= new Map()).set(filter, flags);
    else this.byFilter?.delete(filter);
  }

  remove(filter: string): void {
    this.byFilter?.delete(filter);
  }

  /** The Subscription Identifier of `filter`, if it has one. */
  subscriptionIdOf(filter: string): number | undefined {
    return this.byFilter?.get(filter)?.subscriptionId;
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
