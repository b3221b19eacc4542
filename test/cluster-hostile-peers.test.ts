/**
 * Hostile input on the cluster port: arbitrary bytes and arbitrary msgpack from a peer, before
 * and after the handshake, on the listening and on the dialling side. The node must close the
 * offending socket (any close reason fitting a close frame) and stay up, and it must keep
 * routing between its real peers. Replay a failure with FUZZ_SEED=<seed>.
 */
import t from 'tap';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { pack } from 'msgpackr';
import { pino } from 'pino';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { ClusterNode, LOCAL_TIMING, waitFor, type ClusterMessage } from '../src/cluster/index.js';
import { proofOf } from '../src/cluster/handshake.js';
import { CLUSTER_PROTOCOL_VERSION, Kind, decodeFrame, encodeFrame, type Frame } from '../src/cluster/wire.js';
import { MAX_CLOSE_REASON_BYTES, closeReason } from '../src/protocol/index.js';
import { startBrokerProcess } from '../kit/broker-process.js';
import { freePort } from './helpers/broker.js';

const SECRET = 'hostile-peers-cluster-secret';
const SEEDED = process.env.FUZZ_SEED === undefined ? {} : { seed: Number(process.env.FUZZ_SEED) };
/** Longest wait for one socket's outcome; the node's own handshake timeout ends most sooner. */
const OUTCOME_MS = 15_000;

/** What a hostile peer sends: raw bytes, any msgpack value, frame-shaped arrays, over-long kinds and ids. */
const garbage: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 256 }),
  fc.anything({ maxDepth: 3 }).map((value) => pack(value)),
  fc
    .tuple(fc.oneof(fc.integer({ min: -2, max: 16 }), fc.string({ maxLength: 300 })), fc.array(fc.anything({ maxDepth: 2 }), { maxLength: 8 }))
    .map(([kind, fields]) => pack([kind, ...fields])),
  fc.string({ minLength: 100, maxLength: 400 }).map((kind) => pack([kind])),
  fc.tuple(fc.constantFrom(Kind.HELLO, Kind.CHALLENGE, Kind.LSA), fc.string({ minLength: 60, maxLength: 64 })).map(([kind, id]) =>
    pack([kind, 1, id.replace(/[^A-Za-z0-9._-]/g, 'x'), id.replace(/[^A-Za-z0-9._-]/g, 'y'), 'n']),
  ),
);

interface Outcome {
  closed: boolean;
  code: number;
  reason: Buffer;
}

/** Resolves when the socket closes, or when `until` says a frame proved it is still open. */
function outcome(ws: WebSocket, until: (frame: Frame) => boolean = () => false): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no outcome: the node neither closed the socket nor answered')), OUTCOME_MS);
    const done = (o: Outcome): void => {
      clearTimeout(timer);
      resolve(o);
    };
    ws.once('close', (code, reason) => done({ closed: true, code, reason }));
    ws.on('message', (data: RawData) => {
      const frame = decodeFrame(data as Buffer);
      if (typeof frame !== 'string' && until(frame)) done({ closed: false, code: 0, reason: Buffer.alloc(0) });
    });
  });
}

function assertCloseFits(o: Outcome): void {
  if (o.closed) assert.ok(o.reason.byteLength <= MAX_CLOSE_REASON_BYTES, `close reason of ${o.reason.byteLength} bytes`);
}

