import t from 'tap';
import { FrameKind } from '../src/index.js';
import { startTestBroker } from './helpers/broker.js';
import { RawClient } from './helpers/raw-client.js';

t.test('1,000 concurrent clients all receive one broadcast', async (t) => {
  const broker = await startTestBroker(t);
  const clients: RawClient[] = [];
  for (let batch = 0; batch < 10; batch++) {
    clients.push(...(await Promise.all(Array.from({ length: 100 }, (_, i) => RawClient.connect(broker.url, `fleet-${batch * 100 + i}`)))));
  }
  t.teardown(() => clients.forEach((c) => c.close()));
  await Promise.all(clients.map((c) => c.request({ kind: FrameKind.SUB, seq: 1, filters: ['fleet/broadcast'] })));
  t.equal(broker.connectedDevices, 1000);
  t.equal(await broker.publish('fleet/broadcast', 'firmware 2.1 available'), 1000);
  const received = await Promise.all(clients.map((c) => c.next(FrameKind.MSG, 20_000)));
  t.equal(received.filter((m) => Buffer.from(m.payload).toString() === 'firmware 2.1 available').length, 1000);
});
