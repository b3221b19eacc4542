import { pino } from 'pino';
import t from 'tap';
import { ClusterNode, LOCAL_TIMING, waitFor, type Discovery, type PeerAddress } from '../src/cluster/index.js';

/** A discovery source the test feeds by hand, as etcd or DNS would. */
class ManualDiscovery implements Discovery {
  update: (peers: PeerAddress[]) => void = () => undefined;
  stopped = false;
  start(update: (peers: PeerAddress[]) => void): void {
    this.update = update;
  }
  stop(): void {
    this.stopped = true;
  }
}

const start = async (t: { teardown(fn: () => unknown): void }, nodeId: string, discovery?: Discovery) => {
  const node = await ClusterNode.start({ ...LOCAL_TIMING, nodeId, port: 0, secret: 'discovery-test-secret-42', log: pino({ level: 'silent' }), ...(discovery ? { discovery } : {}) });
  t.teardown(() => node.close());
  return node;
};

t.test('peers announced by a discovery source after start are dialled and joined', async (t) => {
  const discovery = new ManualDiscovery();
  const a = await start(t, 'a', discovery);
  const b = await start(t, 'b');
  const c = await start(t, 'c');
  t.same(a.liveNodes(), ['a']);
  discovery.update([{ nodeId: 'b', host: '127.0.0.1', port: b.port }, { nodeId: 'c', host: '127.0.0.1', port: c.port }]);
  await waitFor(() => a.liveNodes().join() === 'a,b,c', 60_000, 'a to link with b and c');
  t.equal(a.nextHop('b'), 'b');
  t.equal(a.nextHop('c'), 'c');
});

t.test('closing the node stops its discovery source', async (t) => {
  const discovery = new ManualDiscovery();
  const a = await start(t, 'a', discovery);
  await a.close();
  t.ok(discovery.stopped);
});

t.test('a discovery source that fails to start fails the start, cleanly', async (t) => {
  const broken: Discovery = { start: () => Promise.reject(new Error('etcd unreachable')), stop: () => undefined };
  await t.rejects(ClusterNode.start({ ...LOCAL_TIMING, nodeId: 'a', port: 0, secret: 'discovery-test-secret-42', log: pino({ level: 'silent' }), discovery: broken }), /etcd unreachable/);
});
