import { createServer, connect, type Server, type Socket } from 'node:net';
import t, { type Test } from 'tap';
import { FrameKind } from '../src/index.js';
import { freePort, startTestBroker } from './helpers/broker.js';
import { received, sendQos1, until } from './helpers/frozen-home.js';
import { deviceHomedOn } from './helpers/homes.js';
import { RawClient } from './helpers/raw-client.js';

const SECRET = 'send-before-link-secret-0123456789';

const liveNodes = async (port: number): Promise<number> =>
  ((await (await fetch(`http://127.0.0.1:${port}/cluster`)).json()) as { nodes: { live: boolean }[] }).nodes.filter((n) => n.live).length;

/**
 * A TCP gate on 127.0.0.1 in front of a port: it drops every connection until opened, then
 * relays. B dials A only through it, so the test decides when the two nodes first see each other.
 */
async function gateTo(port: number): Promise<{ port: number; open(): void; close(): Promise<void> }> {
  let open = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((inbound) => {
    if (!open) return void inbound.destroy();
    const outbound = connect(port, '127.0.0.1');
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('error', () => undefined).on('close', () => [inbound, outbound].forEach((x) => x.destroy()));
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: gatePort } = server.address() as { port: number };
  return {
    port: gatePort,
    open: () => void (open = true),
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * a and b, each alone at first: b dials a through a closed gate. The sender on a sends QoS 1 to
 * `target` before a has seen b (so a, alone on its ring, is the target's home and stores it).
 */
async function sendBeforeLink(t: Test, target: string, deviceConnects: 'before the link' | 'after the link') {
  const aPort = await freePort();
  const gate = await gateTo(aPort);
  t.teardown(() => gate.close());
  const a = await startTestBroker(t, { nodeId: 'a', cluster: { host: '127.0.0.1', port: aPort, secret: SECRET, peers: [] } });
  const b = await startTestBroker(t, { nodeId: 'b', cluster: { host: '127.0.0.1', port: await freePort(), secret: SECRET, peers: [`a@127.0.0.1:${gate.port}`] } });
  const sender = await RawClient.connect(a.url, 'dispatch');
  t.teardown(() => sender.close());
  let device: RawClient | undefined;
  if (deviceConnects === 'before the link') device = await RawClient.connect(b.url, target);

  t.equal(await liveNodes(a.port), 1, 'a sees only itself');
  t.match(await sendQos1(sender, target, 'reboot'), { kind: FrameKind.OK }, 'a stored the SEND (as the home of a one-node ring)');

  gate.open();
  await until('a and b to see each other', async () => (await liveNodes(a.port)) === 2 && (await liveNodes(b.port)) === 2);
  device ??= await RawClient.connect(b.url, target);
  t.teardown(() => device.close());
  t.ok(await received(device, 'reboot'), 'the message reached the device on b');
}

for (const home of ['a', 'b']) {
  for (const when of ['before the link', 'after the link'] as const) {
    t.test(`a SEND stored while a saw only itself reaches the device on b (connected ${when}; home ${home} once both see each other)`, async (t) => {
      await sendBeforeLink(t, deviceHomedOn(['a', 'b'], home, home === 'a' ? 'b' : 'a', `probe-${home}`), when);
    });
  }
}