async function open(port: number): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/cluster`);
  ws.on('error', () => undefined);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  return ws;
}

/** A PING whose PONG proves every frame sent before it was handled without closing the link. */
const PROBE_SEQ = 987_654_321;
const probe = (ws: WebSocket): void => ws.send(encodeFrame({ kind: Kind.PING, seq: PROBE_SEQ }));
const isProbeAnswer = (f: Frame): boolean => f.kind === Kind.PONG && f.seq === PROBE_SEQ;

/** Dials `target` as node `self` and completes the handshake with the real secret. */
async function authenticatedPeer(port: number, self: string, target: string): Promise<WebSocket> {
  const ws = await open(port);
  const nonce = 'dialer-nonce';
  const welcomed = new Promise<void>((resolve, reject) => {
    ws.on('message', function step(data: RawData) {
      const frame = decodeFrame(data as Buffer);
      if (typeof frame === 'string') return reject(new Error(frame));
      if (frame.kind === Kind.CHALLENGE) ws.send(encodeFrame({ kind: Kind.PROOF, proof: proofOf(SECRET, 'dialer', self, target, nonce, frame.nonce) }));
      if (frame.kind === Kind.WELCOME) {
        ws.off('message', step);
        resolve();
      }
    });
    ws.once('close', (code) => reject(new Error(`closed during the handshake: ${code}`)));
  });
  ws.send(encodeFrame({ kind: Kind.HELLO, version: CLUSTER_PROTOCOL_VERSION, nodeId: self, expect: target, nonce }));
  await welcomed;
  return ws;
}

/**
 * A fake node the real one dials. For each connection it answers the dialler's HELLO with the
 * next queued script: garbage at once, or a correct handshake followed by garbage.
 */
class HostileAcceptor {
  readonly server = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/cluster' });
  private readonly waiting: ((ws: WebSocket, hello: Frame & { kind: typeof Kind.HELLO }) => void)[] = [];

  async listen(): Promise<number> {
    await new Promise((resolve) => this.server.once('listening', resolve));
    this.server.on('connection', (ws) => {
      ws.on('error', () => undefined);
      ws.once('message', (data: RawData) => {
        const hello = decodeFrame(data as Buffer);
        const next = this.waiting.shift();
        if (typeof hello === 'string' || hello.kind !== Kind.HELLO || !next) return ws.terminate();
        next(ws, hello);
      });
    });
    return (this.server.address() as { port: number }).port;
  }

  /** The next dial from the node, up to its HELLO. */
  nextDial(): Promise<{ ws: WebSocket; hello: Frame & { kind: typeof Kind.HELLO } }> {
    return new Promise((resolve) => this.waiting.push((ws, hello) => resolve({ ws, hello })));
  }

  close(): Promise<void> {
    for (const ws of this.server.clients) ws.terminate();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

t.test('the reported frame (a 200-character kind) closes that socket; the broker process lives on', async (t) => {
  const [port, clusterPort] = [await freePort(), await freePort()];
  const broker = await startBrokerProcess(port, mkdtempSync(join(tmpdir(), 'relaymesh-hostile-')), [
    '--node-id', 'n1', '--cluster-port', String(clusterPort), '--cluster-secret', SECRET,
  ]);
  t.teardown(() => {
    broker.child.kill('SIGKILL');
  });
  const ws = await open(clusterPort);
  const closed = outcome(ws);
  ws.send(pack(['A'.repeat(200)]));
  const o = await closed;
  t.equal(o.code, 4400, 'closed as a protocol violation');
  t.ok(o.reason.byteLength <= MAX_CLOSE_REASON_BYTES, 'with a reason that fits a close frame');

  // Many sockets of random garbage at once.
  const floods = await Promise.all(Array.from({ length: 40 }, () => open(clusterPort)));
  const ends = floods.map((f) => outcome(f));
  for (const f of floods) f.send(fc.sample(fc.uint8Array({ minLength: 32, maxLength: 32 }), 1)[0]!);
  for (const o of await Promise.all(ends)) assertCloseFits(o);

  const health = await fetch(`http://127.0.0.1:${port}/healthz`);
  t.equal(health.status, 200, 'still serving');
  t.equal(broker.child.exitCode, null, 'the process did not exit');
});

