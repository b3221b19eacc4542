import t from 'tap';
import { RelaymeshClient, type Message } from '../packages/client/src/index.js';
import { freePort, startTestBroker } from './helpers/broker.js';
import { mqttClient, until } from './helpers/mqtt.js';

const SECRET = 'cluster-secret-0123456789';

t.test('across two cluster nodes: MQTT publisher → SDK subscriber, SDK publisher → MQTT subscriber, SDK send → MQTT inbox, 5.0 properties included', async (t) => {
  const [portA, portB] = [await freePort(), await freePort()];
  const a = await startTestBroker(t, { nodeId: 'a', mqtt: { port: 0 }, cluster: { host: '127.0.0.1', port: portA, secret: SECRET, peers: [`b@127.0.0.1:${portB}`] } });
  const b = await startTestBroker(t, { nodeId: 'b', mqtt: { port: 0 }, cluster: { host: '127.0.0.1', port: portB, secret: SECRET, peers: [`a@127.0.0.1:${portA}`] } });
  // Both views: a node that does not yet see the other picks device homes from itself alone.
  const sees = async (port: number) => ((await (await fetch(`http://127.0.0.1:${port}/cluster`)).json()) as { nodes: { live: boolean }[] }).nodes.filter((n) => n.live).length === 2;
  await until(async () => (await sees(a.port)) && (await sees(b.port)), 'the nodes to link, seen from both');

  const mqttDevice = await mqttClient(t, `mqtt://127.0.0.1:${a.mqttPort}`, { clientId: 'sensor-1', protocolVersion: 5 });
  await mqttDevice.subscribeAsync('cmd/#', { qos: 1 });
  const sdk = new RelaymeshClient({ url: b.url, deviceId: 'backend', reconnect: false });
  t.teardown(() => sdk.close());
  const atSdk: Message[] = [];
  sdk.on('message', (m) => atSdk.push(m));
  await sdk.connect();
  await sdk.subscribe(['telemetry/#']);

  // Subscriptions on another node are not awaited by a publish: retry until the route is there.
  for (let i = 0; atSdk.length === 0 && i < 100; i++) {
    await mqttDevice.publishAsync('telemetry/sensor-1', 'temp 21', { qos: 1, properties: { contentType: 'text/plain', userProperties: { unit: 'C' } } });
    await until(() => atSdk.length > 0, 'the SDK subscriber on node b', 200).catch(() => undefined);
  }
  t.equal(Buffer.from(atSdk[0]!.payload).toString(), 'temp 21', 'MQTT on a → SDK on b');
  t.same(atSdk[0]!.props, { contentType: 'text/plain', userProperties: [['unit', 'C']] }, 'with its properties');
  for (let i = 0; mqttDevice.received.length === 0 && i < 100; i++) {
    await sdk.publish('cmd/sensor-1', 'calibrate', { props: { responseTopic: 'replies/backend', correlationData: Uint8Array.of(7) } });
    await until(() => mqttDevice.received.length > 0, 'the MQTT subscriber on node a', 200).catch(() => undefined);
  }
  t.equal(mqttDevice.received[0]!.payload.toString(), 'calibrate', 'SDK on b → MQTT on a');
  t.equal(mqttDevice.received[0]!.properties?.responseTopic, 'replies/backend', 'with its properties');
  await sdk.send('sensor-1', 'reboot', { qos: 1, props: { userProperties: [['reason', 'update']] } });
  await until(() => mqttDevice.received.some((m) => m.topic === '$inbox/sensor-1'), 'the inbox message across nodes', 60_000);
  const inboxed = mqttDevice.received.find((m) => m.topic === '$inbox/sensor-1')!;
  t.equal(inboxed.payload.toString(), 'reboot');
  t.same(inboxed.properties?.userProperties, { reason: 'update' }, 'a SEND stored and forwarded across nodes keeps its properties');
  // The RETAIN flag crosses nodes too: a retain-as-published subscriber on a sees it set.
  await mqttDevice.subscribeAsync('state/#', { qos: 1, rap: true, rh: 2 });
  const publisherOnB = await mqttClient(t, `mqtt://127.0.0.1:${b.mqttPort}`, { clientId: 'sensor-2', protocolVersion: 5 });
  const onState = () => mqttDevice.received.filter((m) => m.topic === 'state/sensor-2');
  for (let i = 0; onState().length === 0 && i < 100; i++) {
    await publisherOnB.publishAsync('state/sensor-2', 'online', { qos: 1, retain: true });
    await until(() => onState().length > 0, 'the retain-as-published subscriber on node a', 200).catch(() => undefined);
  }
  t.equal(onState()[0]?.retain, true, 'MQTT on b → MQTT on a, RETAIN as published');
});
