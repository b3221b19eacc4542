import t from 'tap';
import { CloseCode, FrameKind, shouldReconnect } from '../src/index.js';
import { startTestBroker } from './helpers/broker.js';
import { RawClient } from './helpers/raw-client.js';

t.test('a second connection with the same device id replaces the first', async (t) => {
  const broker = await startTestBroker(t);
  const first = await RawClient.connect(broker.url, 'car-7');
  await first.request({ kind: FrameKind.SUB, seq: 1, filters: ['news'] });
  const firstSession = broker.device('car-7')!.sessionId;
  const second = await RawClient.connect(broker.url, 'car-7');
  const closed = await first.closed();
  t.equal(closed.code, CloseCode.SESSION_TAKEN_OVER);
  t.equal(shouldReconnect(closed.code), false, 'the replaced client must not fight back');
  t.not(broker.device('car-7')!.sessionId, firstSession);
  t.equal(broker.connectedDevices, 1);
  // The new connection is fully functional and the old subscription is gone with the old socket.
  await second.request({ kind: FrameKind.SUB, seq: 2, filters: ['news'] });
  t.equal(await broker.publish('news', 'x'), 1);
  await second.next(FrameKind.MSG);
  second.close();
});

t.test('kick closes a device with KICKED, a reconnectable code', async (t) => {
  const broker = await startTestBroker(t);
  const client = await RawClient.connect(broker.url, 'car-8');
  t.equal(broker.kick('car-8'), true);
  const closed = await client.closed();
  t.equal(closed.code, CloseCode.KICKED);
  t.equal(shouldReconnect(closed.code), true);
  t.equal(broker.kick('car-8'), false);
});
