import { pino } from 'pino';
import t from 'tap';
import { WebSocket, WebSocketServer } from 'ws';
import { ClusterNode, LOCAL_TIMING } from '../src/cluster/index.js';
import { Kind, LinkClose, decodeFrame, encodeFrame, type Frame } from '../src/cluster/wire.js';
import { until } from './helpers/wait.js';

const SECRET = 'the-right-cluster-secret';

/** A logger whose warnings the test can read. */
function capturingLog() {
  const lines: { msg: string; peer?: string }[] = [];
  return { lines, log: pino({ level: 'warn' }, { write: (s: string) => void lines.push(JSON.parse(s)) }) };
}

async function node(t: { teardown(fn: () => unknown): void }, nodeId: string, options: Partial<Parameters<typeof ClusterNode.start>[0]> = {}) {
  const n = await ClusterNode.start({ ...LOCAL_TIMING, nodeId, host: '127.0.0.1', port: 0, secret: SECRET, log: pino({ level: 'silent' }), ...options });
  t.teardown(() => n.close());
  return n;
}

/** A raw WebSocket to a node's cluster port that the test drives frame by frame. */
async function rawPeer(port: number) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/cluster`);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const frames: Frame[] = [];
  ws.on('message', (data) => frames.push(decodeFrame(data as Buffer) as Frame));
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  return { ws, frames, closed, send: (f: Frame) => ws.send(encodeFrame(f)) };
}

t.test('a peer dialling with the wrong secret is rejected and logged', async (t) => {
  const { lines, log } = capturingLog();
  const a = await node(t, 'a', { log });
  const intruder = await node(t, 'x', { secret: 'not-the-cluster-secret', seeds: [{ nodeId: 'a', host: '127.0.0.1', port: a.port }] });
  await until('a to reject x', () => lines.some((l) => /cluster peer rejected/.test(l.msg)));
  t.same(a.liveNodes(), ['a'], 'x never joined');
  t.same(intruder.liveNodes(), ['x']);
  t.match(lines, [{ msg: /cluster peer rejected/, peer: 'x' }]);
});

t.test('a node dialling a peer with another secret is refused there and logs it', async (t) => {
  const { lines, log } = capturingLog();
  const x = await node(t, 'x', { secret: 'not-the-cluster-secret' });
  const a = await node(t, 'a', { log, seeds: [{ nodeId: 'x', host: '127.0.0.1', port: x.port }] });
  await until('a to log the refusal', () => lines.some((l) => /secrets differ/.test(l.msg)));
  t.same(a.liveNodes(), ['a']);
  t.same(x.liveNodes(), ['x']);
});

t.test('an acceptor that cannot prove the secret is rejected by the dialler', async (t) => {
  const fake = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/cluster' });
  await new Promise((resolve) => fake.once('listening', resolve));
  t.teardown(() => new Promise((resolve) => fake.close(resolve)));
  const closes: number[] = [];
  fake.on('connection', (ws) => {
    ws.on('close', (code) => closes.push(code));
    ws.on('message', (data) => {
      const f = decodeFrame(data as Buffer) as Frame;
      if (f.kind === Kind.HELLO) ws.send(encodeFrame({ kind: Kind.CHALLENGE, nodeId: 'x', nonce: 'n' }));
      if (f.kind === Kind.PROOF) ws.send(encodeFrame({ kind: Kind.WELCOME, proof: 'forged' }));
    });
  });
  const { lines, log } = capturingLog();
  const a = await node(t, 'a', { log, seeds: [{ nodeId: 'x', host: '127.0.0.1', port: (fake.address() as { port: number }).port }] });
  await until('the forged acceptor to be rejected', () => closes.length > 0 && lines.length > 0);
  t.same(a.liveNodes(), ['a']);
  t.ok(closes.includes(LinkClose.BAD_SECRET), 'closed with 4401');
  t.match(lines, [{ msg: /cluster peer rejected/, peer: 'x' }]);
});

t.test('frames before authentication close the socket and change nothing', async (t) => {
  const a = await node(t, 'a');
  const injector = await rawPeer(a.port);
  injector.send({ kind: Kind.LSA, origin: 'evil', seq: Date.now() * 2, neighbours: [['a', 0.01]] });
  t.equal(await injector.closed, LinkClose.PROTOCOL);

  const halfway = await rawPeer(a.port);
  halfway.send({ kind: Kind.HELLO, version: 1, nodeId: 'evil', expect: 'a', nonce: 'n' });
  await until('the challenge', () => halfway.frames.length > 0);
  t.equal(halfway.frames[0]?.kind, Kind.CHALLENGE);
  halfway.send({ kind: Kind.DATA, xid: 0, id: 'i', origin: 'evil', dest: 'a', hops: ['evil'], channel: 0, payload: new Uint8Array() });
  t.equal(await halfway.closed, LinkClose.PROTOCOL);
  t.same(a.snapshot().nodes.map((n) => n.nodeId), ['a'], 'no advertisement was accepted');
});

t.test('a forged proof is rejected with 4401', async (t) => {
  const a = await node(t, 'a');
  const peer = await rawPeer(a.port);
  peer.send({ kind: Kind.HELLO, version: 1, nodeId: 'evil', expect: 'a', nonce: 'n' });
  await until('the challenge', () => peer.frames.length > 0);
  peer.send({ kind: Kind.PROOF, proof: 'guess' });
  t.equal(await peer.closed, LinkClose.BAD_SECRET);
});

t.test('a dialler expecting another node id is turned away', async (t) => {
  const a = await node(t, 'a');
  const peer = await rawPeer(a.port);
  peer.send({ kind: Kind.HELLO, version: 1, nodeId: 'b', expect: 'z', nonce: 'n' });
  t.equal(await peer.closed, LinkClose.WRONG_NODE);
});

t.test('a socket that never finishes the handshake is dropped after the handshake timeout', async (t) => {
  const a = await node(t, 'a', { handshakeTimeoutMs: 200 });
  const peer = await rawPeer(a.port);
  // The test never closes it: the node terminates the socket (no close frame, hence 1006).
  t.equal(await peer.closed, 1006, 'dropped by the node');
});
