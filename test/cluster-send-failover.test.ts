import t from 'tap';
import { ErrorCode, FrameKind } from '../src/index.js';
import { startTestBroker } from './helpers/broker.js';
import { childNode, clusterView, joinAndConnect, planFrozenHomeCluster, received, sendQos1, until } from './helpers/frozen-home.js';

// Broker processes compile the sources when they start: slow on a shared 2-core machine.
t.setTimeout(300_000);

/**
 * X on a sends QoS 1 to Y on c; Y's home is b, frozen (SIGSTOP) while the SEND is on its way, then
 * killed: the sender gets a retriable ERROR in bounded time and a picks the destination again.
 */
t.test('a QoS 1 SEND whose destination node dies gets a retriable ERROR, then reaches the device through the next destination', async (t) => {
  const { options, target } = await planFrozenHomeCluster();
  const b = await childNode(t, await options('b'));
  const a = await startTestBroker(t, await options('a'));
  const c = await startTestBroker(t, await options('c'));
  const { device, sender } = await joinAndConnect(t, { a, b, c }, target);

  b.child.kill('SIGSTOP');
  const answer = await sendQos1(sender, target, 'load 7');
  t.match(answer, { kind: FrameKind.ERROR, code: ErrorCode.UNAVAILABLE }, 'ERROR 501: not stored yet, retriable');
  await until('a to hold the message for b, the home of the device', async () => (await clusterView(a.port)).queued >= 1);

  b.child.kill('SIGKILL');
  await b.exited;
  t.ok(await received(device, 'load 7'), 'b left the graph: a picked another destination and the device got the message');
  await until('the forward queue of a to empty', async () => (await clusterView(a.port)).queued === 0);
  t.pass('nothing waits for b any more');
});
