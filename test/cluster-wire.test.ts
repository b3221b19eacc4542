import { Packr } from 'msgpackr';
import t from 'tap';
import { ClusterOptionsError, parsePeerAddress } from '../src/cluster/index.js';
import { resolveClusterOptions } from '../src/cluster/options.js';
import { FrameBatcher } from '../src/cluster/frame-batcher.js';
import { AckStatus, Kind, decodeFrame, decodeFrames, encodeFrame, type Frame } from '../src/cluster/wire.js';

const pack = (v: unknown): Uint8Array => new Packr({ useRecords: false }).pack(v);

t.test('every frame kind survives encode and decode', async (t) => {
  const frames: Frame[] = [
    { kind: Kind.HELLO, version: 1, nodeId: 'a', expect: 'b', nonce: 'n1' },
    { kind: Kind.CHALLENGE, nodeId: 'b', nonce: 'n2' },
    { kind: Kind.PROOF, proof: 'p' },
    { kind: Kind.WELCOME, proof: 'q' },
    { kind: Kind.PING, seq: 7 },
    { kind: Kind.PONG, seq: 7 },
    { kind: Kind.LSA, origin: 'a', seq: Date.now() * 1000, neighbours: [['b', 0.25], ['c', 12]] },
    { kind: Kind.DATA, xid: 3, id: 'm-1', origin: 'a', dest: 'd', hops: ['a', 'b'], channel: 0, payload: new Uint8Array([1, 2, 3]) },
    { kind: Kind.DATA_ACK, xid: 3, status: AckStatus.REJECTED, reason: 'inbox full' },
    { kind: Kind.BCAST, origin: 'a', bid: 'x.1', hops: ['a'], payload: new Uint8Array([9]) },
  ];
  for (const frame of frames) t.same(decodeFrame(encodeFrame(frame)), frame, `kind ${frame.kind}`);
});

t.test('bad input decodes to a reason, never a throw', async (t) => {
  const bad: [string, Uint8Array][] = [
    ['not msgpack', new Uint8Array([0xc1])],
    ['not an array', pack({ kind: 5 })],
    ['unknown kind', pack([99, 1])],
    ['missing field', pack([Kind.PING])],
    ['negative seq', pack([Kind.PING, -1])],
    ['bad node id', pack([Kind.LSA, 'a b', 1, []])],
    ['bad cost', pack([Kind.LSA, 'a', 1, [['b', -1]]])],
    ['NaN cost', pack([Kind.LSA, 'a', 1, [['b', NaN]]])],
    ['payload not bytes', pack([Kind.DATA, 0, 'id', 'a', 'b', ['a'], 0, 'str'])],
    ['bad ack status', pack([Kind.DATA_ACK, 1, 7, ''])],
  ];
  for (const [what, bytes] of bad) t.type(decodeFrame(bytes), 'string', what);
});

t.test('seed peers are written nodeId@host:port', async (t) => {
  t.same(parsePeerAddress('b@127.0.0.2:9101'), { nodeId: 'b', host: '127.0.0.2', port: 9101 });
  t.same(parsePeerAddress('node-7@[::1]:9000'), { nodeId: 'node-7', host: '::1', port: 9000 });
  for (const bad of ['127.0.0.2:9101', 'b@127.0.0.2', 'b@127.0.0.2:0', 'b@127.0.0.2:70000', 'b c@h:1']) {
    t.throws(() => parsePeerAddress(bad), ClusterOptionsError, bad);
  }
});

t.test('options are validated once with every problem named', async (t) => {
  t.throws(() => resolveClusterOptions({ nodeId: 'a', secret: 'short' }), /secret: use at least 16 characters/);
  t.throws(() => resolveClusterOptions({ nodeId: 'a b', secret: 'x'.repeat(16) }), /nodeId/);
  t.throws(() => resolveClusterOptions({ nodeId: 'a', secret: 'x'.repeat(16), heartbeatMs: 500, linkTimeoutMs: 400 }), /linkTimeoutMs must exceed heartbeatMs/);
  t.throws(() => resolveClusterOptions({ nodeId: 'a', secret: 'x'.repeat(16), seeds: ['nonsense'] }), /nodeId@host:port/);
  t.throws(() => resolveClusterOptions({ nodeId: 'a', secret: 'x'.repeat(16), bogus: 1 } as never), /bogus|Unrecognized/);
});

t.test('defaults derive from the heartbeat and refresh periods; a seed naming this node is dropped', async (t) => {
  const o = resolveClusterOptions({ nodeId: 'a', secret: 'x'.repeat(16), heartbeatMs: 200, lsaRefreshMs: 1000, seeds: ['a@127.0.0.1:1', 'b@127.0.0.2:9101'] });
  t.equal(o.linkTimeoutMs, 600);
  t.equal(o.pingTimeoutMs, 400);
  t.equal(o.nodeTimeoutMs, 3000);
  t.same(o.seeds, [{ nodeId: 'b', host: '127.0.0.2', port: 9101 }]);
});

t.test('frames sent in one event-loop turn leave as one batch message, in order', async (t) => {
  const messages: Uint8Array[] = [];
  const batcher = new FrameBatcher((m) => messages.push(m));
  const frames: Frame[] = [1, 2, 3].map((seq) => ({ kind: Kind.PING, seq }));
  for (const f of frames) batcher.push(encodeFrame(f));
  t.equal(messages.length, 0, 'nothing written within the turn');
  await new Promise((r) => setImmediate(r));
  t.equal(messages.length, 1);
  t.same(decodeFrames(messages[0]!), frames);
  batcher.push(encodeFrame({ kind: Kind.PONG, seq: 9 }));
  await new Promise((r) => setImmediate(r));
  t.same(decodeFrame(messages[1]!), { kind: Kind.PONG, seq: 9 }, 'a lone frame goes unwrapped');
});

t.test('a batch inside a batch, or a bad frame inside a batch, is refused', async (t) => {
  const inner = encodeFrame({ kind: Kind.BATCH, frames: [encodeFrame({ kind: Kind.PING, seq: 1 })] });
  t.type(decodeFrames(encodeFrame({ kind: Kind.BATCH, frames: [inner] })), 'string');
  t.type(decodeFrames(encodeFrame({ kind: Kind.BATCH, frames: [new Uint8Array([0xc1])] })), 'string');
});
