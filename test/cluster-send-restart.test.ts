import t from 'tap';
import { ErrorCode, FrameKind } from '../src/index.js';
import { startTestBroker } from './helpers/broker.js';
import { childNode, joinAndConnect, planFrozenHomeCluster, received, sendQos1 } from './helpers/frozen-home.js';

// Broker processes compile the sources when they start: slow on a shared 2-core machine.
t.setTimeout(300_000);

/** QoS 1 is at least once across a restart of the origin node too: what it accepted is journalled. */
t.test('a QoS 1 SEND not yet handed on when its origin node is killed is delivered after the origin restarts', async (t) => {
  const { options, target } = await planFrozenHomeCluster();
  const originOptions = await options('a');
  const [a, b] = await Promise.all([childNode(t, originOptions), options('b').then((o) => childNode(t, o))]);
  const c = await startTestBroker(t, await options('c'));
  const { device, sender } = await joinAndConnect(t, { a, b, c }, target);

  b.child.kill('SIGSTOP');
  t.match(await sendQos1(sender, target, 'load 8'), { kind: FrameKind.ERROR, code: ErrorCode.UNAVAILABLE }, 'accepted and journalled, not stored at a destination yet');
  a.child.kill('SIGKILL');
  b.child.kill('SIGKILL');
  await Promise.all([a.exited, b.exited]);

  await childNode(t, originOptions);
  t.ok(await received(device, 'load 8'), 'the restarted origin handed it on from its forward journal');
});
