import type { Etcd3, IKeyValue, Lease, Watcher } from 'etcd3';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../logger.js';
import { RetrySchedule, exponentialBackoff, type BackoffOptions } from '../protocol/backoff.js';
import type { Discovery, PeerAddress } from './discovery.js';
import { NODE_ID_PATTERN } from './wire.js';

export interface EtcdDiscoveryOptions {
  /** etcd client URLs, e.g. `http://127.0.0.1:2379`. */
  endpoints: string[];
  /** Keys live under `<prefix>/nodes/<node-id>`; one prefix per cluster. */
  prefix: string;
  /** Lease TTL in seconds: a node that stops renewing disappears this long after. */
  ttlSeconds: number;
  /** Backoff between attempts to (re-)register while etcd is unreachable. */
  retry: BackoffOptions;
  /** Deadline of one etcd request (a hung etcd must not hang the loop). */
  requestTimeoutMs: number;
  /** SHA-256 fingerprint of this node's cluster TLS certificate, published for operators and tools. */
  certFingerprint?: string;
  log: Logger;
}

export const ETCD_DEFAULTS = { prefix: '/relaymesh', ttlSeconds: 5, retry: { initialDelayMs: 250, maxDelayMs: 5000, jitter: 0.3 }, requestTimeoutMs: 3000 } as const;

/** What a node registers about itself: where to dial it, and when it started (tells restarts apart). */
export interface NodeRecord extends PeerAddress {
  startedAt: string;
  certFingerprint?: string;
}

/**
 * Cluster membership kept in etcd. The node puts `<prefix>/nodes/<id>` = its address under a
 * lease it keeps alive, lists the prefix, then watches it: every change is handed to the node as
 * the complete peer list. A lapsed lease (crashed or cut-off node) deletes the key, so peers stop
 * dialling it; the link-level failure detection takes it out of the graph. While etcd is
 * unreachable the last list stays in force (links and routes are untouched) and registration
 * is retried with backoff; a lost lease is replaced by a new one under the same key.
 */
export class EtcdDiscovery implements Discovery {
  private client: Etcd3 | undefined;
  private lease: Lease | undefined;
  private watcher: Watcher | undefined;
  private readonly members = new Map<string, NodeRecord>();
  private stopped = false;
  private wakeUp: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private everJoined = false;
  /** Whether the current (or last) session got as far as registering: then a retry starts from the first delay. */
  private sessionRegistered = false;

  constructor(private readonly o: EtcdDiscoveryOptions) {}

  /** True once this node has registered and listed the cluster at least once. */
  get joined(): boolean {
    return this.everJoined;
  }

  /** The nodes currently registered (this one included), by id. */
  registered(): NodeRecord[] {
    return [...this.members.values()].sort((a, b) => a.nodeId.localeCompare(b.nodeId));
  }

