import { topicMatches } from '../protocol/index.js';

/** The 5.0 options of one subscription that change how a message is forwarded to it. */
export interface ForwardingFlags {
  /** No Local: not the messages this client id published itself. */
  noLocal: boolean;
  /** Retain As Published: the RETAIN flag the message was published with, not 0. */
  retainAsPublished: boolean;
}

/** How one message goes out to the client: not at all, or with its published RETAIN flag kept or cleared. */
export type Forwarding = 'skip' | 'keep-retain' | 'clear-retain';

/**
 * The No Local and Retain As Published options of one client's subscriptions, by filter (only
 * filters with either set). The fan-out hands a client one copy of a message however many of
 * its filters match, so the copy is judged against every matching filter: skipped only when
 * each of them is No Local, its RETAIN flag kept when any is Retain As Published.
 */
export class SubscriptionOptions {
  /** Created on first use: one of these is kept per client id, and most never set an option. */
  private byFilter: Map<string, ForwardingFlags> | undefined;

  /** Whether no subscription has an option set: every message goes out as usual. */
  get none(): boolean {
    return this.byFilter === undefined || this.byFilter.size === 0;
  }

  set(filter: string, flags: ForwardingFlags): void {
    if (flags.noLocal || flags.retainAsPublished) (this.byFilter ??= new Map()).set(filter, flags);
    else this.byFilter?.delete(filter);
  }

  remove(filter: string): void {
    this.byFilter?.delete(filter);
  }

  /** How a message on `topic` goes out, given every filter the client holds (`ownMessage`: it published it). */
  forwarding(topic: string, ownMessage: boolean, filters: Iterable<string>): Forwarding {
    let matched = false;
    let acceptsOwn = false;
    let keepRetain = false;
    for (const filter of filters) {
      if (!topicMatches(filter, topic)) continue;
      matched = true;
      const flags = this.byFilter?.get(filter);
      if (!flags?.noLocal) acceptsOwn = true;
      if (flags?.retainAsPublished) keepRetain = true;
    }
    // No matching filter (an inbox message, or one from a subscription just removed): as usual.
    if (!matched) return 'clear-retain';
    if (ownMessage && !acceptsOwn) return 'skip';
    return keepRetain ? 'keep-retain' : 'clear-retain';
  }
}