t.test('arbitrary input from any peer closes only that socket; the node keeps routing', async (t) => {
  const received: ClusterMessage[] = [];
  const log = pino({ level: 'silent' });
  const start = (nodeId: string, seeds: { nodeId: string; host: string; port: number }[] = []) =>
    ClusterNode.start({ ...LOCAL_TIMING, nodeId, host: '127.0.0.1', port: 0, secret: SECRET, log, seeds, onMessage: (m) => void received.push(m) });
  const hostile = new HostileAcceptor();
  const hostilePort = await hostile.listen();
  t.teardown(() => hostile.close());
  // The node under attack dials the hostile acceptor as "hx" and has a real peer "relay-b".
  const a = await start('relay-a', [{ nodeId: 'hx', host: '127.0.0.1', port: hostilePort }]);
  t.teardown(() => a.close());
  const b = await start('relay-b', [{ nodeId: 'relay-a', host: '127.0.0.1', port: a.port }]);
  t.teardown(() => b.close());
  await waitFor(() => a.liveNodes().includes('relay-b'), 20_000, 'relay-a to see relay-b');

  await t.test('listening side, before the handshake', async () => {
    await fc.assert(
      fc.asyncProperty(garbage, async (bytes) => {
        const ws = await open(a.port);
        const end = outcome(ws, (f) => f.kind === Kind.CHALLENGE);
        ws.send(bytes);
        assertCloseFits(await end);
        ws.terminate();
      }),
      { numRuns: 150, ...SEEDED },
    );
  });

  await t.test('listening side, after the handshake', async () => {
    await fc.assert(
      fc.asyncProperty(garbage, async (bytes) => {
        const ws = await authenticatedPeer(a.port, 'hz', 'relay-a');
        const end = outcome(ws, isProbeAnswer);
        ws.send(bytes);
        probe(ws);
        assertCloseFits(await end);
        ws.terminate();
      }),
      { numRuns: 100, ...SEEDED },
    );
  });

  await t.test('dialling side, before the handshake', async () => {
    await fc.assert(
      fc.asyncProperty(garbage, async (bytes) => {
        const { ws } = await hostile.nextDial();
        const end = outcome(ws, (f) => f.kind === Kind.PROOF);
        ws.send(bytes);
        assertCloseFits(await end);
        ws.terminate();
      }),
      { numRuns: 40, ...SEEDED },
    );
  });

  await t.test('dialling side, after the handshake', async () => {
    await fc.assert(
      fc.asyncProperty(garbage, async (bytes) => {
        const { ws, hello } = await hostile.nextDial();
        const nonce = 'acceptor-nonce';
        const end = outcome(ws, isProbeAnswer);
        ws.once('message', () => {
          // The PROOF: answer it with a WELCOME the dialler accepts, then the garbage.
          ws.send(encodeFrame({ kind: Kind.WELCOME, proof: proofOf(SECRET, 'acceptor', hello.nodeId, 'hx', hello.nonce, nonce) }));
          ws.send(bytes);
          probe(ws);
        });
        ws.send(encodeFrame({ kind: Kind.CHALLENGE, nodeId: 'hx', nonce }));
        assertCloseFits(await end);
        ws.terminate();
      }),
      { numRuns: 40, ...SEEDED },
    );
  });

  await waitFor(() => a.liveNodes().includes('relay-b'), 20_000, 'relay-a to see relay-b');
  await a.sendTo('relay-b', { after: 'fuzz' }, { reliable: true });
  t.ok(received.some((m) => m.origin === 'relay-a' && (m.payload as { after?: string }).after === 'fuzz'), 'a reliable message still reaches the real peer');
  t.equal(a.socketFaults, 0, 'no socket handler threw');
});

t.test('close reasons are cut to 123 bytes of whole UTF-8 characters', async (t) => {
  t.equal(closeReason('short'), 'short');
  t.equal(Buffer.byteLength(closeReason('A'.repeat(200))), MAX_CLOSE_REASON_BYTES);
  const emoji = closeReason('😀'.repeat(40));
  t.equal(Buffer.byteLength(emoji), 120, 'four-byte characters are never split');
  t.equal(emoji, '😀'.repeat(30));
  t.equal(closeReason('é'.repeat(100)), 'é'.repeat(61), 'two-byte characters: 122 bytes');
  t.equal(closeReason('a\uD800b'), 'a\uFFFDb', 'a lone surrogate becomes U+FFFD');
});