  /** Registers in the background: a node starts even when etcd is down, and joins once it is up. */
  async start(update: (peers: PeerAddress[]) => void, self: PeerAddress): Promise<void> {
    if (self.host === '0.0.0.0' || self.host === '::') throw new Error(`etcd discovery: cluster host ${self.host} cannot be dialled by peers; listen on an address they can reach`);
    const { Etcd3 } = await import('etcd3');
    const requestTimeoutMs = this.o.requestTimeoutMs;
    this.client = new Etcd3({
      hosts: this.o.endpoints,
      // Streams (watch, keep-alive) live long; single requests must not hang on a stuck etcd.
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + requestTimeoutMs }),
    });
    const record: NodeRecord = { nodeId: self.nodeId, host: self.host, port: self.port, startedAt: new Date().toISOString(), ...(this.o.certFingerprint ? { certFingerprint: this.o.certFingerprint } : {}) };
    this.loop = this.run(record, update);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeUp?.();
    const client = this.client;
    if (!client) return;
    // Revoking deletes the key at once, so peers learn of a graceful stop without waiting the TTL.
    // One deadline for the whole goodbye: an unreachable etcd must not hold up the node's shutdown.
    const goodbye = (async () => {
      await this.loop;
      await this.lease?.revoke();
      await this.watcher?.cancel();
    })();
    const outcome = await Promise.race([goodbye.then(() => 'done', (err: Error) => err.message), sleep(this.o.requestTimeoutMs, 'timed out', { ref: false })]);
    if (outcome !== 'done') this.o.log.warn({ reason: outcome }, 'etcd discovery: could not revoke the lease; peers drop this node when it lapses');
    client.close();
  }

  private get nodesPrefix(): string {
    return `${this.o.prefix.replace(/\/+$/, '')}/nodes/`;
  }

  private async run(self: NodeRecord, update: (peers: PeerAddress[]) => void): Promise<void> {
    const schedule = new RetrySchedule(exponentialBackoff(this.o.retry));
    while (!this.stopped) {
      const ended = await this.session(self, update).then(
        (reason) => reason,
        (err: Error) => `etcd unreachable: ${err.message}`,
      );
      if (this.stopped) return;
      if (this.sessionRegistered) schedule.reset();
      const { delayMs, attempt } = schedule.next();
      this.o.log.warn({ reason: ended, retryInMs: Math.round(delayMs), attempt }, 'etcd discovery: not registered; keeping current peers, retrying');
      await this.pause(delayMs);
    }
  }

  /**
   * One registration: lease, put, list, watch. Resolves with the reason it ended (lease lost or
   * watch failed); until then, keeps the peer list current.
   */
  private async session(self: NodeRecord, update: (peers: PeerAddress[]) => void): Promise<string> {
    const client = this.client!;
    this.sessionRegistered = false;
    await this.cancelWatch();
    this.lease?.release();
    const lease = (this.lease = client.lease(this.o.ttlSeconds));
    const ended = new Promise<string>((resolve) => {
      lease.on('lost', (err) => resolve(`lease lost: ${err.message}`));
      this.wakeUp = () => resolve('stopping');
    });
    await lease.put(this.nodesPrefix + self.nodeId).value(JSON.stringify(self));
    const listing = await client.getAll().prefix(this.nodesPrefix).exec();
    if (this.stopped) return 'stopping';
    this.members.clear();
    for (const kv of listing.kvs) this.learn(kv);
    const watcher = (this.watcher = await client.watch().prefix(this.nodesPrefix).startRevision(String(BigInt(listing.header.revision) + 1n)).create());
    if (this.stopped) return 'stopping';
    const watchFailed = new Promise<string>((resolve) => watcher.on('error', (err) => resolve(`watch failed: ${err.message}`)));
    const publish = () => update(this.registered().filter((n) => n.nodeId !== self.nodeId));
    watcher.on('put', (kv) => {
      if (this.learn(kv)) publish();
    });
    watcher.on('delete', (kv) => {
      const nodeId = kv.key.toString().slice(this.nodesPrefix.length);
      if (nodeId === self.nodeId) {
        if (this.stopped) return; // our own revoke
        // Someone deleted our key while the lease lives (an operator's delete): put it back.
        void lease.put(this.nodesPrefix + self.nodeId).value(JSON.stringify(self)).catch(() => undefined);
        return;
      }
      if (this.members.delete(nodeId)) {
        this.o.log.info({ peer: nodeId }, 'etcd discovery: node left');
        publish();
      }
    });
    this.o.log.info({ prefix: this.o.prefix, nodes: this.registered().map((n) => n.nodeId) }, this.everJoined ? 'etcd discovery: registered again' : 'etcd discovery: registered');
    this.everJoined = this.sessionRegistered = true;
    publish();
    return Promise.race([ended, watchFailed]);
  }

  /** Records a registration; false when it is malformed or changes nothing. */
  private learn(kv: IKeyValue): boolean {
    const nodeId = kv.key.toString().slice(this.nodesPrefix.length);
    const record = parseRecord(kv.value.toString());
    if (!record || record.nodeId !== nodeId) {
      this.o.log.warn({ key: kv.key.toString() }, 'etcd discovery: ignoring a malformed node record');
      return false;
    }
    const known = this.members.get(nodeId);
    if (known && known.host === record.host && known.port === record.port && known.startedAt === record.startedAt) return false;
    this.members.set(nodeId, record);
    return true;
  }

  /** Cancelling needs etcd; an unreachable one must not hold up a new session or the stop. */
  private async cancelWatch(): Promise<void> {
    const watcher = this.watcher;
    this.watcher = undefined;
    if (watcher) await Promise.race([watcher.cancel().catch(() => undefined), sleep(this.o.requestTimeoutMs, undefined, { ref: false })]);
  }

  private async pause(ms: number): Promise<void> {
    const ac = new AbortController();
    this.wakeUp = () => ac.abort();
    await sleep(ms, undefined, { signal: ac.signal }).catch(() => undefined);
  }
}

function parseRecord(text: string): NodeRecord | undefined {
  try {
    const v = JSON.parse(text) as Partial<NodeRecord>;
    if (typeof v.nodeId !== 'string' || !NODE_ID_PATTERN.test(v.nodeId)) return undefined;
    if (typeof v.host !== 'string' || !v.host || !Number.isInteger(v.port) || v.port! < 1 || v.port! > 65535) return undefined;
    return { nodeId: v.nodeId, host: v.host, port: v.port!, startedAt: String(v.startedAt ?? ''), ...(typeof v.certFingerprint === 'string' ? { certFingerprint: v.certFingerprint } : {}) };
  } catch {
    return undefined;
  }
}
