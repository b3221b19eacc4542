import { createServer, connect, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import t from 'tap';
import { ClusterNode, LOCAL_TIMING, waitFor, type ClusterMessage } from '../src/cluster/index.js';
import { isLoopbackHost } from '../src/cluster/link-tls.js';
import { FrameKind } from '../src/index.js';
import { freePort, startTestBroker } from './helpers/broker.js';
import { createTestCa } from '../kit/test-ca.js';
import { RawClient } from './helpers/raw-client.js';
import { until } from './helpers/until.js';

const SECRET = 'tls-cluster-secret-0123456789';
const clusterCa = createTestCa('relaymesh-cluster-ca');
const rogueCa = createTestCa('rogue-ca');

/** A pino logger whose records the test can read. */
function capturingLog() {
  const records: { msg: string; err?: string }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) records.push(JSON.parse(line) as { msg: string; err?: string });
      done();
    },
  });
  return { log: pino({ level: 'debug' }, stream), records };
}

type Options = Parameters<typeof ClusterNode.start<string>>[0];

async function startNode(t: { teardown(fn: () => unknown): void }, options: Partial<Options> & { nodeId: string }) {
  const node = await ClusterNode.start<string>({ ...LOCAL_TIMING, port: 0, secret: SECRET, log: pino({ level: 'silent' }), ...options });
  t.teardown(() => node.close());
  return node;
}

/** A TCP relay in front of `port` that keeps every byte it carries, both ways: a capture of the link. */
async function capturingRelay(t: { teardown(fn: () => unknown): void }, port: number): Promise<{ port: number; captured: () => Buffer }> {
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((inbound) => {
    const outbound = connect(port, '127.0.0.1');
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    inbound.on('data', (d: Buffer) => (chunks.push(d), outbound.write(d)));
    outbound.on('data', (d: Buffer) => (chunks.push(d), inbound.write(d)));
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { port: (server.address() as { port: number }).port, captured: () => Buffer.concat(chunks) };
}

/**
 * Links a to b through a capturing relay, sends `marker` reliably both ways, and returns what
 * crossed the wire. (The dialer's WebSocket frames are masked, so only b → a shows a plaintext
 * payload as is: that direction is the control.)
 */
async function captureMarker(t: { teardown(fn: () => unknown): void }, tlsFor: (id: string) => Partial<Options>, marker: string): Promise<Buffer> {
  const received: string[] = [];
  const onMessage = (m: ClusterMessage<string>) => void received.push(`${m.origin}:${m.payload}`);
  const b = await startNode(t, { nodeId: 'b', ...tlsFor('b'), onMessage });
  const relay = await capturingRelay(t, b.port);
  const a = await startNode(t, { nodeId: 'a', ...tlsFor('a'), seeds: [`b@127.0.0.1:${relay.port}`], onMessage });
  await waitFor(() => a.liveNodes().join() === 'a,b' && b.liveNodes().join() === 'a,b', 10_000, 'a to link with b through the relay');
  await a.sendTo('b', marker, { reliable: true });
  await b.sendTo('a', marker, { reliable: true });
  if (received.sort().join() !== `a:${marker},b:${marker}`) throw new Error(`the markers did not arrive: ${received.join()}`);
  return relay.captured();
}

const tlsOf = (ca: typeof clusterCa, id: string, trust = ca) => {
  const { key, cert } = ca.issue(id);
  return { tls: { key, cert, ca: trust.ca } };
};

t.test('brokers link over TLS with certificates of the cluster CA and route a SEND', async (t) => {
  const [pa, pb] = [await freePort(), await freePort()];
  const files = (id: string) => {
    const { keyFile, certFile } = clusterCa.issue(id);
    return { keyFile, certFile, caFile: clusterCa.caFile };
  };
  const a = await startTestBroker(t, { nodeId: 'a', cluster: { host: '127.0.0.1', port: pa, secret: SECRET, peers: [`b@127.0.0.1:${pb}`], tls: files('a') } });
  const b = await startTestBroker(t, { nodeId: 'b', cluster: { host: '127.0.0.1', port: pb, secret: SECRET, tls: files('b') } });
  const target = await RawClient.connect(b.url, 'pump-3');
  const sender = await RawClient.connect(a.url, 'ops');
  t.teardown(() => [target, sender].forEach((c) => c.close()));
  await until('a SEND to cross the TLS link', async () => {
    const ok = await sender.request({ kind: FrameKind.SEND, seq: sender.nextSeq(), target: 'pump-3', payload: Buffer.from('over tls'), qos: 1 });
    return ok.kind === FrameKind.OK && (await target.waitFor((f) => f.kind === FrameKind.MSG, 1000).catch(() => undefined)) !== undefined;
  });
  t.pass('delivered across the TLS link');
});

t.test('a node with a certificate from another CA is refused, dialling and dialled', async (t) => {
  const a = capturingLog();
  const nodeA = await startNode(t, { nodeId: 'a', ...tlsOf(clusterCa, 'a'), log: a.log });
  // r trusts the cluster CA (so only the other side's check can refuse) but shows a rogue certificate.
  const nodeR = await startNode(t, { nodeId: 'r', ...tlsOf(rogueCa, 'r', clusterCa), seeds: [`a@127.0.0.1:${nodeA.port}`] });
  await waitFor(() => a.records.some((r) => r.msg === 'cluster TLS handshake refused'), 10_000, "a's listener to refuse r's certificate");
  const a2 = capturingLog();
  const nodeA2 = await startNode(t, { nodeId: 'a2', ...tlsOf(clusterCa, 'a2'), seeds: [`r@127.0.0.1:${nodeR.port}`], log: a2.log });
  await waitFor(() => a2.records.some((r) => r.msg === 'cluster dial failed' && /certificate/i.test(r.err ?? '')), 10_000, "a2's dialer to refuse r's certificate");
  t.same(nodeA2.liveNodes(), ['a2'], 'a2 never linked to r');
  t.same(nodeA.liveNodes(), ['a'], 'a never admitted r');
  t.same(nodeR.liveNodes(), ['r']);
});

t.test('a TLS link carries no plaintext payload bytes (a plaintext one does)', async (t) => {
  const marker = 'PLAINTEXT-MARKER-7f3a9c';
  const plain = await captureMarker(t, () => ({}), marker);
  t.ok(plain.includes(marker), 'the capture sees a plaintext link');
  const encrypted = await captureMarker(t, (id) => tlsOf(clusterCa, `${id}-tls`), marker);
  t.ok(encrypted.length > 0, 'the TLS link carried bytes');
  t.notOk(encrypted.includes(marker), 'no payload bytes in the clear');
  t.notOk(encrypted.includes('relaymesh-cluster'), 'no handshake strings in the clear');
});

t.test('plaintext links warn only off loopback', async (t) => {
  t.ok(isLoopbackHost('127.0.0.1'));
  t.ok(isLoopbackHost('127.0.0.5'));
  t.ok(isLoopbackHost('::1'));
  t.ok(isLoopbackHost('localhost'));
  t.notOk(isLoopbackHost('0.0.0.0'));
  t.notOk(isLoopbackHost('10.1.2.3'));
  t.notOk(isLoopbackHost('::'));
  const { log, records } = capturingLog();
  await startNode(t, { nodeId: 'a', host: '127.0.0.1', log });
  t.notOk(records.some((r) => /plaintext/.test(r.msg)), 'no warning on loopback');
});
