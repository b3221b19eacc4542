import { join } from 'node:path';
import t from 'tap';
import { turnScheduler } from '../actors/turn-scheduler.js';
import type { DeviceActor } from '../actors/device-actor.js';
import { DeviceRegistry, type DeviceConnection, type LiveDevice } from '../src/broker/device-registry.js';
import { DurableIndex } from '../src/broker/durable/durable-index.js';
import { SessionKeeper } from '../src/broker/durable/session-keeper.js';
import { resolveOptions } from '../src/broker/options.js';
import type { DeviceSession } from '../src/broker/session/device-session.js';
import { DeviceSessions } from '../src/broker/session/device-sessions.js';
import { TopicFanout } from '../src/broker/topic-fanout.js';
import { ConnectionState, ErrorCode, ProtocolError, newMessageTally, type CloseCode } from '../src/protocol/index.js';
import { openLmdbStore, type MessageStore } from '../src/store/index.js';

/**
 * DeviceSession on the real store, durable index, stored sessions and fan-out: the one owner
 * that keeps the three in step for a device's subscriptions, and restores and retires them.
 */

const HOUR = 3_600_000;

/** The sink end of a connection: nothing is read from it here. */
class Sink implements DeviceConnection {
  readonly id = 'c1';
  readonly remoteAddress = '127.0.0.1';
  readonly framesDropped = 0;
  readonly tally = newMessageTally();
  closed = false;
  write(): void {}
  close(_code: CloseCode, _reason: string): void {
    this.closed = true;
  }
}

/** The session's device actor is not exercised here: frames never reach it. */
const idleActor: DeviceActor = { name: 'idle', post: () => undefined, finish: (last) => last(), stop: () => undefined };

async function setUp(t: { testdir(): string; teardown(fn: () => unknown): void }) {
  const store: MessageStore = await openLmdbStore(join(t.testdir(), 'store'));
  const fanout = new TopicFanout<LiveDevice>(turnScheduler, resolveOptions({ anonymous: true }).fanout);
  t.teardown(async () => {
    fanout.destroy();
    await store.close();
  });
  const failed = (operation: string, err: unknown) => {
    throw new Error(`${operation} failed: ${String(err)}`);
  };
  const index = new DurableIndex(store, failed);
  const keeper = new SessionKeeper(store, HOUR, failed);
  const devices = new DeviceRegistry();
  const sessions = new DeviceSessions({ store, index, keeper, fanout, devices, maxSubscriptions: 3, outbox: { ackTimeoutMs: 10_000, maxInflight: 10 } });
  /** Opens the session of a connection of `deviceId`, registered as live. */
  const connect = (deviceId: string, subscribeAcl?: string[], expiryMs?: number): { device: LiveDevice; session: DeviceSession } => {
    const session = sessions.open({ deviceId, sessionId: 's', version: 1, resume: [], ...(expiryMs !== undefined ? { expiryMs } : {}) }, new Sink());
    const auth = subscribeAcl ? { acl: { publish: [], subscribe: subscribeAcl, send: [] } } : {};
    const device: LiveDevice = { session, status: { state: ConnectionState.Authenticated }, conn: new Sink(), actor: idleActor, actorName: `a-${deviceId}`, outbox: session.outbox, auth };
    session.bind(device);
    devices.add(device);
    return { device, session };
  };
  /** Takes the device off the registry, as the gateway does before retiring it. */
  const disconnect = ({ device, session }: { device: LiveDevice; session: DeviceSession }) => {
    devices.remove(device);
    session.retire();
  };
  const subscribers = (filter: string) => fanout.stats().find((s) => s.filter === filter)?.subscribers ?? 0;
  /** Whether the durable index keeps QoS 1 messages of `topic` for the device. */
  const durablyFollows = (deviceId: string, topic: string) => {
    index.prepareAppend(topic);
    return index.cursor(deviceId, topic) !== undefined;
  };
  return { sessions, keeper, connect, disconnect, subscribers, durablyFollows };
}

