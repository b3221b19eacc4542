import t from 'tap';
import { DeviceMailbox } from '../actors/device-mailbox.js';
import { TurnScheduler } from '../actors/turn-scheduler.js';
import { FrameKind } from '../src/index.js';
import { startTestBroker } from './helpers/broker.js';
import { RawClient } from './helpers/raw-client.js';

/** Resolves after the scheduler's turn queued before it has run both of its steps. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

t.test('every message posted during a turn, for every mailbox, is handled in that turn, each mailbox in order', async (t) => {
  const scheduler = new TurnScheduler();
  const handled: string[] = [];
  const flushed: string[] = [];
  // Like SocketConnection: asks for a flush with its first frame of the turn.
  const socket = {
    queued: 0,
    write(): void {
      if (this.queued++ === 0) scheduler.flush(this);
    },
    run(): void {
      flushed.push(`${this.queued} frames after ${handled.length} handled`);
      this.queued = 0;
    },
  };
  const mailbox = (name: string): DeviceMailbox<number> =>
    new DeviceMailbox<number>(
      scheduler,
      (n) => {
        handled.push(`${name}${n}`);
        socket.write();
      },
      (err) => t.fail(String(err)),
    );
  const a = mailbox('a');
  const b = mailbox('b');
  a.post(1);
  b.post(1);
  a.post(2);
  a.post(3);
  b.post(2);
  t.same(handled, [], 'nothing runs while the turn is still reading');
  await nextTurn();
  t.same(handled, ['a1', 'a2', 'a3', 'b1', 'b2']);
  t.same(flushed, ['5 frames after 5 handled'], "the socket is written once, after the turn's handlers");
});

t.test('a mailbox handles one message at a time: the next waits for the promise of the previous', async (t) => {
  const scheduler = new TurnScheduler();
  const events: string[] = [];
  let finishFirst!: () => void;
  const box = new DeviceMailbox<number>(
    scheduler,
    (n) => {
      events.push(`start ${n}`);
      if (n === 1) return new Promise<void>((resolve) => (finishFirst = () => (events.push('end 1'), resolve())));
    },
    (err) => t.fail(String(err)),
  );
  box.post(1);
  box.post(2);
  await nextTurn();
  t.same(events, ['start 1']);
  finishFirst();
  await nextTurn();
  t.same(events, ['start 1', 'end 1', 'start 2']);
});

t.test('a throwing handler faults its mailbox: that message is dropped, the rest wait for resume', async (t) => {
  const scheduler = new TurnScheduler();
  const handled: number[] = [];
  const faults: unknown[] = [];
  const box = new DeviceMailbox<number>(
    scheduler,
    (n) => {
      if (n === 2) throw new Error('boom');
      handled.push(n);
    },
    (err) => faults.push(err),
  );
  const bystander = new DeviceMailbox<number>(scheduler, (n) => void handled.push(100 + n), (err) => t.fail(String(err)));
  for (const n of [1, 2, 3]) box.post(n);
  bystander.post(1);
  await nextTurn();
  t.same(handled, [1, 101], 'the faulted mailbox stops, the other one goes on');
  t.equal(faults.length, 1);
  box.resume();
  await nextTurn();
  t.same(handled, [1, 101, 3]);
});

t.test('a stopped mailbox drops what is queued and ignores later messages', async (t) => {
  const scheduler = new TurnScheduler();
  const handled: number[] = [];
  const box = new DeviceMailbox<number>(scheduler, (n) => void handled.push(n), (err) => t.fail(String(err)));
  box.post(1);
  box.stop();
  box.post(2);
  await nextTurn();
  t.same(handled, []);
});

t.test("a device's burst of 100 publishes reaches a subscriber in far fewer socket writes than frames", async (t) => {
  const broker = await startTestBroker(t);
  const subscriber = await RawClient.connect(broker.url, 'sub');
  await subscriber.request({ kind: FrameKind.SUB, seq: subscriber.nextSeq(), filters: ['burst'] });
  const publisher = await RawClient.connect(broker.url, 'pub');
  const counters = async (): Promise<{ frames: number; writes: number }> => {
    const text = await (await fetch(`http://127.0.0.1:${broker.port}/metrics`)).text();
    const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
    return { frames: value('relaymesh_frames_out_total'), writes: value('relaymesh_socket_writes_total') };
  };
  const before = await counters();
  for (let i = 0; i < 100; i++) publisher.send({ kind: FrameKind.PUB, seq: publisher.nextSeq(), topic: 'burst', payload: new Uint8Array([i]) });
  for (let i = 0; i < 100; i++) t.same([...(await subscriber.next(FrameKind.MSG, 10_000)).payload], [i]);
  const after = await counters();
  t.equal(after.frames - before.frames, 100, 'one MSG per publish, nothing else written');
  // Frames that arrived in one turn leave in one write; a burst spans a handful of reads at most.
  t.ok(after.writes - before.writes <= 25, `${after.writes - before.writes} socket writes for 100 frames`);
  subscriber.close();
  publisher.close();
});
