import { join } from 'node:path';
import t from 'tap';
import { DurableOutbox, type OutboxLimits } from '../src/broker/durable/outbox.js';
import { FrameKind, decodeFrame, newMessageTally, type CloseCode, type MsgFrame, type Outbound } from '../src/protocol/index.js';
import { openLmdbStore, type MessageStore } from '../src/store/index.js';

/**
 * The outbox on the real LMDB store, driven by hand: the order of offer/start/ack and the
 * clock of the redelivery sweep are chosen by the test, so races become reproducible.
 * Its connection is the sink end of a socket: it keeps the MSG frames written to it.
 */
class FrameSink implements Outbound {
  readonly msgs: MsgFrame[] = [];
  closed = false;
  readonly tally = newMessageTally();

  write(bytes: Uint8Array): void {
    const decoded = decodeFrame(bytes);
    if (decoded.ok && decoded.frame.kind === FrameKind.MSG) this.msgs.push(decoded.frame);
  }

  close(_code: CloseCode, _reason: string): void {
    this.closed = true;
  }

  /** Takes the frames written since the last call. */
  take(): MsgFrame[] {
    return this.msgs.splice(0, this.msgs.length);
  }
}

const INBOX = '$inbox/dev';
const EMPTY = { payload: new Uint8Array(0), traceId: '' };

async function storeWith(t: { testdir(): string; teardown(fn: () => unknown): void }, entries: number): Promise<MessageStore> {
  const store = await openLmdbStore(join(t.testdir(), 'store'));
  t.teardown(() => store.close());
  const appends: Promise<unknown>[] = [];
  for (let i = 0; i < entries; i++) appends.push(store.append(INBOX, EMPTY));
  await Promise.all(appends);
  return store;
}

function outboxOn(store: MessageStore, limits: OutboxLimits, cursor: number) {
  const sink = new FrameSink();
  const cursors = new Map([[INBOX, cursor]]);
  const outbox = new DurableOutbox(
    store,
    sink,
    limits,
    (stream) => cursors.get(stream),
    (stream, offset) => cursors.set(stream, offset),
  );
  return { sink, outbox, cursors };
}

t.test('an offer that arrives before start is merged into the replay, never a stalled window or duplicates', async (t) => {
  const store = await storeWith(t, 300);
  const { sink, outbox, cursors } = outboxOn(store, { maxInflight: 100, ackTimeoutMs: 10_000 }, 100);
  const head = store.head(INBOX);
  // The gateway registers the device before its actor runs start: a SEND committed in between offers.
  outbox.offer(INBOX, head.epoch, 300, new Uint8Array(0));
  outbox.start(new Map(cursors));
  const seen: number[] = [];
  for (let round = 0; round < 10; round++) {
    const got = sink.take();
    if (got.length === 0) break;
    seen.push(...got.map((m) => m.offset));
    outbox.ack(INBOX, got.at(-1)!.offset);
  }
  t.same(seen, Array.from({ length: 200 }, (_, i) => 101 + i), 'offsets 101..300, each once, in order');
  t.equal(cursors.get(INBOX), 300, 'every ACK reached the cursor');
  t.equal(outbox.inflightCount, 0);
});

t.test('an ACK frees exactly the acknowledged deliveries of its own stream', async (t) => {
  const store = await storeWith(t, 5);
  for (let i = 0; i < 5; i++) await store.append('topic/a', EMPTY);
  const { sink, outbox } = outboxOn(store, { maxInflight: 100, ackTimeoutMs: 10_000 }, 0);
  outbox.start(new Map([[INBOX, 0], ['topic/a', 0]]));
  t.equal(sink.take().length, 10);
  outbox.ack('topic/a', 3);
  t.equal(outbox.inflightCount, 7);
  outbox.ack(INBOX, 5);
  t.equal(outbox.inflightCount, 2);
  outbox.ack('topic/a', 99);
  t.equal(outbox.inflightCount, 0, 'an ACK past what was sent frees what was sent');
});

t.test('the ack clock starts once the delivery is written, not when it is queued', async (t) => {
  const store = await storeWith(t, 1);
  const { sink, outbox } = outboxOn(store, { maxInflight: 100, ackTimeoutMs: 1000 }, 0);
  outbox.start(new Map([[INBOX, 0]]));
  t.equal(sink.take().length, 1);
  // The loop stalled for a minute after queueing: the sweeps that follow see an old queue time.
  const late = Date.now() + 60_000;
  t.equal(outbox.redeliverExpired(late), 0, 'first sweep after the stall: the write may still be pending');
  t.equal(outbox.redeliverExpired(late), 0, 'second sweep: the write is done, its clock starts now');
  t.equal(outbox.redeliverExpired(late + 999), 0);
  t.equal(outbox.redeliverExpired(late + 1000), 1, 'one ack timeout after the write');
  t.equal(sink.take()[0]!.delivery, 2);
});

t.test('redelivery backs off, doubling the wait up to eight ack timeouts', async (t) => {
  const store = await storeWith(t, 1);
  const timeout = 1000;
  const { sink, outbox } = outboxOn(store, { maxInflight: 100, ackTimeoutMs: timeout }, 0);
  outbox.start(new Map([[INBOX, 0]]));
  sink.take();
  let now = Date.now();
  const waits: number[] = [];
  for (let delivery = 2; delivery <= 7; delivery++) {
    // Two sweeps start the clock of the write before (see above).
    outbox.redeliverExpired(now);
    outbox.redeliverExpired(now);
    const clockFrom = now;
    let resent = 0;
    for (let step = 1; step <= 16 && resent === 0; step++) {
      now = clockFrom + step * timeout;
      resent = outbox.redeliverExpired(now);
    }
    waits.push((now - clockFrom) / timeout);
    t.equal(sink.take()[0]!.delivery, delivery);
  }
  t.same(waits, [1, 2, 4, 8, 8, 8]);
});

t.test('an outbox closed before start stays silent', async (t) => {
  const store = await storeWith(t, 3);
  const { sink, outbox } = outboxOn(store, { maxInflight: 100, ackTimeoutMs: 1000 }, 0);
  outbox.close();
  outbox.start(new Map([[INBOX, 0]]));
  outbox.offer(INBOX, store.head(INBOX).epoch, 3, new Uint8Array(0));
  t.equal(sink.take().length, 0);
});

t.test('expired stored entries are passed over; with nothing unacked before them the cursor moves past them', async (t) => {
  const store = await openLmdbStore(join(t.testdir(), 'store'));
  t.teardown(() => store.close());
  const expired = { ...EMPTY, props: { expirySeconds: 0 } };
  const kept = { ...EMPTY, props: { expirySeconds: 3600, contentType: 'text/plain' } };
  await Promise.all([store.append(INBOX, expired), store.append(INBOX, expired), store.append(INBOX, kept), store.append(INBOX, expired), store.append(INBOX, EMPTY)]);
  const { sink, outbox, cursors } = outboxOn(store, { maxInflight: 100, ackTimeoutMs: 10_000 }, 0);
  outbox.start(new Map([[INBOX, 0]]));
  const sent = sink.take();
  t.same(sent.map((m) => m.offset), [3, 5], 'only the entries still alive');
  t.equal(sent[0]!.props?.contentType, 'text/plain', 'with their properties');
  t.ok(sent[0]!.props!.expirySeconds! <= 3600, 'and what remains of their lifetime');
  t.equal(cursors.get(INBOX), 2, 'the cursor passed the leading expired entries at once');
  outbox.ack(INBOX, 5);
  t.equal(cursors.get(INBOX), 5, 'an ack after the later expired entry covers it');
});