t.test('subscribe updates the fan-out, the durable index and the stored session together', async (t) => {
  const { connect, keeper, subscribers, durablyFollows } = await setUp(t);
  const { session } = connect('dev');
  session.subscribe(['fleet/a', 'fleet/b'], 1);
  t.same([...session.subscriptions], [['fleet/a', 1], ['fleet/b', 1]]);
  t.equal(subscribers('fleet/a'), 1);
  t.ok(durablyFollows('dev', 'fleet/a'));
  t.same(keeper.load('dev')?.subscriptions, [['fleet/a', 1], ['fleet/b', 1]]);
});

t.test('unsubscribe takes the filter out of all three', async (t) => {
  const { connect, keeper, subscribers, durablyFollows } = await setUp(t);
  const { session } = connect('dev');
  session.subscribe(['fleet/a', 'fleet/b'], 1);
  session.unsubscribe(['fleet/a']);
  t.same([...session.subscriptions.keys()], ['fleet/b']);
  t.equal(subscribers('fleet/a'), 0);
  t.notOk(durablyFollows('dev', 'fleet/a'));
  t.same(keeper.load('dev')?.subscriptions, [['fleet/b', 1]]);
});

t.test('a subscribe over the limit is refused and changes nothing', async (t) => {
  const { connect, keeper } = await setUp(t);
  const { session } = connect('dev');
  session.subscribe(['a', 'b'], 0);
  let refused: unknown;
  try {
    session.subscribe(['c', 'd'], 0);
  } catch (err) {
    refused = err;
  }
  t.ok(refused instanceof ProtocolError && refused.code === ErrorCode.TOO_MANY_SUBSCRIPTIONS);
  t.same([...session.subscriptions.keys()], ['a', 'b']);
  t.same(keeper.load('dev')?.subscriptions, [['a', 0], ['b', 0]]);
});

t.test('restore brings back the stored subscriptions the credentials still allow', async (t) => {
  const { connect, disconnect, keeper, subscribers, durablyFollows } = await setUp(t);
  const first = connect('dev');
  first.session.subscribe(['fleet/a', 'admin/x'], 1);
  disconnect(first);
  t.equal(subscribers('fleet/a'), 0, 'a retired session leaves the fan-out');

  const second = connect('dev', ['fleet/#']);
  second.session.restore();
  t.same([...second.session.subscriptions], [['fleet/a', 1]]);
  t.equal(subscribers('fleet/a'), 1);
  t.equal(subscribers('admin/x'), 0);
  t.notOk(durablyFollows('dev', 'admin/x'), 'a filter no longer allowed is dropped from the durable index');
  t.same(keeper.load('dev')?.subscriptions, [['fleet/a', 1]]);
});

t.test('retire keeps the stored session until it expires', async (t) => {
  const { connect, disconnect, keeper } = await setUp(t);
  const live = connect('dev');
  live.session.subscribe(['fleet/a'], 0);
  const before = Date.now();
  disconnect(live);
  const stored = keeper.load('dev');
  t.same(stored?.subscriptions, [['fleet/a', 0]]);
  t.ok(stored && stored.expiresAt >= before + HOUR && stored.expiresAt < Number.MAX_SAFE_INTEGER);
});

t.test('retire of a session that ends with its connection discards it', async (t) => {
  const { connect, disconnect, sessions } = await setUp(t);
  const live = connect('dev', undefined, 0);
  live.session.subscribe(['fleet/a'], 1);
  disconnect(live);
  t.notOk(sessions.has('dev'));
});

t.test('a session taken over by a newer connection is not discarded by the old one', async (t) => {
  const { connect, durablyFollows } = await setUp(t);
  const old = connect('dev', undefined, 0);
  old.session.subscribe(['fleet/a'], 1);
  connect('dev', undefined, 0);
  old.session.retire();
  t.ok(durablyFollows('dev', 'fleet/a'), 'its QoS 1 filters and cursors stay for the newer connection');
});
