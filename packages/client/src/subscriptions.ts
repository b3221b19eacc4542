import { MAX_LIST_LENGTH, type Qos } from '../../../src/protocol/index.js';

/** One subscribe call's claim on a filter; compared by identity to undo only our own change. */
interface Entry {
  qos: Qos | undefined;
}

/**
 * The filters this client wants, with the QoS asked for (undefined: the broker's default).
 * Changed when subscribe/unsubscribe are called, so a reconnect restores what the user asked
 * for, and rolled back when a subscribe fails.
 */
export class SubscriptionSet {
  private readonly entries = new Map<string, Entry>();

  /** Records the filters and returns an undo for when the broker refuses them. */
  add(filters: readonly string[], qos: Qos | undefined): () => void {
    const previous = new Map<string, Entry | undefined>();
    const added: Entry = { qos };
    for (const filter of filters) {
      previous.set(filter, this.entries.get(filter));
      this.entries.set(filter, added);
    }
    return () => {
      for (const [filter, before] of previous) {
        // A later subscribe or unsubscribe of the same filter wins over this rollback.
        if (this.entries.get(filter) !== added) continue;
        if (before) this.entries.set(filter, before);
        else this.entries.delete(filter);
      }
    };
  }

  remove(filters: readonly string[]): void {
    for (const filter of filters) this.entries.delete(filter);
  }

  /** The SUB frames' contents that restore every filter: grouped by QoS, within the list limit. */
  batches(): { filters: string[]; qos: Qos | undefined }[] {
    const byQos = new Map<Qos | undefined, string[]>();
    for (const [filter, { qos }] of this.entries) {
      let filters = byQos.get(qos);
      if (!filters) byQos.set(qos, (filters = []));
      filters.push(filter);
    }
    const batches: { filters: string[]; qos: Qos | undefined }[] = [];
    for (const [qos, filters] of byQos) {
      for (let i = 0; i < filters.length; i += MAX_LIST_LENGTH) batches.push({ filters: filters.slice(i, i + MAX_LIST_LENGTH), qos });
    }
    return batches;
  }
}
